"""A record's page keeps its link history: every ERP id it has had, who linked and
unlinked each and when, and whether a sync found the ERP record gone."""

import html
import re

import pytest

from erp_integrations import selectors
from erp_integrations.kinds import kind_of
from erp_integrations.models import ErpLink
from tests import factories
from tests.erp_integrations.views.tool_world import (
    action_url,
    build_world,
    client_for,
    csrf_token,
    delete_in_erp_and_sync,
    post,
    synced_commitment,
    tab_url,
)

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


def history_rows(response) -> list[str]:
    rows = re.findall(r'<tr data-testid="link-history-row".*?</tr>', response.content.decode(), re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split()) for row in rows]


def unlinked_and_exported_again(world):
    """SC-12 exported, deleted in the ERP, unlinked by the approver, then exported again."""
    commitment = synced_commitment(world, number="SC-12")
    first_erp_id = commitment.erp_id
    delete_in_erp_and_sync(commitment)
    client = client_for(world.approver)
    response = post(
        client, action_url(commitment, "unlink"), htmx=True, token=csrf_token(client, tab_url(world.company))
    )
    assert response.status_code == 200
    commitment.refresh_from_db()
    factories.link(commitment, by=world.approver)
    assert commitment.erp_id != first_erp_id
    return commitment, first_erp_id


def test_a_records_page_lists_its_past_erp_ids_newest_first_with_who_unlinked_and_when():
    world = build_world()
    commitment, first_erp_id = unlinked_and_exported_again(world)

    response = client_for(world.viewer).get(kind_of(commitment).detail_url(commitment))

    assert response.status_code == 200
    rows = history_rows(response)
    assert len(rows) == 2
    # The live link first, then the one unlinked.
    assert rows[0].startswith(f"{commitment.erp_id} Linked now ")
    assert "by approver" in rows[0]
    old = ErpLink.objects.get(erp_id=first_erp_id)
    assert rows[1].startswith(f"{first_erp_id} ")
    assert "Linked now" not in rows[1]
    assert old.unlinked_at is not None and old.unlinked_by == world.approver
    assert f'datetime="{old.unlinked_at.isoformat()}"' in response.content.decode()
    assert "by approver" in rows[1].split(" UTC", 1)[1]
    assert "Deleted in Sage 300 CRE® found by the sync of" in rows[1]


def test_a_record_never_exported_has_no_link_history():
    world = build_world()
    draft = factories.commitment(project=world.project, vendor=world.vendor, number="SC-40")

    response = client_for(world.viewer).get(kind_of(draft).detail_url(draft))

    assert response.status_code == 200
    assert 'data-testid="link-history"' not in response.content.decode()


def test_the_link_history_is_one_query_however_many_links(django_assert_num_queries):
    world = build_world()
    commitment, _ = unlinked_and_exported_again(world)

    with django_assert_num_queries(1):
        history = selectors.record_link_history(kind=kind_of(commitment), record=commitment)
        # Who linked and unlinked, and the run that found it missing, come along.
        people = [(link.linked_by, link.unlinked_by, link.missing_since) for link in history]
    assert len(people) == 2
