"""The connectors behave like the ERPs they stand for: limits, id formats, faults, idempotence."""

import time

import pytest

from erp_integrations.connectors import ErpTimeout, ErpUnavailable, get_connector
from erp_integrations.kinds import COMMITMENT, INVOICE
from erp_integrations.models import Commitment, ErpSystem, SubcontractorInvoice
from erp_integrations.sandbox.services import sandbox_delete, sandbox_records, sandbox_set_mode
from tests import factories

SAGE_300 = ErpSystem.SAGE_300_CRE.value
SAGE_100 = ErpSystem.SAGE_100_CONTRACTOR.value


def _commitment(erp_system: str = SAGE_300, **kwargs) -> Commitment:
    company = factories.company(erp_system=erp_system)
    return factories.commitment(project=factories.project(company=company), **kwargs)


def _fields(problems) -> list[str]:
    return [problem.field for problem in problems]


@pytest.mark.django_db
@pytest.mark.parametrize("erp_system", [SAGE_300, SAGE_100])
def test_both_erps_limit_number_title_and_vendor_name(erp_system):
    company = factories.company(erp_system=erp_system)
    commitment = factories.commitment(
        project=factories.project(company=company),
        vendor=factories.vendor(company=company, name="V" * 31),
        number="SC-0000000012X",  # 14 characters
        title="T" * 31,
    )
    problems = get_connector(erp_system).validate_commitment(commitment)
    assert _fields(problems) == ["number", "title", "vendor"]
    erp_name = ErpSystem(erp_system).label
    assert "at most 12 characters in " + erp_name in problems[0].message
    assert "at most 30 characters" in problems[1].message
    assert "(it has 31)" in problems[2].message


@pytest.mark.django_db
@pytest.mark.parametrize("erp_system", [SAGE_300, SAGE_100])
def test_a_commitment_at_the_limits_is_accepted(erp_system):
    company = factories.company(erp_system=erp_system)
    commitment = factories.commitment(
        project=factories.project(company=company),
        vendor=factories.vendor(company=company, name="V" * 30),
        number="N" * 12,
        title="T" * 30,
    )
    assert get_connector(erp_system).validate_commitment(commitment) == []


@pytest.mark.django_db
def test_sage_300_refuses_what_sage_100_accepts():
    cases = {
        "status": dict(kind=Commitment.Kind.PURCHASE_ORDER, status=Commitment.Status.COMPLETE),
        "line_items": dict(cost_code=None),
    }
    for field, options in cases.items():
        for erp_system, expected in ((SAGE_300, [field]), (SAGE_100, [])):
            company = factories.company(erp_system=erp_system)
            vendor = factories.vendor(company=company, synced=options.get("vendor_synced", True))
            commitment = factories.commitment(
                project=factories.project(company=company),
                vendor=vendor,
                **{k: v for k, v in options.items() if k != "vendor_synced"},
            )
            problems = get_connector(erp_system).validate_commitment(commitment)
            assert _fields(problems) == expected, (field, erp_system, problems)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "status", "accepted"),
    [
        (Commitment.Kind.PURCHASE_ORDER, Commitment.Status.APPROVED, True),
        (Commitment.Kind.PURCHASE_ORDER, Commitment.Status.COMPLETE, False),
        (Commitment.Kind.PURCHASE_ORDER, Commitment.Status.DRAFT, False),
        (Commitment.Kind.SUBCONTRACT, Commitment.Status.APPROVED, True),
        (Commitment.Kind.SUBCONTRACT, Commitment.Status.COMPLETE, True),
        (Commitment.Kind.SUBCONTRACT, Commitment.Status.OUT_FOR_SIGNATURE, False),
        (Commitment.Kind.SUBCONTRACT, Commitment.Status.VOID, False),
    ],
)
def test_sage_300_commitment_status_rules(kind, status, accepted):
    commitment = _commitment(kind=kind, status=status)
    problems = get_connector(SAGE_300).validate_commitment(commitment)
    assert _fields(problems) == ([] if accepted else ["status"])
    assert _fields(get_connector(SAGE_100).validate_commitment(commitment)) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "accepted"),
    [
        (SubcontractorInvoice.Status.APPROVED, True),
        (SubcontractorInvoice.Status.APPROVED_AS_NOTED, True),
        (SubcontractorInvoice.Status.PENDING_OWNER_APPROVAL, True),
        (SubcontractorInvoice.Status.UNDER_REVIEW, False),
        (SubcontractorInvoice.Status.DRAFT, False),
        (SubcontractorInvoice.Status.REVISE_AND_RESUBMIT, False),
    ],
)
def test_sage_300_invoice_status_rules(status, accepted):
    commitment = _commitment()
    commitment.erp_id = "JC-0000001"  # as if synced; validation reads only the id
    invoice = factories.invoice(commitment=commitment, status=status)
    problems = get_connector(SAGE_300).validate_invoice(invoice)
    assert _fields(problems) == ([] if accepted else ["status"])
    if not accepted:
        assert "'Approved', 'Approved as Noted' or 'Pending Owner Approval'" in problems[0].message
    assert _fields(get_connector(SAGE_100).validate_invoice(invoice)) == []


