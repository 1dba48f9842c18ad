"""The master-kind registry is the only place that knows which master kind a record is.

As for record kinds (``test_kinds``): outside ``erp_integrations/master_kinds.py`` no
module of the platform (nor template) asks whether it deals with a job, a vendor or a
cost code. The sandbox ERPs stand for the ERPs themselves, which keep each kind in its
own shape, so their store and formats are not the platform's code and are left out.
"""

from __future__ import annotations

import ast
import re

import pytest
from django.urls import reverse

from erp_integrations import master_kinds
from erp_integrations.connectors import get_connector
from erp_integrations.models import AuditEntry
from tests.erp_integrations.test_kinds import CODE, ROOT, TEMPLATES

ALLOWED = {ROOT / "erp_integrations" / "master_kinds.py", ROOT / "erp_integrations" / "models.py"}
SANDBOX = ROOT / "erp_integrations" / "sandbox"
MASTER_MODELS = {kind.model.__name__ for kind in master_kinds.MASTER_KINDS}
MASTER_WORDS = {kind.slug for kind in master_kinds.MASTER_KINDS} | {
    kind.tab_slug for kind in master_kinds.MASTER_KINDS
}


def _code_files():
    return [
        path
        for path in CODE
        if path not in ALLOWED and "migrations" not in path.parts and SANDBOX not in path.parents
    ]


def _names_model(node: ast.AST) -> bool:
    if isinstance(node, ast.Tuple):
        return any(_names_model(element) for element in node.elts)
    return (isinstance(node, ast.Name) and node.id in MASTER_MODELS) or (
        isinstance(node, ast.Attribute) and node.attr in MASTER_MODELS
    )


def master_branches(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in {"isinstance", "issubclass"}:
            if len(node.args) == 2 and _names_model(node.args[1]):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            words = {o.value for o in operands if isinstance(o, ast.Constant) and isinstance(o.value, str)}
            if any(_names_model(o) for o in operands) or words & MASTER_WORDS:
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


TEMPLATE_BRANCH = re.compile(
    r"{%\s*(?:el)?if\b[^%]*(?:==|!=)\s*[\"'](" + "|".join(sorted(map(re.escape, MASTER_WORDS))) + r")[\"']"
)


def test_the_detector_finds_each_way_of_branching_on_a_master_kind():
    source = """
if isinstance(record, Vendor): pass
if model is CostCode: pass
if kind.slug == "job": pass
if tab == "cost-codes": pass
"""
    assert len(master_branches(source)) == 4
    assert TEMPLATE_BRANCH.search('{% if kind.tab_slug == "companies" %}')


@pytest.mark.parametrize("path", _code_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_outside_the_registry_branches_on_a_master_kind(path):
    assert master_branches(path.read_text()) == []


def test_no_template_branches_on_a_master_kind():
    assert TEMPLATES
    assert [str(p.relative_to(ROOT)) for p in TEMPLATES if TEMPLATE_BRANCH.search(p.read_text())] == []


@pytest.mark.parametrize("kind", master_kinds.MASTER_KINDS, ids=lambda k: k.slug)
def test_every_master_kind_names_what_it_needs(kind):
    for name in (kind.name_field, kind.erp_id_field):
        kind.model._meta.get_field(name)
    assert kind.audit_type in AuditEntry.RecordType.values
    for erp_system in ("sage300", "sage100"):
        assert callable(getattr(get_connector(erp_system), kind.connector_validate))
    reverse("erp_master_tab", kwargs={"company_id": 1, "master_tab": kind.tab_slug})
