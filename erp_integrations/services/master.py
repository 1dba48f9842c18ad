"""Jobs, vendors and cost codes: add to the platform, link, export, reject, unlink, archive.

Master data is what every export depends on: a commitment goes to the ERP only once its
project's job and its vendor are linked. Each action works on one master kind (see
``master_kinds``), on the ERP's side (an ``ErpMasterEntry`` the sync brought in) or on
the platform's (a project, a directory company, a cost code):

* **Add to the platform** makes a platform record from an ERP entry and links them.
* **Link** ties an ERP entry to a platform record that exists already; **Link All**
  links every entry whose name matches exactly one platform record's (ignoring case).
* **Export** creates the platform record in the ERP with the id the approver gives,
  after checking it against the ERP's format and for uniqueness, and links them.
* **Reject** (with a reason) takes a record off Ready to Export; **Archive** hides an
  ERP entry that should never come in; **Update** takes the ERP's changed name.
* **Unlink**: the rule every link follows, deleted in the ERP and then a completed sync.

Every action needs ``Action.MASTER_DATA`` (the permission module says what). A link is
an ``ErpLink`` and the record's copy of its ERP id, written together under the record's
row lock; the ERP is called outside any transaction, under a per-record claim, and a
failing ERP leaves the record unlinked with the ERP's words in Failed to Export.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Company
from accounts.permissions import Action, CompanyAccess, NotFound
from erp_integrations import locks
from erp_integrations.connectors import ErpError, ErpTimeout, get_connector
from erp_integrations.kinds import KINDS
from erp_integrations.master_kinds import MasterKind
from erp_integrations.models import (
    AuditEntry,
    ErpConnection,
    ErpLink,
    ErpMasterEntry,
    MasterExportState,
    company_erp_connection,
)
from erp_integrations.services.audit import audit_master_record
from erp_integrations.services.links import link_open
from erp_integrations.services.results import ActionResult, Outcome

MAX_REASON = 1000
#: Links Link All makes per click; the list says how many are left.
LINK_ALL_LIMIT = 500
#: Synced records named (and linked) when they keep a vendor or job from being unlinked.
UNLINK_BLOCKERS_NAMED = 5


@dataclass(frozen=True)
class RowResult:
    """What Link All did with one ERP entry: linked to a record, or why not."""

    entry: ErpMasterEntry
    record: object | None
    result: ActionResult


# --- shared ---------------------------------------------------------------------------
def _access(user, company: Company, access: CompanyAccess | None) -> CompanyAccess:
    access = CompanyAccess.reuse_or_load(access, user, company)
    if not access.is_member:
        raise NotFound("No such company.")
    access.require(Action.MASTER_DATA)
    return access


def _connection(company: Company) -> ErpConnection | None:
    connection = company_erp_connection(company)
    return connection if connection is not None and connection.is_active else None


def _no_connection(kind: MasterKind) -> ActionResult:
    return ActionResult.conflict(f"This company has no active ERP connection for its {kind.nouns}.")


def master_entry_for_company(*, kind: MasterKind, company_id: int, entry_id: int) -> ErpMasterEntry:
    entry = ErpMasterEntry.objects.filter(company_id=company_id, kind=kind.slug, pk=entry_id).first()
    if entry is None:
        raise NotFound(f"No ERP {kind.erp_noun} with id {entry_id} in this company.")
    return entry


def master_record_for_company(*, kind: MasterKind, company_id: int, record_id: int):
    record = kind.records(company_id).filter(pk=record_id).first()
    if record is None:
        raise NotFound(f"No {kind.noun} with id {record_id} in this company.")
    return record


def _live_link(kind: MasterKind, company_id: int, erp_id: str):
    return ErpLink.objects.filter(
        company_id=company_id, kind=kind.slug, erp_id=erp_id, unlinked_at__isnull=True
    )


def _erp_name(company: Company) -> str:
    connection = company_erp_connection(company)
    return connection.erp_name if connection else "the ERP"


def _link_locked(kind: MasterKind, record, *, erp_id: str, user) -> ErpLink:
    """Link a record (locked by the caller) to ``erp_id``: the link and the record's copy."""
    link = link_open(kind=kind, record=record, erp_id=erp_id, linked_by=user)
    kind.model.objects.filter(pk=record.pk).update(**{kind.erp_id_field: erp_id})
    setattr(record, kind.erp_id_field, erp_id)
    MasterExportState.objects.filter(kind=kind.slug, record_id=record.pk).delete()
    return link


