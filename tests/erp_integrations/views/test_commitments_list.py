"""The project picker and the list of a project's commitments."""

from http import HTTPStatus
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from accounts.models import PermissionLevel
from erp_integrations.models import ExportState
from erp_integrations.views.commitments import PAGE_SIZE
from tests import factories
from tests.erp_integrations.views.commitments_world import build_world, text_of


@pytest.fixture
def world(db):
    return build_world()


def _list_url(world, **query):
    url = reverse("commitment_list", args=[world.project.pk])
    if query:
        url += "?" + urlencode(query)
    return url


def _numbers(response) -> list[str]:
    return [c.number for c in response.context["commitments"]]


# --- project picker ------------------------------------------------------------------


def test_the_picker_lists_projects_with_access_to_the_commitments_tool(world):
    hidden = factories.project(company=world.company, name="No access here")
    world.pm.project_permissions.create(project=hidden, commitments_level=PermissionLevel.NONE)

    response = world.client(world.pm).get(reverse("project_list"))

    assert response.status_code == HTTPStatus.OK
    assert list(response.context["projects"]) == [world.project]
    body = response.content.decode()
    assert 'data-testid="project-row"' in body
    assert reverse("commitment_list", args=[world.project.pk]) in body
    assert "No access here" not in body


def test_the_picker_needs_a_place_in_the_company_directory(world):
    # A project permission left over after the user left the company's directory.
    world.outsider.project_permissions.create(project=world.project, commitments_level=PermissionLevel.ADMIN)
    response = world.client(world.outsider).get(reverse("project_list"))
    assert world.project not in response.context["projects"]
    assert list(world.client(world.member).get(reverse("project_list")).context["projects"]) == []


def test_the_picker_sends_anonymous_users_to_sign_in(world):
    response = world.client(None).get(reverse("project_list"))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("login"))


# --- list ----------------------------------------------------------------------------


def test_the_list_shows_the_projects_commitments_with_their_state(world):
    draft = factories.commitment(project=world.project, number="SC-1", title="Formwork")
    factories.commitment(project=world.project, number="SC-2", export_state=ExportState.READY)
    factories.commitment(project=factories.project(company=world.company), number="SC-9")

    response = world.client(world.viewer).get(_list_url(world))

    assert response.status_code == HTTPStatus.OK
    assert _numbers(response) == ["SC-1", "SC-2"]
    body = response.content.decode()
    assert body.count('data-testid="commitment-row"') == 2
    assert reverse("commitment_detail", args=[world.project.pk, draft.pk]) in body
    assert 'data-state="ready"' in body and "Ready to Export" in body
    # A viewer cannot create.
    assert 'data-testid="new-commitment"' not in body
    assert 'data-testid="new-commitment"' in world.client(world.pm).get(_list_url(world)).content.decode()


@pytest.mark.django_db(databases="__all__")
def test_a_synced_commitment_shows_the_erp_name_and_id(world):
    synced = factories.link(factories.commitment(project=world.project))
    body = world.client(world.viewer).get(_list_url(world)).content.decode()
    assert "Synced with Sage 300 CRE®" in body
    assert synced.erp_id in body
    assert 'data-testid="locked-badge"' in body


def test_search_by_number_or_title(world):
    factories.commitment(project=world.project, number="SC-1", title="Formwork")
    factories.commitment(project=world.project, number="PO-7", title="Rebar supply")
    client = world.client(world.viewer)
    assert _numbers(client.get(_list_url(world, q="rebar"))) == ["PO-7"]
    assert _numbers(client.get(_list_url(world, q="sc-"))) == ["SC-1"]
    assert "No commitment matches" in client.get(_list_url(world, q="zzz")).content.decode()


def test_pages_follow_the_number_without_counting(world):
    for n in range(PAGE_SIZE + 3):
        factories.commitment(project=world.project, number=f"SC-{n:03d}", cost_code=None)
    client = world.client(world.viewer)

    first = client.get(_list_url(world))
    assert _numbers(first) == [f"SC-{n:03d}" for n in range(PAGE_SIZE)]
    assert first.context["next_query"] == f"?after=SC-{PAGE_SIZE - 1:03d}"

    second = client.get(_list_url(world) + first.context["next_query"])
    assert _numbers(second) == [f"SC-{n:03d}" for n in range(PAGE_SIZE, PAGE_SIZE + 3)]
    assert second.context["next_query"] == ""
    assert 'data-testid="first-page"' in second.content.decode()


@pytest.mark.parametrize("rows", [3, PAGE_SIZE + 5])
def test_the_list_costs_the_same_queries_at_any_size(world, rows, django_assert_num_queries):
    for n in range(rows):
        factories.commitment(project=world.project, number=f"SC-{n:03d}", cost_code=None)
    client = world.client(world.viewer)
    # 1) session, 2) user, 3) project with company and ERP connection, 4) directory entry,
    # 5) the user's project levels, 6) one page of commitments with their vendors.
    with django_assert_num_queries(6):
        response = client.get(_list_url(world))
    assert len(response.context["commitments"]) == min(rows, PAGE_SIZE)


def test_the_list_refuses_members_without_the_tool_and_hides_from_outsiders(world):
    response = world.client(world.member).get(_list_url(world))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert (
        "view commitments needs 'Read Only' or 'Standard' or 'Admin' "
        "on the Commitments tool of project 'Tower'."
    ) in text_of(response)
    assert world.client(world.outsider).get(_list_url(world)).status_code == HTTPStatus.NOT_FOUND
    unknown = reverse("commitment_list", args=[999_999])
    assert world.client(world.pm).get(unknown).status_code == HTTPStatus.NOT_FOUND


def test_the_list_is_read_only_to_http(world):
    response = world.client(world.pm).post(_list_url(world))
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
