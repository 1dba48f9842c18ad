"""Send, Export and Reject ask accounts.permissions; a refusal names what is missing."""

import pytest

from accounts.models import PermissionLevel, ProjectPermission
from accounts.permissions import ERP_STANDARD_MISSING, PRIVILEGE_MISSING, AccessDenied, Action, NotFound
from erp_integrations.kinds import COMMITMENT, INVOICE, kind_of
from erp_integrations.models import AuditEntry, ExportState
from erp_integrations.sandbox.services import sandbox_records
from erp_integrations.services import exports
from tests import factories


def _send(record, user):
    return exports.record_send_to_accounting(kind=kind_of(record), user=user, record_id=record.pk)


def _export(record, user):
    return exports.record_export(kind=kind_of(record), user=user, record_id=record.pk)


def _reject(record, user):
    return exports.record_reject(kind=kind_of(record), user=user, record_id=record.pk, reason="Wrong")


ACCOUNTING = {"export": (_export, Action.EXPORT), "reject": (_reject, Action.REJECT)}


def _world(record_type: str, state: str):
    company = factories.company()
    project = factories.project(company=company, name="Tower")
    commitment = factories.commitment(project=project, export_state=state)
    record = commitment
    if record_type == "invoice":
        factories.link(commitment)
        record = factories.invoice(commitment=commitment, export_state=state)
    return company, project, record


def _nothing_happened(record, state, *, refused_for=None):
    """The record is as it was; the audit trail holds only the refused attempts, by whom."""
    record.refresh_from_db()
    assert record.export_state == state
    assert record.erp_id is None
    entries = AuditEntry.objects.filter(record_id=record.pk, record_type=kind_of(record).slug)
    if refused_for is None:
        assert not entries.exists()
    else:
        assert entries.exists()
        assert set(entries.values_list("outcome", "user_id")) == {
            (AuditEntry.Outcome.REFUSED, refused_for.pk)
        }


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("record_type", ["commitment", "invoice"])
@pytest.mark.parametrize("service", sorted(ACCOUNTING))
@pytest.mark.parametrize(
    ("lacking", "missing"),
    [
        ("commitments", "'Admin' on the Commitments tool of project 'Tower'"),
        ("erp", ERP_STANDARD_MISSING),
        ("privilege", PRIVILEGE_MISSING),
    ],
)
def test_each_missing_requirement_is_named(record_type, service, lacking, missing):
    company, project, record = _world(record_type, ExportState.READY)
    user = factories.user(
        "pm",
        company=company,
        erp_level=PermissionLevel.READ_ONLY if lacking == "erp" else PermissionLevel.STANDARD,
        privilege=lacking != "privilege",
        projects={project: PermissionLevel.STANDARD if lacking == "commitments" else PermissionLevel.ADMIN},
    )
    call, action = ACCOUNTING[service]

    with pytest.raises(AccessDenied) as denied:
        call(record, user)

    decision = denied.value.decision
    assert decision.action == action
    assert decision.missing == (missing,)
    assert missing in str(denied.value)
    _nothing_happened(record, ExportState.READY, refused_for=user)
    assert (
        AuditEntry.objects.get(record_type=kind_of(record).slug, record_id=record.pk).message
        == decision.reason
    )
    assert sandbox_records("sage300").filter(kind="invoice").count() == 0


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("record_type", ["commitment", "invoice"])
def test_a_viewer_lacking_everything_is_told_all_three(record_type):
    company, project, record = _world(record_type, ExportState.READY)
    viewer = factories.user(
        "viewer",
        company=company,
        erp_level=PermissionLevel.READ_ONLY,
        projects={project: PermissionLevel.READ_ONLY},
    )
    with pytest.raises(AccessDenied) as denied:
        _export(record, viewer)
    assert len(denied.value.decision.missing) == 3
    _nothing_happened(record, ExportState.READY, refused_for=viewer)


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("record_type", ["commitment", "invoice"])
def test_send_to_accounting_needs_admin_on_commitments_only(record_type):
    company, project, record = _world(record_type, ExportState.DRAFT)
    pm = factories.user(
        "pm",
        company=company,
        erp_level=PermissionLevel.ADMIN,
        privilege=True,
        projects={project: PermissionLevel.STANDARD},
    )
    with pytest.raises(AccessDenied) as denied:
        _send(record, pm)
    assert denied.value.decision.missing == ("'Admin' on the Commitments tool of project 'Tower'",)
    _nothing_happened(record, ExportState.DRAFT, refused_for=pm)

    # A project admin without any ERP rights or the privilege may send.
    project_admin = factories.user(
        "project-admin", company=company, projects={project: PermissionLevel.ADMIN}
    )
    assert _send(record, project_admin).ok


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("record_type", ["commitment", "invoice"])
@pytest.mark.parametrize("call", [_send, _export, _reject])
def test_outsiders_get_404(record_type, call):
    _, project, record = _world(record_type, ExportState.READY)
    other = factories.company()
    # An approver of another company, with every right there, and even a project
    # permission left over on this company's project: still not in its directory.
    outsider = factories.approver(other, factories.project(company=other), username="outsider")
    ProjectPermission.objects.create(project=project, user=outsider, commitments_level=PermissionLevel.ADMIN)

    with pytest.raises(NotFound):
        call(record, outsider)
    _nothing_happened(record, ExportState.READY)


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    "call",
    [
        lambda user: exports.record_send_to_accounting(kind=COMMITMENT, user=user, record_id=10**9),
        lambda user: exports.record_export(kind=COMMITMENT, user=user, record_id=10**9),
        lambda user: exports.record_reject(kind=COMMITMENT, user=user, record_id=10**9, reason="x"),
        lambda user: exports.record_send_to_accounting(kind=INVOICE, user=user, record_id=10**9),
        lambda user: exports.record_export(kind=INVOICE, user=user, record_id=10**9),
        lambda user: exports.record_reject(kind=INVOICE, user=user, record_id=10**9, reason="x"),
    ],
)
def test_unknown_ids_are_404(call):
    company = factories.company()
    approver = factories.approver(company, factories.project(company=company))
    with pytest.raises(NotFound):
        call(approver)