def _link(kind: MasterKind, *, company: Company, entry: ErpMasterEntry, record_id: int, user) -> ActionResult:
    """Link the entry to the record, in one transaction with the record's row locked."""
    erp = _erp_name(company)
    try:
        with transaction.atomic():
            record = kind.records(company.pk).select_for_update().filter(pk=record_id).first()
            if record is None:
                raise NotFound(f"No {kind.noun} with id {record_id} in this company.")
            linked_to = kind.erp_id_of(record)
            if linked_to:
                return ActionResult.conflict(
                    f"{kind.label(record)} is already linked to {kind.erp_noun} {linked_to} in {erp}.", record
                )
            if _live_link(kind, company.pk, entry.erp_id).exists():
                return ActionResult.conflict(
                    f"{kind.erp_noun.capitalize()} {entry.erp_id} is already linked to another {kind.noun}.",
                    record,
                )
            _link_locked(kind, record, erp_id=entry.erp_id, user=user)
            message = (
                f"{kind.label(record)} is linked to {kind.erp_noun} {entry.erp_id} ({entry.name}) in {erp}."
            )
            audit_master_record(
                kind=kind,
                user=user,
                action=AuditEntry.Action.LINK,
                record_id=record.pk,
                name=kind.name_of(record),
                company=company,
                erp_id=entry.erp_id,
                outcome=AuditEntry.Outcome.SUCCESS,
                message=message,
            )
    except IntegrityError:
        # A link made meanwhile by someone else holds the ERP id or the record.
        return ActionResult.conflict(
            f"{kind.erp_noun.capitalize()} {entry.erp_id} was linked meanwhile; reload."
        )
    return ActionResult.success(message, record)


# --- the ERP's side: add to the platform, link, link all, archive ------------------------
def master_entry_import(
    *,
    kind: MasterKind,
    user,
    company: Company,
    entry_id: int,
    template_id: int | None = None,
    access: CompanyAccess | None = None,
) -> ActionResult:
    """Add the ERP's job, vendor or cost code to the platform and link them.

    A job becomes a project (``template_id``: a project whose team the new one gets), a
    vendor a company in the directory, a cost code one of the company's standard list.
    """
    _access(user, company, access)
    entry = master_entry_for_company(kind=kind, company_id=company.pk, entry_id=entry_id)
    template = None
    if template_id is not None and kind.template_of is not None:
        template = kind.template_of(company.pk, template_id)
        if template is None:
            raise NotFound(f"No template with id {template_id} in this company.")
    erp = _erp_name(company)
    try:
        with transaction.atomic():
            entry = ErpMasterEntry.objects.select_for_update().filter(pk=entry.pk).first()
            if entry is None:
                return ActionResult.conflict(f"The {kind.erp_noun} is no longer in {erp}.")
            if _live_link(kind, company.pk, entry.erp_id).exists():
                return ActionResult.conflict(
                    f"{kind.erp_noun.capitalize()} {entry.erp_id} is already linked to a {kind.noun}."
                )
            clash = kind.records(company.pk).filter(**kind.clash_lookup(entry)).first()
            if clash is not None:
                return ActionResult.conflict(
                    f"{kind.label(clash)} is already in the platform; link it to "
                    f"{kind.erp_noun} {entry.erp_id} instead of adding another.",
                    clash,
                )
            record = kind.from_entry(company, entry)
            # The copy is written by the link below, with the link.
            setattr(record, kind.erp_id_field, None)
            record.save()
            if template is not None:
                kind.apply_template(record, template)
            _link_locked(kind, record, erp_id=entry.erp_id, user=user)
            message = (
                f"{kind.label(record)} was added to the platform from {erp} and linked to {entry.erp_id}."
            )
            audit_master_record(
                kind=kind,
                user=user,
                action=AuditEntry.Action.IMPORT,
                record_id=record.pk,
                name=kind.name_of(record),
                company=company,
                erp_id=entry.erp_id,
                outcome=AuditEntry.Outcome.SUCCESS,
                message=message,
            )
    except IntegrityError:
        return ActionResult.conflict(
            f"{kind.erp_noun.capitalize()} {entry.erp_id} was added or linked meanwhile; reload the page."
        )
    return ActionResult.success(message, record)


