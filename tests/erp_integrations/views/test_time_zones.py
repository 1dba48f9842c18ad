"""Times in the user's own time zone, with the UTC time when pointed at (``title``)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from erp_integrations.kinds import kind_of
from erp_integrations.models import AuditEntry, Commitment, ErpLink, SyncRun
from erp_integrations.services.audit import audit_record
from tests.erp_integrations.views.tool_world import (
    build_world,
    client_for,
    csrf_token,
    synced_commitment,
    tab_url,
)

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]

#: 1 October 2026, 14:05 UTC: 10:05 in New York (EDT), 23:05 in Tokyo.
SYNCED_AT = datetime(2026, 10, 1, 14, 5, 30, tzinfo=UTC)


def times(html: str) -> list[tuple[str, str, str]]:
    """Every <time> of a page: (datetime, title, the text shown)."""
    found = re.findall(r'<time datetime="([^"]*)" title="([^"]*)">(.*?)</time>', html, re.S)
    return [(iso, title, " ".join(re.sub(r"<[^>]+>", " ", shown).split())) for iso, title, shown in found]


def synced_at_a_known_time(world) -> Commitment:
    commitment = synced_commitment(world, number="SC-12")
    # The record's copy of the link's time moves with the link (a constraint holds them equal).
    with transaction.atomic():
        ErpLink.objects.filter(pk=commitment.link_id).update(linked_at=SYNCED_AT)
        Commitment.objects.filter(pk=commitment.pk).update(linked_at=SYNCED_AT)
    return commitment


def in_new_york(user):
    user.time_zone = "America/New_York"
    user.save(update_fields=["time_zone"])
    return user


def test_a_synced_row_shows_when_in_the_users_time_zone_with_utc_on_hover():
    world = build_world()
    commitment = synced_at_a_known_time(world)
    in_new_york(world.viewer)

    body = client_for(world.viewer).get(tab_url(world.company)).content.decode()

    row = body.split(f'id="synced-commitment-{commitment.pk}"')[1].split("</tbody>")[0]
    assert times(row) == [("2026-10-01T14:05:30Z", "1 Oct 2026, 14:05 UTC", "1 Oct 2026 10:05 EDT")]


def test_a_user_who_chose_no_time_zone_sees_utc():
    world = build_world()
    commitment = synced_at_a_known_time(world)
    assert world.approver.time_zone == "UTC"

    body = client_for(world.approver).get(tab_url(world.company)).content.decode()

    row = body.split(f'id="synced-commitment-{commitment.pk}"')[1].split("</tbody>")[0]
    assert times(row) == [("2026-10-01T14:05:30Z", "1 Oct 2026, 14:05 UTC", "1 Oct 2026 14:05 UTC")]


def test_the_sync_panel_and_history_show_local_times():
    world = build_world()
    SyncRun.objects.create(
        connection=world.company.erp_connection,
        status=SyncRun.Status.SUCCEEDED,
        started_at=SYNCED_AT,
        finished_at=SYNCED_AT + timedelta(minutes=1),
    )
    world.viewer.time_zone = "Asia/Tokyo"
    world.viewer.save(update_fields=["time_zone"])

    body = client_for(world.viewer).get(reverse("erp_sync", args=[world.company.pk])).content.decode()

    shown = times(body)
    # The panel: last sync (finished) and the next run; the history: when the run started.
    assert ("2026-10-01T14:06:30+00:00", "1 Oct 2026, 14:06 UTC", "1 Oct 2026, 23:06 JST") in shown
    assert ("2026-10-01T14:05:30+00:00", "1 Oct 2026, 14:05:30 UTC", "1 Oct 2026, 23:05:30 JST") in shown
    next_run = next(time for time in shown if time[2].endswith("JST") and len(time[2]) == len("00:00 JST"))
    assert next_run[1].endswith(" UTC")


def test_the_audit_trail_shows_local_times():
    world = build_world()
    commitment = synced_commitment(world, number="SC-12")
    # Only this entry: not the world's grants of the privilege.
    AuditEntry.objects.all().delete()
    audit_record(
        user=world.approver, action="unlink", record=commitment, erp_system="sage300", outcome="success"
    )
    AuditEntry.objects.update(created_at=SYNCED_AT)
    in_new_york(world.viewer)

    body = client_for(world.viewer).get(reverse("erp_audit", args=[world.company.pk])).content.decode()

    assert times(body) == [
        ("2026-10-01T14:05:30+00:00", "1 Oct 2026, 14:05:30 UTC", "1 Oct 2026, 10:05:30 EDT")
    ]


def test_a_records_page_shows_when_it_was_synced_in_local_time():
    world = build_world()
    commitment = synced_at_a_known_time(world)
    in_new_york(world.viewer)

    body = client_for(world.viewer).get(kind_of(commitment).detail_url(commitment)).content.decode()

    synced = body.split('data-testid="linked-at"')[1].split("</dd>")[0]
    assert times(synced) == [("2026-10-01T14:05:30+00:00", "1 Oct 2026, 14:05 UTC", "1 Oct 2026, 10:05 EDT")]


def test_a_time_zone_must_be_one_the_world_knows():
    world = build_world()
    world.pm.time_zone = "Mars/Olympus_Mons"
    with pytest.raises(ValidationError, match="not a time zone"):
        world.pm.full_clean()
    world.pm.time_zone = "Europe/London"
    world.pm.full_clean()


def test_a_user_picks_their_own_time_zone_on_their_settings_page():
    world = build_world()
    commitment = synced_at_a_known_time(world)
    client = client_for(world.pm)
    settings_url = reverse("account_settings")
    token = csrf_token(client, settings_url)

    chosen = {"time_zone": "America/New_York", "csrfmiddlewaretoken": token}
    saved = client.post(settings_url, chosen, follow=True)

    assert "Times are now shown in America/New York." in saved.content.decode()
    world.pm.refresh_from_db()
    assert world.pm.time_zone == "America/New_York"
    row = client.get(tab_url(world.company)).content.decode()
    row = row.split(f'id="synced-commitment-{commitment.pk}"')[1].split("</tbody>")[0]
    assert times(row)[0][2] == "1 Oct 2026 10:05 EDT"


def test_a_zone_that_does_not_exist_is_refused_and_nothing_changes():
    world = build_world()
    client = client_for(world.pm)
    settings_url = reverse("account_settings")
    token = csrf_token(client, settings_url)

    response = client.post(settings_url, {"time_zone": "Mars/Olympus_Mons", "csrfmiddlewaretoken": token})

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    world.pm.refresh_from_db()
    assert world.pm.time_zone == "UTC"


def test_signed_out_visitors_are_sent_to_sign_in_from_the_settings_page():
    response = client_for(None).get(reverse("account_settings"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
