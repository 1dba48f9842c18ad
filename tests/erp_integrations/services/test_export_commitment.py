"""Export of a commitment by an approver: link, validation, faults, retries."""

import pytest

from accounts.permissions import NotFound
from erp_integrations.kinds import COMMITMENT
from erp_integrations.models import AuditEntry, Commitment, ErpConnection, ErpSystem, ExportState
from erp_integrations.sandbox.services import sandbox_records, sandbox_set_mode
from erp_integrations.services.exports import record_export
from erp_integrations.services.results import Outcome
from tests import factories

SAGE_300 = ErpSystem.SAGE_300_CRE.value
SAGE_100 = ErpSystem.SAGE_100_CONTRACTOR.value


pytestmark = pytest.mark.embedded


def _ready(erp_system: str = SAGE_300, **kwargs):
    company = factories.company(erp_system=erp_system)
    project = factories.project(company=company)
    approver = factories.approver(company, project)
    commitment = factories.commitment(project=project, export_state=ExportState.READY, **kwargs)
    return approver, commitment


def _erp_records(erp_system: str, commitment: Commitment):
    return sandbox_records(erp_system).filter(
        kind="commitment", external_reference=f"commitment-{commitment.pk}"
    )


def _audit(commitment: Commitment):
    return AuditEntry.objects.filter(record_type="commitment", record_id=commitment.pk).order_by("id")


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(("erp_system", "prefix"), [(SAGE_300, "JC-"), (SAGE_100, "SC")])
def test_export_links_the_commitment_to_one_new_erp_record(erp_system, prefix):
    approver, commitment = _ready(erp_system)

    result = record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert result.ok and result.outcome == Outcome.DONE
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED
    assert commitment.erp_id.startswith(prefix)
    assert commitment.link.linked_by == approver and commitment.linked_at is not None
    assert commitment.erp_missing_since_id is None and commitment.export_error == ""
    assert result.message == f"Exported to {ErpSystem(erp_system).label} as {commitment.erp_id}."
    assert result.record.erp_id == commitment.erp_id
    erp_records = _erp_records(erp_system, commitment)
    assert [r.erp_id for r in erp_records] == [commitment.erp_id]
    assert erp_records[0].data["title"] == commitment.title
    entry = _audit(commitment).get()
    assert (entry.user, entry.action, entry.record_number, entry.erp_system, entry.erp_id, entry.outcome) == (
        approver,
        AuditEntry.Action.EXPORT,
        commitment.number,
        erp_system,
        commitment.erp_id,
        AuditEntry.Outcome.SUCCESS,
    )


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("state", [ExportState.DRAFT, ExportState.REJECTED])
def test_a_commitment_that_was_not_sent_is_not_ready_to_export(state):
    approver, commitment = _ready()
    Commitment.objects.filter(pk=commitment.pk).update(export_state=state)

    result = record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert result.outcome == Outcome.CONFLICT
    assert result.message.startswith(f"Commitment {commitment.number} is not ready to export")
    commitment.refresh_from_db()
    assert commitment.export_state == state and commitment.erp_id is None
    assert not _erp_records(SAGE_300, commitment).exists()
    assert _audit(commitment).get().outcome == AuditEntry.Outcome.REFUSED


@pytest.mark.django_db(databases="__all__")
def test_exporting_a_synced_commitment_again_changes_nothing():
    approver, commitment = _ready()
    first = record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    again = record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert first.ok and not again.ok and again.outcome == Outcome.CONFLICT
    commitment.refresh_from_db()
    assert again.message == (
        f"Commitment {commitment.number} is not ready to export: "
        f"it is synced with Sage 300 CRE® as {commitment.erp_id}."
    )
    assert _erp_records(SAGE_300, commitment).count() == 1
    assert list(_audit(commitment).values_list("outcome", flat=True)) == ["success", "refused"]