def master_entry_link(
    *,
    kind: MasterKind,
    user,
    company: Company,
    entry_id: int,
    record_id: int,
    access: CompanyAccess | None = None,
) -> ActionResult:
    """Link the ERP's job, vendor or cost code to a platform record that already exists."""
    _access(user, company, access)
    entry = master_entry_for_company(kind=kind, company_id=company.pk, entry_id=entry_id)
    master_record_for_company(kind=kind, company_id=company.pk, record_id=record_id)
    return _link(kind, company=company, entry=entry, record_id=record_id, user=user)


def master_link_all(
    *, kind: MasterKind, user, company: Company, access: CompanyAccess | None = None
) -> list[RowResult]:
    """Link every ERP entry whose name matches one unlinked platform record's, ignoring case.

    An entry whose name matches several records (or a record several entries) is left
    alone, and its row says why. At most ``LINK_ALL_LIMIT`` per call.
    """
    _access(user, company, access)
    from erp_integrations.selectors import master_exact_pairs

    results = []
    for entry, records in master_exact_pairs(kind=kind, company_id=company.pk, limit=LINK_ALL_LIMIT):
        if len(records) != 1:
            names = ", ".join(kind.name_of(record) for record in records[:3])
            result = ActionResult.conflict(
                f"Not linked: {len(records)} {kind.nouns} have this name ({names}); link one by hand."
            )
            results.append(RowResult(entry, None, result))
            continue
        result = _link(kind, company=company, entry=entry, record_id=records[0].pk, user=user)
        results.append(RowResult(entry, records[0], result))
    return results


def master_entry_archive(
    *, kind: MasterKind, user, company: Company, entry_id: int, access: CompanyAccess | None = None
) -> ActionResult:
    """Hide an ERP entry that should never come in from Ready to Import."""
    _access(user, company, access)
    entry = master_entry_for_company(kind=kind, company_id=company.pk, entry_id=entry_id)
    with transaction.atomic():
        changed = ErpMasterEntry.objects.filter(pk=entry.pk, archived_at__isnull=True).update(
            archived_at=timezone.now(), archived_by=user
        )
        if changed:
            audit_master_record(
                kind=kind,
                user=user,
                action=AuditEntry.Action.ARCHIVE,
                record_id=entry.pk,
                name=entry.name,
                company=company,
                erp_id=entry.erp_id,
                outcome=AuditEntry.Outcome.SUCCESS,
            )
    if not changed:
        return ActionResult.conflict(f"{kind.erp_noun.capitalize()} {entry.erp_id} is archived already.")
    return ActionResult.success(
        f"{kind.erp_noun.capitalize()} {entry.erp_id} ({entry.name}) is archived: it will not be offered "
        "for import again."
    )


# --- the platform's side: export, reject, unlink, update ------------------------------------
def master_record_export(
    *,
    kind: MasterKind,
    user,
    company: Company,
    record_id: int,
    values: dict,
    access: CompanyAccess | None = None,
) -> ActionResult:
    """Create the platform record in the ERP with the id the approver gives, and link them.

    The id (and a vendor's type) is checked against the ERP's format and for uniqueness
    before the ERP is called; an ERP that refuses or fails leaves the record unlinked,
    in Failed to Export with the ERP's words.
    """
    _access(user, company, access)
    record = master_record_for_company(kind=kind, company_id=company.pk, record_id=record_id)
    connection = _connection(company)
    if connection is None:
        return _no_connection(kind)
    erp = connection.erp_name
    label = kind.label(record)
    if kind.erp_id_of(record):
        return ActionResult.conflict(
            f"{label} is already linked to {kind.erp_id_of(record)} in {erp}.", record
        )

    connector = get_connector(connection.erp_system)
    sent = kind.export_values(record, values)
    try:
        problems = getattr(connector, kind.connector_validate)(sent)
    except ErpError as exc:
        return _export_failed(kind, record, user=user, company=company, error=str(exc), erp=erp)
    if problems:
        text = " ".join(f"{p.field.capitalize()}: {p.message}" for p in problems)
        return ActionResult.invalid(f"{label} cannot be exported to {erp}. {text}", record)
    erp_id = kind.erp_id_from_values(sent)
    holder = ErpMasterEntry.objects.filter(company=company, kind=kind.slug, erp_id=erp_id).first()
    if holder is not None or _live_link(kind, company.pk, erp_id).exists():
        known = f" ({holder.name})" if holder is not None else ""
        return ActionResult.invalid(
            f"{label} cannot be exported: {erp} already has {kind.erp_noun} {erp_id}{known}. "
            f"Choose another id, or link {kind.noun} to it from Ready to Import.",
            record,
        )

    with locks.try_claim(kind.lock_namespace, record.pk) as claimed:
        if not claimed:
            return ActionResult.conflict(f"An export of this {kind.noun} is already in progress.", record)
        # The ERP call: outside any transaction of ours, under the claim only.
        try:
            made = connector.master_export(kind.slug, reference=f"{kind.slug}-{record.pk}", values=sent)
        except ErpError as exc:
            error = str(exc)
            if isinstance(exc, ErpTimeout):
                error += f" {erp} may have received it; exporting again is safe."
            return _export_failed(kind, record, user=user, company=company, error=error, erp=erp)
        try:
            with transaction.atomic():
                locked = kind.records(company.pk).select_for_update().filter(pk=record.pk).first()
                if locked is None or kind.erp_id_of(locked):
                    return ActionResult.conflict(f"{label} was linked or deleted meanwhile; nothing changed.")
                _link_locked(kind, locked, erp_id=made, user=user)
                ErpMasterEntry.objects.update_or_create(
                    company=company,
                    kind=kind.slug,
                    erp_id=made,
                    defaults={
                        "name": kind.name_of(locked),
                        "attrs": kind.entry_attrs(sent),
                        "seen_at": timezone.now(),
                    },
                )
                message = f"Exported to {erp} as {kind.erp_noun} {made}."
                audit_master_record(
                    kind=kind,
                    user=user,
                    action=AuditEntry.Action.EXPORT,
                    record_id=locked.pk,
                    name=kind.name_of(locked),
                    company=company,
                    erp_id=made,
                    outcome=AuditEntry.Outcome.SUCCESS,
                    message=message,
                )
        except IntegrityError:
            return ActionResult.conflict(f"{kind.erp_noun.capitalize()} {made} was linked meanwhile; reload.")
    return ActionResult.success(message, locked)


