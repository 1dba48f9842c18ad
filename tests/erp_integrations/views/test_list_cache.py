"""A tab's lists are kept by the company's data version (PostgreSQL).

The version is a count of change marks the database writes itself (statement triggers on
the records, their links, projects and vendors), so no write path can forget it: the
ORM, a set-based UPDATE, raw SQL. It counts committed marks rather than taking the
newest one's id, so a transaction that commits after a later one still moves it.
"""

import re

import psycopg
import pytest
from django.db import connection
from django.middleware.csrf import _unmask_cipher_token

from accounts.models import PermissionLevel, ProjectPermission
from erp_integrations.models import Commitment, DataChange, ErpLink, SubcontractorInvoice, Vendor
from erp_integrations.services.data_version import company_data_version, fold
from erp_integrations.services.sync import connection_sync
from erp_integrations.views.tool import LIST_CACHE
from tests.erp_integrations.views.tool_world import (
    action_tags,
    build_world,
    client_for,
    htmx_get,
    list_url,
    other_session_conninfo,
    ready_commitment,
    synced_change_order,
    synced_commitment,
    synced_invoice,
    tab_url,
)

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(databases="__all__")]

DISABLED = re.compile(r"\sdisabled\b")
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _commitment_title(world, record, title):
    record.title = title
    record.save()


def _commitments_updated(world, record, title):
    Commitment.objects.filter(pk=record.pk).update(title=title)


def _raw_sql(world, record, title):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE erp_integrations_commitment SET title = %s WHERE id = %s", [title, record.pk])


def _project_renamed(world, record, title):
    type(world.project).objects.filter(pk=world.project.pk).update(name=title)


def _vendor_renamed(world, record, title):
    Vendor.objects.filter(pk=record.vendor_id).update(name=title)


def _link_updated(world, record, title):
    ErpLink.objects.filter(pk=record.link_id).update(missing_since_id=None, erp_id=record.erp_id)


def _invoice_deleted(world, record, title):
    # The invoice was made before the version was read (see the test).
    SubcontractorInvoice.objects.filter(commitment=record).delete()


def _change_order_added(world, record, title):
    synced_change_order(world, record)


def _level_changed(world, record, title):
    ProjectPermission.objects.filter(user=world.pm, project=world.project).update(
        commitments_level=PermissionLevel.READ_ONLY
    )


def _level_granted(world, record, title):
    ProjectPermission.objects.create(
        user=world.outsider, project=world.project, commitments_level=PermissionLevel.ADMIN
    )


@pytest.mark.parametrize(
    "write",
    [
        _commitment_title,
        _commitments_updated,
        _raw_sql,
        _project_renamed,
        _vendor_renamed,
        _link_updated,
        _invoice_deleted,
        _change_order_added,
        _level_changed,
        _level_granted,
    ],
)
def test_every_write_path_moves_the_version_of_its_company_only(write):
    world = build_world()
    record = synced_commitment(world)
    synced_invoice(world, record)
    other = world.other_project.company_id
    before, other_before = company_data_version(world.company.pk), company_data_version(other)

    write(world, record, "Curtain wall")

    assert company_data_version(world.company.pk) > before
    assert company_data_version(other) == other_before


def test_a_kept_list_shows_a_change_made_behind_the_orms_back():
    world = build_world()
    record = synced_commitment(world, title="Concrete")
    client = client_for(world.approver)
    assert "Concrete" in client.get(tab_url(world.company)).content.decode()
    kept = len(LIST_CACHE)
    assert "Concrete" in client.get(tab_url(world.company)).content.decode()
    assert len(LIST_CACHE) == kept

    _raw_sql(world, record, "Curtain wall & glazing")

    body = client.get(tab_url(world.company)).content.decode()
    assert "Curtain wall &amp; glazing" in body and ">Concrete<" not in body
    fragment = htmx_get(
        client, list_url(world.company, "commitments", "synced"), current=tab_url(world.company)
    )
    assert "Curtain wall &amp; glazing" in fragment.content.decode()