@pytest.mark.django_db(databases="__all__")
def test_an_inactive_user_is_treated_as_an_outsider():
    company, project, record = _world("commitment", ExportState.READY)
    approver = factories.approver(company, project)
    approver.is_active = False
    approver.save()
    with pytest.raises(NotFound):
        _export(record, approver)
    _nothing_happened(record, ExportState.READY)


@pytest.mark.django_db(databases="__all__")
def test_reject_with_the_callers_access_skips_loading_it(django_assert_num_queries):
    from accounts.permissions import CompanyAccess

    company, project, record = _world("commitment", ExportState.READY)
    approver = factories.approver(company, project)
    access = CompanyAccess.load(approver, company)
    assert access.project_levels  # read, as a page that judged its rows has them

    with django_assert_num_queries(9) as without:
        exports.record_reject(kind=COMMITMENT, user=approver, record_id=record.pk, reason="Wrong cost code")
    record.export_state = ExportState.READY
    record.save(update_fields=["export_state"])
    # The same reject, less the directory entry and project levels that ``access`` holds.
    with django_assert_num_queries(len(without.captured_queries) - 2):
        result = exports.record_reject(
            kind=COMMITMENT, user=approver, record_id=record.pk, reason="Wrong cost code", access=access
        )
    assert result.ok


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("service", sorted(ACCOUNTING))
def test_export_and_reject_check_with_the_callers_access_and_ignore_another_users(service):
    from accounts.permissions import CompanyAccess

    company, project, record = _world("commitment", ExportState.READY)
    approver = factories.approver(company, project)
    pm = factories.user(
        "pm", company=company, erp_level=PermissionLevel.STANDARD, projects={project: PermissionLevel.ADMIN}
    )
    call = {
        "export": lambda access: exports.record_export(
            kind=COMMITMENT, user=pm, record_id=record.pk, access=access
        ),
        "reject": lambda access: exports.record_reject(
            kind=COMMITMENT, user=pm, record_id=record.pk, reason="No", access=access
        ),
    }[service]

    # The pm's own access is used, and refuses: no privilege.
    with pytest.raises(AccessDenied) as refused:
        call(CompanyAccess.load(pm, company))
    assert PRIVILEGE_MISSING in refused.value.decision.reason
    # The approver's access is not taken for the pm.
    with pytest.raises(AccessDenied):
        call(CompanyAccess.load(approver, company))
    _nothing_happened(record, ExportState.READY, refused_for=pm)