@pytest.mark.django_db(databases="__all__")
def test_a_commitment_over_the_erp_limits_fails_naming_each_field_and_reaches_no_erp():
    approver, commitment = _ready(
        SAGE_100, number="SC-2026-000123", title="Structural steel and misc. metals"
    )

    result = record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert result.outcome == Outcome.INVALID
    assert result.message.startswith(
        f"Commitment {commitment.number} cannot be exported to Sage 100 Contractor®."
    )
    assert "Number: must be at most 12 characters" in result.message
    assert "Title: must be at most 30 characters" in result.message
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.FAILED
    assert commitment.export_error.splitlines() == [
        "Number: must be at most 12 characters in Sage 100 Contractor® (it has 14).",
        "Title: must be at most 30 characters in Sage 100 Contractor® (it has 33).",
    ]
    assert commitment.erp_id is None and commitment.linked_at is None
    assert sandbox_records(SAGE_100).count() == 0
    entry = _audit(commitment).get()
    assert entry.outcome == AuditEntry.Outcome.FAILED and entry.erp_id == ""
    assert "Number: must be at most 12" in entry.message


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    ("field", "options", "words"),
    [
        (
            "status",
            {"kind": Commitment.Kind.PURCHASE_ORDER, "status": Commitment.Status.OUT_FOR_SIGNATURE},
            "a purchase order must be 'Approved'",
        ),
        (
            "status",
            {"kind": Commitment.Kind.SUBCONTRACT, "status": Commitment.Status.DRAFT},
            "a subcontract must be 'Approved' or 'Complete'",
        ),
        ("line items", {"cost_code": None}, "at least one line item with a cost code"),
    ],
)
def test_sage_300_rules_refuse_what_sage_100_exports(field, options, words):
    outcomes = {}
    for erp_system in (SAGE_300, SAGE_100):
        company = factories.company(erp_system=erp_system)
        project = factories.project(company=company)
        approver = factories.approver(company, project, username=f"approver-{erp_system}")
        vendor = factories.vendor(company=company, synced=options.get("vendor_synced", True))
        commitment = factories.commitment(
            project=project,
            vendor=vendor,
            export_state=ExportState.READY,
            **{k: v for k, v in options.items() if k != "vendor_synced"},
        )
        result = record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk)
        commitment.refresh_from_db()
        outcomes[erp_system] = (result, commitment)

    result, commitment = outcomes[SAGE_300]
    assert result.outcome == Outcome.INVALID
    assert f"{field.capitalize()}: " in result.message and words in result.message
    assert commitment.export_state == ExportState.FAILED and commitment.erp_id is None
    assert sandbox_records(SAGE_300).count() == 0

    result, commitment = outcomes[SAGE_100]
    assert result.ok, result.message
    assert commitment.export_state == ExportState.SYNCED and commitment.erp_id.startswith("SC")


@pytest.mark.django_db(databases="__all__")
def test_a_failed_commitment_can_be_fixed_in_the_erp_and_exported_again():
    approver, commitment = _ready(SAGE_300)
    vendor = commitment.vendor
    vendor.erp_vendor_id = None
    vendor.save()
    assert record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk).outcome == Outcome.INVALID

    vendor.erp_vendor_id = "V00042"  # the vendor was synced meanwhile
    vendor.save()
    result = record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert result.ok, result.message
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED and commitment.export_error == ""
    assert list(_audit(commitment).values_list("outcome", flat=True)) == ["failed", "success"]


@pytest.mark.django_db(databases="__all__")
def test_erp_offline_leaves_the_commitment_failed_with_the_erps_message_and_no_link():
    approver, commitment = _ready(SAGE_300)
    sandbox_set_mode(erp_system=SAGE_300, mode="offline")

    result = record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert result.outcome == Outcome.ERP_FAILED
    assert (
        result.message == "Export to Sage 300 CRE® failed: Sage 300 CRE® is not responding. Try again later."
    )
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.FAILED
    assert commitment.export_error == "Sage 300 CRE® is not responding. Try again later."
    assert commitment.erp_id is None and commitment.linked_at is None
    assert sandbox_records(SAGE_300).count() == 0
    entry = _audit(commitment).get()
    assert (entry.user, entry.outcome, entry.erp_id) == (approver, AuditEntry.Outcome.FAILED, "")
    assert "not responding" in entry.message

    # Back online, the approver retries the failed commitment.
    sandbox_set_mode(erp_system=SAGE_300, mode="normal")
    retry = record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk)
    assert retry.ok
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED and commitment.export_error == ""