def test_a_kept_list_takes_this_responses_csrf_token():
    world = build_world()
    synced_commitment(world)
    client = client_for(world.approver)
    client.get(tab_url(world.company))

    first = client.get(tab_url(world.company)).content.decode()
    second = client.get(tab_url(world.company)).content.decode()

    tokens = []
    for body in (first, second):
        form = re.search(r'<form id="commitments-synced-act" method="post" hidden>.*?</form>', body, re.S)[0]
        tokens.append(TOKEN.search(form)[1])
        assert "erp:csrf" not in body
    # Masked afresh for each response, of this browser's one secret.
    assert tokens[0] != tokens[1]
    assert {_unmask_cipher_token(token) for token in tokens} == {client.cookies["csrftoken"].value}


def test_users_with_other_access_do_not_share_a_kept_list():
    world = build_world()
    synced_commitment(world)
    ready_commitment(world)

    approver = client_for(world.approver).get(tab_url(world.company)).content.decode()
    pm = client_for(world.pm).get(tab_url(world.company)).content.decode()

    assert re.search(r"<button [^>]*\sdisabled\b", approver) is None
    assert re.search(r"<button [^>]*\sdisabled\b", pm)
    assert 'data-testid="denied-reason"' in pm


def _unlink_button(client, world) -> str:
    body = client.get(tab_url(world.company)).content.decode()
    (button,) = action_tags(body, "unlink")
    return button


def test_a_kept_list_follows_a_change_to_the_users_level_on_a_project():
    """The levels' key is kept by the data version, which a level change moves: the list
    is made again with the new level, not served under the old level's key."""
    world = build_world()
    synced_commitment(world)
    client = client_for(world.approver)
    assert not DISABLED.search(_unlink_button(client, world))
    kept = len(LIST_CACHE)
    assert not DISABLED.search(_unlink_button(client, world))
    assert len(LIST_CACHE) == kept

    ProjectPermission.objects.filter(user=world.approver, project=world.project).update(
        commitments_level=PermissionLevel.READ_ONLY
    )

    assert DISABLED.search(_unlink_button(client, world))


def test_folding_keeps_the_version_and_clears_the_marks():
    world = build_world()
    record = synced_commitment(world)
    for title in ("A", "B", "C"):
        _commitments_updated(world, record, title)
    version = company_data_version(world.company.pk)
    assert DataChange.objects.filter(company_id=world.company.pk).count() >= 3

    fold(world.company.pk)
    fold(world.company.pk)

    assert DataChange.objects.filter(company_id=world.company.pk).count() == 0
    assert company_data_version(world.company.pk) == version
    _commitments_updated(world, record, "D")
    assert company_data_version(world.company.pk) == version + 1


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_version_counts_commits_not_the_newest_mark():
    """A transaction that wrote first but commits last still moves the version: a list
    kept in between (without its change) is not served after it commits."""
    world = build_world()
    first, second = synced_commitment(world), synced_commitment(world)
    conninfo = other_session_conninfo()
    update = "UPDATE erp_integrations_commitment SET title = %s WHERE id = %s"
    with psycopg.connect(conninfo) as slow, psycopg.connect(conninfo) as quick:
        slow.execute(update, ["Slow", first.pk])  # its mark is written first, not committed
        quick.execute(update, ["Quick", second.pk])
        quick.commit()
        between = company_data_version(world.company.pk)
        slow.commit()
        after = company_data_version(world.company.pk)

    assert after > between


def test_each_sync_run_folds_the_marks_written_before_it():
    world = build_world()
    record = synced_commitment(world)
    for title in ("A", "B"):
        _commitments_updated(world, record, title)
    before = list(DataChange.objects.filter(company_id=world.company.pk).values_list("id", flat=True))
    version = company_data_version(world.company.pk)
    assert before

    run = connection_sync(connection_id=world.company.erp_connection.pk, trigger="command")

    assert run.status == "succeeded"
    assert not DataChange.objects.filter(pk__in=before).exists()
    assert company_data_version(world.company.pk) >= version
