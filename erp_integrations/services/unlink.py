"""Unlink: sever a record from its ERP record, once the ERP no longer has it.

The rule of the help articles: delete the record in the ERP, let the hourly sync see
that it is gone, then unlink. So unlink succeeds only when the last *completed* sync
marked the link missing (``ErpLink.missing_since``); the ERP itself is not asked here. A
record deleted in the ERP but not yet seen by a sync is still refused, in the
articles' red words.

Everything happens in one transaction with the record's row locked, so two users (or
a user and the sync) racing on one record never leave a half state: exactly one
unlink wins and the others are told it was already unlinked. Every attempt, refused
or not, is kept in the audit trail in that same transaction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from django.db import transaction
from django.db.models import Value
from django.utils import timezone

from accounts.permissions import Action, CompanyAccess, load_record
from erp_integrations.kinds import BY_SLUG, RecordKind
from erp_integrations.models import AuditEntry, ErpLink, ExportState, LinkedRecord, company_erp_connection
from erp_integrations.services.audit import audit_record, refusals_audited
from erp_integrations.services.results import ActionResult

SUCCESS_MESSAGE = "Successfully Unlinked"
#: Linked children named one by one in a refusal; more are counted.
CHILDREN_NAMED = 10


def record_unlink(
    *,
    kind: RecordKind,
    user,
    record_id: int,
    company_id: int | None = None,
    access: CompanyAccess | None = None,
) -> ActionResult:
    """Unlink one record once the last completed sync saw its ERP record gone.

    ``company_id``: only a record of that company (else ``NotFound``). ``access``: the
    user's access to the company, when the caller has loaded it already. A refusal for
    want of a permission is kept in the audit trail too (outside the transaction it
    rolls back), then raised. The result's record is the one read under the lock, as it
    is after the attempt, and ``was`` its state before.
    """
    with refusals_audited(user=user, action=AuditEntry.Action.UNLINK):
        return _unlink(kind=kind, user=user, record_id=record_id, company_id=company_id, access=access)


def _unlink(
    *, kind: RecordKind, user, record_id: int, company_id: int | None, access: CompanyAccess | None
) -> ActionResult:
    with transaction.atomic():
        # 1) The record, its row locked, with company, connection and project. Reading
        # it under the lock means it is judged as it is now, not as it was a moment
        # ago: another unlink or an export may just have committed. A refused
        # permission rolls back and has held the row for a moment only.
        locking = (
            kind.model.objects.select_related("company__erp_connection", "project")
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        # 2-3) The user's directory entry and project levels, unless the caller passed
        # them for this user and the record's own company. Outsiders get NotFound.
        record, _ = load_record(
            kind,
            user=user,
            record_id=record_id,
            action=Action.UNLINK,
            access=access,
            company_id=company_id,
            queryset=locking,
        )
        was = record.export_state
        # 4) Its live link, locked too: the sync's marks are written to the link's row,
        # so a run finishing now either waits for us or has committed what we read.
        link = (
            ErpLink.objects.select_for_update().filter(pk=record.link_id).first() if record.link_id else None
        )
        connection = company_erp_connection(record.company)
        erp_system = connection.erp_system if connection else ""
        erp_name = record.erp_name

        def refuse(message: str, erp_id: str, blocking=()) -> ActionResult:
            audit_record(
                user=user,
                action=AuditEntry.Action.UNLINK,
                record=record,
                erp_system=erp_system,
                outcome=AuditEntry.Outcome.REFUSED,
                message=message,
                erp_id=erp_id,
            )
            return replace(ActionResult.conflict(message, record, blocking=blocking), was=was)

        if link is None:
            return refuse(
                f"This {kind.noun} is not linked to {erp_name} any more: it was already unlinked.", ""
            )
        # 5) Children still linked to this record, per child kind (index on (parent, erp_id)).
        blocking = _linked_children(kind, record)
        if blocking:
            message = _children_refusal(kind, blocking, erp_system, erp_name)
            return refuse(message, link.erp_id, _first_of_each_kind(blocking))
        if link.missing_since_id is None:
            # The last completed sync saw the ERP record, or none has run since export.
            return refuse(kind.still_in_erp_message(erp_system, erp_name), link.erp_id)

        # 6) Clear the record's link (a draft again, editable and deletable) and close
        # the link itself, which stays as the record's link history.
        now = timezone.now()
        cleared = {
            "link": None,
            "erp_id": None,
            "linked_at": None,
            "export_state": ExportState.DRAFT,
            "export_error": "",
            "updated_at": now,
        }
        kind.model.objects.filter(pk=record.pk).update(**cleared)
        ErpLink.objects.filter(pk=link.pk).update(unlinked_at=now, unlinked_by=user)
        for field, value in cleared.items():
            setattr(record, field, value)
        # 7) The audit entry, with the ERP id the link had.
        audit_record(
            user=user,
            action=AuditEntry.Action.UNLINK,
            record=record,
            erp_system=erp_system,
            outcome=AuditEntry.Outcome.SUCCESS,
            message=SUCCESS_MESSAGE,
            erp_id=link.erp_id,
        )
    return replace(ActionResult.success(SUCCESS_MESSAGE, record), was=was)


def _linked_children(kind: RecordKind, record: LinkedRecord) -> list[tuple[RecordKind, LinkedRecord]]:
    """The record's children still linked to the ERP, as (kind, child): one query for every kind.

    Children carry what naming and linking them needs (number, project, the parent).
    """
    child_kinds = kind.child_kinds
    if not child_kinds:
        return []
    queries = [
        child_kind.model.objects.filter(**{f"{child_kind.parent_field}_id": record.pk}, erp_id__isnull=False)
        .annotate(child_kind=Value(child_kind.slug))
        .values_list("child_kind", "pk", "number", "project_id")
        .order_by()
        for child_kind in child_kinds
    ]
    rows = queries[0].union(*queries[1:], all=True) if len(queries) > 1 else queries[0]
    found = []
    # Every linked child (a commitment has tens at most): the refusal counts them exactly
    # and names the first CHILDREN_NAMED of each kind.
    for slug, pk, number, project_id in sorted(rows, key=_by_number):
        child_kind = BY_SLUG[slug]
        child = child_kind.model(pk=pk, number=number, project_id=project_id)
        setattr(child, child_kind.parent_field, record)
        found.append((child_kind, child))
    return found


def _first_of_each_kind(
    blocking: list[tuple[RecordKind, LinkedRecord]],
) -> list[tuple[RecordKind, LinkedRecord]]:
    """The children a refusal names (and a page links): the first CHILDREN_NAMED of each kind."""
    taken: Counter[str] = Counter()
    named = []
    for child_kind, child in blocking:
        taken[child_kind.slug] += 1
        if taken[child_kind.slug] <= CHILDREN_NAMED:
            named.append((child_kind, child))
    return named


def _by_number(row: tuple) -> tuple:
    slug, pk, number, _project_id = row
    return (slug, number, pk)


def _children_refusal(
    kind: RecordKind, blocking: list[tuple[RecordKind, LinkedRecord]], erp_system: str, erp_name: str
) -> str:
    """'This commitment has 2 CCOs synced with Sage 300 CRE® (CCO 1, CCO 2). Unlink them first, …'."""
    parts = []
    for child_kind in dict.fromkeys(child_kind for child_kind, _ in blocking):
        children = [child for k, child in blocking if k is child_kind]
        noun = child_kind.erp_noun(erp_system, plural=len(children) > 1)
        names = ", ".join(child.number for child in children[:CHILDREN_NAMED])
        more = f", and {len(children) - CHILDREN_NAMED} more" if len(children) > CHILDREN_NAMED else ""
        parts.append(f"{len(children)} {noun} ({names}{more})")
    them = "it" if len(blocking) == 1 else "them"
    return (
        f"This {kind.noun} has " + " and ".join(parts) + f" synced with {erp_name}. "
        f"Unlink {them} first, then unlink the {kind.noun}."
    )
