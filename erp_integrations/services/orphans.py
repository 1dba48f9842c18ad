"""Orphans: ERP records this platform made that no link points at, and linking one again.

The sync finds them (``services.reconciliation``). The common one comes from a timeout:
the ERP made the record, the platform never heard its id, and the record was then
rejected (or deleted) instead of exported again. If the platform record still exists
and has no link, an approver links it to the ERP record that is already there, as a
successful export would have; otherwise the ERP record is left for the user to delete
in the ERP, which the Reconciliation page says in the ERP's own words.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import Company, User
from accounts.permissions import Action, CompanyAccess, NotFound, load_record
from erp_integrations import locks
from erp_integrations.connectors import ErpError, get_connector
from erp_integrations.kinds import BY_SLUG, RecordKind
from erp_integrations.models import AuditEntry, Discrepancy, company_erp_connection
from erp_integrations.services.audit import audit_record
from erp_integrations.services.links import record_link
from erp_integrations.services.results import ActionResult


def orphan_delete_words(kind: RecordKind, erp_system: str, erp_name: str, erp_id: str) -> str:
    """What the page says of an orphan nothing in the platform can take back."""
    noun = kind.erp_noun(erp_system)
    return (
        f"No record in the platform can take this {noun} back. "
        f"Delete {noun} {erp_id} in {erp_name} if it should not be there."
    )


def orphan_relink(
    *, user: User, company: Company, discrepancy_id: int, access: CompanyAccess | None = None
) -> ActionResult:
    """Link a found orphan to the platform record it was made for, as its export would have.

    Needs what Export needs on the record's project. Refused (409) when the record has a
    link by now, its parent is not linked, or the ERP record is gone; the ERP is asked
    outside any transaction, under the record's export claim, so no export runs meanwhile.
    """
    orphan = Discrepancy.objects.filter(
        pk=discrepancy_id, company_id=company.pk, category=Discrepancy.Category.ORPHAN
    ).first()
    if orphan is None:
        raise NotFound("No such orphan.")
    kind = BY_SLUG.get(orphan.kind)
    if kind is None or orphan.record_id is None:
        raise NotFound("No such orphan.")
    record, access = load_record(
        kind,
        user=user,
        record_id=orphan.record_id,
        action=Action.EXPORT,
        access=access,
        company_id=company.pk,
    )
    connection = company_erp_connection(record.company)
    if connection is None or not connection.is_active:
        return ActionResult.conflict("This company has no active ERP connection.")
    label = kind.label(record)
    erp = connection.erp_name
    with locks.try_claim(kind.lock_namespace, record.pk) as claimed:
        if not claimed:
            return ActionResult.conflict(
                f"An export of {label} is in progress; try again when it has finished."
            )
        try:
            present = get_connector(connection.erp_system).existing_ids(kind.slug, [orphan.erp_id])
        except ErpError as exc:
            return ActionResult.erp_failed(f"{erp} could not be asked about {orphan.erp_id}: {exc}")
        if orphan.erp_id not in present:
            Discrepancy.objects.filter(pk=orphan.pk).delete()
            return ActionResult.conflict(f"{orphan.erp_id} is no longer in {erp}; there is nothing to link.")
        return _relink(
            kind, record, orphan, user=user, erp_system=connection.erp_system, erp=erp, label=label
        )


def _relink(kind: RecordKind, record, orphan: Discrepancy, *, user, erp_system: str, erp: str, label: str):
    with transaction.atomic():
        records = kind.model.objects.filter(pk=record.pk)
        if kind.parent_field:
            records = records.select_related(kind.parent_field).select_for_update(
                of=("self", kind.parent_field)
            )
        else:
            records = records.select_for_update()
        locked = records.first()
        if locked is None:
            return ActionResult.conflict(f"{label} was deleted meanwhile; delete {orphan.erp_id} in {erp}.")
        if locked.link_id is not None:
            return ActionResult.conflict(
                f"{label} is linked to {locked.erp_id} already. Delete {orphan.erp_id} in {erp} "
                "if it should not be there."
            )
        parent = kind.parent(locked)
        if parent is not None and not parent.is_linked:
            return ActionResult.conflict(
                f"{label} cannot be linked before its {kind.parent_field} {parent.number} "
                f"is synced with {erp}."
            )
        try:
            with transaction.atomic():
                record_link(kind=kind, record=locked, erp_id=orphan.erp_id, linked_by=user)
        except IntegrityError:
            return ActionResult.conflict(f"{orphan.erp_id} is linked to another record already.")
        if locked.rejection_reason:
            # Synced now, as an export leaves it: a reason for an earlier rejection no longer applies.
            kind.model.objects.filter(pk=locked.pk).update(rejection_reason="")
            locked.rejection_reason = ""
        message = (
            f"{label} is linked to {orphan.erp_id} again: the {kind.erp_noun(erp_system)} already in {erp}."
        )
        audit_record(
            user=user,
            action=AuditEntry.Action.EXPORT,
            record=locked,
            erp_system=erp_system,
            outcome=AuditEntry.Outcome.SUCCESS,
            message=message,
        )
        # record_link took the orphan off the list; it is in the ERP now, so not absent either.
        Discrepancy.objects.filter(
            company_id=locked.company_id,
            category=Discrepancy.Category.ABSENT,
            kind=kind.slug,
            record_id=locked.pk,
        ).delete()
    return ActionResult.success(message, locked)