def _export_failed(kind: MasterKind, record, *, user, company: Company, error: str, erp: str) -> ActionResult:
    message = f"Export to {erp} failed: {error}"
    with transaction.atomic():
        _set_state(
            kind, record, company=company, state=MasterExportState.State.FAILED, message=error, user=user
        )
        audit_master_record(
            kind=kind,
            user=user,
            action=AuditEntry.Action.EXPORT,
            record_id=record.pk,
            name=kind.name_of(record),
            company=company,
            erp_id="",
            outcome=AuditEntry.Outcome.FAILED,
            message=message,
        )
    return ActionResult(False, message, Outcome.ERP_FAILED, record)


def _set_state(kind: MasterKind, record, *, company: Company, state: str, message: str, user) -> None:
    MasterExportState.objects.update_or_create(
        kind=kind.slug,
        record_id=record.pk,
        defaults={
            "company": company,
            "state": state,
            "message": message,
            "changed_by": user,
            "changed_at": timezone.now(),
        },
    )


def master_record_reject(
    *,
    kind: MasterKind,
    user,
    company: Company,
    record_id: int,
    reason: str,
    access: CompanyAccess | None = None,
) -> ActionResult:
    """Take an unlinked record off Ready to Export, with the reason."""
    _access(user, company, access)
    reason = (reason or "").strip()
    with transaction.atomic():
        record = kind.records(company.pk).select_for_update().filter(pk=record_id).first()
        if record is None:
            raise NotFound(f"No {kind.noun} with id {record_id} in this company.")
        label = kind.label(record)
        if not reason:
            return ActionResult.invalid(f"Please give a reason for rejecting {label}.", record)
        if len(reason) > MAX_REASON:
            return ActionResult.invalid(
                f"The reason must be at most {MAX_REASON} characters (it has {len(reason)}).", record
            )
        if kind.erp_id_of(record):
            return ActionResult.conflict(f"{label} cannot be rejected: it is linked already.", record)
        _set_state(
            kind, record, company=company, state=MasterExportState.State.REJECTED, message=reason, user=user
        )
        audit_master_record(
            kind=kind,
            user=user,
            action=AuditEntry.Action.REJECT,
            record_id=record.pk,
            name=kind.name_of(record),
            company=company,
            erp_id="",
            outcome=AuditEntry.Outcome.SUCCESS,
            message=reason,
        )
    return ActionResult.success(f"{label} was rejected and will not be offered for export.", record)