@pytest.mark.django_db
def test_an_invoice_needs_its_commitment_synced_in_both_erps():
    for erp_system in (SAGE_300, SAGE_100):
        invoice = factories.invoice(commitment=_commitment(erp_system))
        problems = get_connector(erp_system).validate_invoice(invoice)
        assert _fields(problems) == ["commitment"]
        assert "must be synced with " + ErpSystem(erp_system).label in problems[0].message


@pytest.mark.django_db(databases="__all__")
def test_each_erp_has_its_own_id_formats():
    c300 = _commitment(SAGE_300)
    c100 = _commitment(SAGE_100)
    id300 = get_connector(SAGE_300).export(COMMITMENT, c300)
    id100 = get_connector(SAGE_100).export(COMMITMENT, c100)
    assert id300.startswith("JC-") and len(id300) == 10
    assert id100.startswith("SC") and len(id100) == 8
    factories.link(c300)
    factories.link(c100)
    req300 = get_connector(SAGE_300).export(INVOICE, factories.invoice(commitment=c300))
    req100 = get_connector(SAGE_100).export(INVOICE, factories.invoice(commitment=c100))
    assert req300.startswith("AP-REQ-")
    assert req100.startswith("RQ")
    # Each ERP's records live in its own store only.
    assert sandbox_records(SAGE_300).filter(erp_id=id100).count() == 0
    assert sandbox_records(SAGE_100).filter(erp_id=id300).count() == 0


@pytest.mark.django_db(databases="__all__")
def test_a_repeated_export_updates_the_one_erp_record_with_the_current_data():
    commitment = _commitment(SAGE_100, title="Concrete")
    connector = get_connector(SAGE_100)
    erp_id = connector.export(COMMITMENT, commitment)
    commitment.title = "Concrete and rebar"
    assert connector.export(COMMITMENT, commitment) == erp_id
    records = sandbox_records(SAGE_100).filter(external_reference=f"commitment-{commitment.pk}")
    assert [r.data["title"] for r in records] == ["Concrete and rebar"]


@pytest.mark.django_db(databases="__all__")
def test_after_deletion_in_the_erp_an_export_makes_a_new_record():
    commitment = _commitment(SAGE_300)
    connector = get_connector(SAGE_300)
    first = connector.export(COMMITMENT, commitment)
    sandbox_delete(erp_system=SAGE_300, kind="commitment", erp_id=first)
    second = connector.export(COMMITMENT, commitment)
    assert second != first
    assert connector.existing_ids("commitment", [first, second]) == {second}


@pytest.mark.django_db(databases="__all__")
def test_offline_erp_refuses_before_writing_anything():
    commitment = _commitment(SAGE_300)
    sandbox_set_mode(erp_system=SAGE_300, mode="offline")
    with pytest.raises(ErpUnavailable, match="Sage 300 CRE® is not responding"):
        get_connector(SAGE_300).export(COMMITMENT, commitment)
    assert sandbox_records(SAGE_300).count() == 0


@pytest.mark.django_db(databases="__all__")
def test_a_timeout_comes_after_the_erp_wrote_the_record_and_a_retry_finds_it(settings):
    settings.ERP_TIMEOUT_SECONDS = 0.2
    commitment = _commitment(SAGE_300)
    connector = get_connector(SAGE_300)
    sandbox_set_mode(erp_system=SAGE_300, mode="slow", latency_ms=1000)
    started = time.monotonic()
    with pytest.raises(ErpTimeout, match="did not answer within 0.2 s"):
        connector.export(COMMITMENT, commitment)
    # We gave up after the timeout, not after the ERP's full latency.
    assert 0.2 <= time.monotonic() - started < 0.9
    written = sandbox_records(SAGE_300).get(external_reference=f"commitment-{commitment.pk}")
    sandbox_set_mode(erp_system=SAGE_300, mode="normal")
    assert connector.export(COMMITMENT, commitment) == written.erp_id
    assert sandbox_records(SAGE_300).count() == 1


@pytest.mark.django_db(databases="__all__")
def test_slow_within_the_timeout_answers_late_but_answers(settings):
    settings.ERP_TIMEOUT_SECONDS = 2
    commitment = _commitment(SAGE_100)
    sandbox_set_mode(erp_system=SAGE_100, mode="slow", latency_ms=300)
    started = time.monotonic()
    erp_id = get_connector(SAGE_100).export(COMMITMENT, commitment)
    assert time.monotonic() - started >= 0.3
    assert get_connector(SAGE_100).existing_ids("commitment", [erp_id]) == {erp_id}
