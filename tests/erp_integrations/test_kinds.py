"""The record-kind registry is the only place that knows which kind a record is.

Outside ``erp_integrations/kinds.py`` no module (nor template) asks whether a record is
a commitment, a subcontractor invoice or a CCO: no ``isinstance`` on a kind's model, no
``model is Commitment``, no comparison with a kind's slug or tab slug. A kind that
behaves differently says so with a field of its registry entry.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.urls import NoReverseMatch, reverse

from erp_integrations import kinds
from erp_integrations.models import AuditEntry, LinkedRecord

ROOT = Path(__file__).resolve().parents[2]
#: Where branching on a kind would hide: the apps' code and the templates.
CODE = [*sorted((ROOT / "erp_integrations").rglob("*.py")), *sorted((ROOT / "accounts").rglob("*.py"))]
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))
#: The registry itself, the models it describes, and migrations (history, not behaviour).
ALLOWED = {ROOT / "erp_integrations" / "kinds.py", ROOT / "erp_integrations" / "models.py"}

KIND_MODELS = {kind.model.__name__ for kind in kinds.KINDS}
KIND_WORDS = {kind.slug for kind in kinds.KINDS} | {kind.tab_slug for kind in kinds.KINDS}


def _code_files() -> list[Path]:
    return [path for path in CODE if path not in ALLOWED and "migrations" not in path.parts]


def _model_refs(node: ast.AST) -> set[str]:
    """Kind models an operand names itself: ``Commitment``, ``models.Commitment``, a tuple of them.

    ``Commitment.Kind.SUBCONTRACT`` is a commitment's own field value, not a kind.
    """
    if isinstance(node, ast.Tuple):
        return set().union(*(_model_refs(element) for element in node.elts))
    if isinstance(node, ast.Name):
        return {node.id} & KIND_MODELS
    if isinstance(node, ast.Attribute):
        return {node.attr} & KIND_MODELS
    return set()


def kind_branches(source: str) -> list[str]:
    """Each place in ``source`` that branches on which kind a record is."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in {"isinstance", "issubclass"}:
            if len(node.args) == 2 and _model_refs(node.args[1]):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            models = set().union(*(_model_refs(o) for o in operands))
            words = {o.value for o in operands if isinstance(o, ast.Constant) and isinstance(o.value, str)}
            # `model is Commitment`, `type(r) == SubcontractorInvoice`, `slug == "invoice"`.
            if models or words & KIND_WORDS:
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


TEMPLATE_BRANCH = re.compile(
    r"{%\s*(?:el)?if\b[^%]*(?:==|!=)\s*[\"'](" + "|".join(sorted(map(re.escape, KIND_WORDS))) + r")[\"']"
)


def test_the_detector_finds_each_way_of_branching_on_a_kind():
    # The test below can only pass honestly if this one finds what it looks for.
    source = """
if isinstance(record, Commitment): pass
if isinstance(record, (SubcontractorInvoice, Vendor)): pass
if model is CommitmentChangeOrder: pass
if type(record) == Commitment: pass
if tab.slug == "subcontractor-invoices": pass
word = "requisition" if kind == "invoice" else "commitment"
"""
    assert len(kind_branches(source)) == 6
    assert (
        kind_branches("if isinstance(value, str) and record.kind == Commitment.Kind.SUBCONTRACT: pass") == []
    )
    assert TEMPLATE_BRANCH.search('{% if tab.slug == "commitments" %}')
    assert TEMPLATE_BRANCH.search("{% elif kind != 'cco' %}")


@pytest.mark.parametrize("path", _code_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_outside_the_registry_branches_on_a_records_kind(path):
    assert kind_branches(path.read_text()) == []


def test_no_template_branches_on_a_records_kind():
    assert TEMPLATES, "no templates found"
    offenders = {
        str(path.relative_to(ROOT)): TEMPLATE_BRANCH.findall(path.read_text())
        for path in TEMPLATES
        if TEMPLATE_BRANCH.search(path.read_text())
    }
    assert offenders == {}


# --- the registry is whole ---------------------------------------------------------------------


def test_every_linked_model_has_exactly_one_kind():
    linked_models = {model for model in LinkedRecord.__subclasses__()}
    assert linked_models == {kind.model for kind in kinds.KINDS}
    assert len(kinds.BY_SLUG) == len(kinds.BY_TAB) == len(kinds.KINDS) == 3


def test_every_kind_has_an_audit_type_and_a_unique_export_claim():
    from erp_integrations.master_kinds import MASTER_KINDS

    everything = (*kinds.KINDS, *MASTER_KINDS)
    # Every kind, and besides the kinds only the trail's entries about a user (grants and
    # revokes) and about the company as a whole.
    assert {kind.slug for kind in everything} | {"user", "company"} == set(AuditEntry.RecordType.values)
    namespaces = [kind.lock_namespace for kind in everything]
    assert len(set(namespaces)) == len(namespaces) and 1 not in namespaces  # 1 is the sync's


@pytest.mark.parametrize("kind", kinds.KINDS, ids=lambda k: k.slug)
def test_every_kind_names_what_it_needs(kind):
    assert kind.parent_field == "" or kind.model._meta.get_field(kind.parent_field).related_model
    for child in kind.child_kinds:
        assert (
            child.parent_field and child.model._meta.get_field(child.parent_field).related_model is kind.model
        )
    for field in kind.editable_fields:
        kind.model._meta.get_field(field)
    assert kind.form._meta.model is kind.model
    try:
        reverse(kind.detail_url_name, args=[1, 1])
    except NoReverseMatch:  # pragma: no cover - the assertion says which
        pytest.fail(f"{kind.slug}: no URL named {kind.detail_url_name!r}")


def test_the_erps_own_nouns():
    assert kinds.INVOICE.still_in_erp_message("sage100", "Sage 100 Contractor®") == (
        "The requisition is still in Sage 100 Contractor®. Please delete it before retrying."
    )
    assert kinds.CCO.still_in_erp_message("sage300", "Sage 300 CRE®") == (
        "The CCO is still in Sage 300 CRE®. Please delete it before retrying."
    )
    assert kinds.COMMITMENT.still_in_erp_message("sage300", "Sage 300 CRE®") == (
        "The commitment is still in Sage 300 CRE®. Please delete it before retrying."
    )
    assert kinds.CCO.erp_noun("sage100", plural=True) == "CCOs"


@pytest.mark.parametrize(
    ("reference", "record_id"),
    [
        ("commitment-12", 12),
        ("commitment-", None),
        ("commitment-1a", None),
        ("commitment-١٢", None),  # non-ASCII digits
        ("invoice-12", None),
        ("commitment-" + "9" * 19, None),
        ("xcommitment-12", None),
    ],
)
def test_an_erp_records_reference_names_its_platform_record(reference, record_id):
    assert kinds.COMMITMENT.record_id_of_reference(reference) == record_id