def master_record_unlink(
    *, kind: MasterKind, user, company: Company, record_id: int, access: CompanyAccess | None = None
) -> ActionResult:
    """Unlink once the last completed sync saw the ERP record gone (the rule of every link)."""
    _access(user, company, access)
    erp = _erp_name(company)
    with transaction.atomic():
        record = kind.records(company.pk).select_for_update().filter(pk=record_id).first()
        if record is None:
            raise NotFound(f"No {kind.noun} with id {record_id} in this company.")
        label = kind.label(record)
        link = (
            ErpLink.objects.select_for_update()
            .filter(kind=kind.slug, record_id=record.pk, unlinked_at__isnull=True)
            .first()
        )
        if link is None:
            return ActionResult.conflict(f"{label} is not linked with {erp}.", record)
        synced = _synced_records_of(kind, record)
        if synced:
            # Children first, as everywhere: what was exported under this vendor or job.
            names = ", ".join(
                record_kind.label(child) for record_kind, child in synced[:UNLINK_BLOCKERS_NAMED]
            )
            message = (
                f"{label} cannot be unlinked while records exported with it are synced with {erp}: "
                f"{names}{' and more' if len(synced) > UNLINK_BLOCKERS_NAMED else ''}. Unlink them first."
            )
            return ActionResult.conflict(message, record, blocking=synced[:UNLINK_BLOCKERS_NAMED])
        if link.missing_since_id is None:
            message = f"The {kind.erp_noun} is still in {erp}. Please delete it before retrying."
            audit_master_record(
                kind=kind,
                user=user,
                action=AuditEntry.Action.UNLINK,
                record_id=record.pk,
                name=kind.name_of(record),
                company=company,
                erp_id=link.erp_id,
                outcome=AuditEntry.Outcome.REFUSED,
                message=message,
            )
            return ActionResult.conflict(message, record)
        now = timezone.now()
        ErpLink.objects.filter(pk=link.pk).update(unlinked_at=now, unlinked_by=user)
        kind.model.objects.filter(pk=record.pk).update(**{kind.erp_id_field: None})
        setattr(record, kind.erp_id_field, None)
        audit_master_record(
            kind=kind,
            user=user,
            action=AuditEntry.Action.UNLINK,
            record_id=record.pk,
            name=kind.name_of(record),
            company=company,
            erp_id=link.erp_id,
            outcome=AuditEntry.Outcome.SUCCESS,
            message="Successfully Unlinked",
        )
    return ActionResult.success("Successfully Unlinked", record)


def _synced_records_of(kind: MasterKind, record) -> list[tuple]:
    """Synced commitments, invoices and CCOs exported with this vendor or job (a few of each)."""
    if not kind.record_field:
        return []
    found = []
    for record_kind in KINDS:
        children = (
            record_kind.objects().filter(**{kind.record_field: record}, link__isnull=False).order_by("pk")
        )
        found += [(record_kind, child) for child in children[: UNLINK_BLOCKERS_NAMED + 1]]
    return found


def master_record_update(
    *, kind: MasterKind, user, company: Company, record_id: int, access: CompanyAccess | None = None
) -> ActionResult:
    """Take the name the linked ERP record has now (Ready to Update)."""
    _access(user, company, access)
    erp = _erp_name(company)
    try:
        with transaction.atomic():
            record = kind.records(company.pk).select_for_update().filter(pk=record_id).first()
            if record is None:
                raise NotFound(f"No {kind.noun} with id {record_id} in this company.")
            erp_id = kind.erp_id_of(record)
            entry = (
                ErpMasterEntry.objects.filter(company=company, kind=kind.slug, erp_id=erp_id).first()
                if erp_id
                else None
            )
            if entry is None:
                return ActionResult.conflict(
                    f"{kind.label(record)} has no linked {kind.erp_noun} in {erp}.", record
                )
            old = kind.name_of(record)
            if old == entry.name:
                return ActionResult.conflict(f"{kind.label(record)} already has the name {erp} has.", record)
            setattr(record, kind.name_field, entry.name)
            record.save(update_fields=[kind.name_field])
            message = f"{kind.noun.capitalize()} {old} now reads {entry.name}, as in {erp}."
            audit_master_record(
                kind=kind,
                user=user,
                action=AuditEntry.Action.UPDATE,
                record_id=record.pk,
                name=entry.name,
                company=company,
                erp_id=erp_id,
                outcome=AuditEntry.Outcome.SUCCESS,
                message=message,
            )
    except IntegrityError:
        return ActionResult.conflict(
            f"Another {kind.noun} is already named {entry.name}; rename one of them first."
        )
    return ActionResult.success(message, record)