@pytest.mark.django_db(databases="__all__")
def test_an_export_retried_after_a_timeout_finds_the_one_erp_record(settings):
    settings.ERP_TIMEOUT_SECONDS = 0.2
    approver, commitment = _ready(SAGE_300)
    sandbox_set_mode(erp_system=SAGE_300, mode="slow", latency_ms=600)

    timed_out = record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert timed_out.outcome == Outcome.ERP_FAILED
    assert "did not answer within 0.2 s" in timed_out.message
    assert "exporting again is safe and will not make a second record" in timed_out.message
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.FAILED and commitment.erp_id is None
    # The ERP got it all the same: the record exists there, unlinked.
    [made] = _erp_records(SAGE_300, commitment)

    sandbox_set_mode(erp_system=SAGE_300, mode="normal")
    retry = record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert retry.ok
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED
    assert commitment.erp_id == made.erp_id
    assert sandbox_records(SAGE_300).count() == 1
    assert list(_audit(commitment).values_list("outcome", "erp_id")) == [
        ("failed", ""),
        ("success", made.erp_id),
    ]


@pytest.mark.django_db(databases="__all__")
def test_a_slow_erp_within_the_timeout_still_exports(settings):
    settings.ERP_TIMEOUT_SECONDS = 5
    approver, commitment = _ready(SAGE_100)
    sandbox_set_mode(erp_system=SAGE_100, mode="slow", latency_ms=200)

    assert record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk).ok

    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED


@pytest.mark.django_db(databases="__all__")
def test_an_inactive_connection_exports_nothing():
    approver, commitment = _ready(SAGE_300)
    ErpConnection.objects.filter(company_id=commitment.company_id).update(is_active=False)

    result = record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert result.outcome == Outcome.CONFLICT
    assert "no active ERP connection" in result.message
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.READY
    assert sandbox_records(SAGE_300).count() == 0


@pytest.mark.django_db(databases="__all__")
def test_unknown_commitment_is_404():
    approver, _ = _ready()
    with pytest.raises(NotFound):
        record_export(kind=COMMITMENT, user=approver, record_id=987654321)


@pytest.mark.postgresql  # the query count or plan is PostgreSQL's
@pytest.mark.django_db(databases="__all__")
def test_export_takes_a_handful_of_queries(django_assert_num_queries):
    approver, commitment = _ready(SAGE_100)
    # Queries on the platform database (the ERP's store is another connection):
    #  1 the record with company, ERP connection, project and vendor
    #  2 the approver's directory entry   3 the approver's project levels
    #  4 take the export claim            5 re-read the state under the claim
    #  6 the line items the ERP receives (the reconciliation compares their total)
    #  7 savepoint                        8 SELECT ... FOR UPDATE of the commitment
    #  9 INSERT the link                 10 DELETE it from the orphans the last sync listed
    # 11 UPDATE the record (state, link) 12 INSERT the audit entry
    # 13 release savepoint               14 release the claim
    with django_assert_num_queries(14):
        assert record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk).ok


@pytest.mark.postgresql  # the query count or plan is PostgreSQL's
@pytest.mark.django_db(databases="__all__")
def test_sage_300_export_reads_the_line_items_once_more(django_assert_num_queries):
    approver, commitment = _ready(SAGE_300)
    # As above, plus the line items for Sage 300 CRE®'s cost code rule.
    with django_assert_num_queries(15):
        assert record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk).ok
