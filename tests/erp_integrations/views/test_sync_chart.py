"""The sync history's chart: server-rendered SVG of the runs, no script."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from erp_integrations.charts import HEIGHT, PAD, sync_chart
from erp_integrations.models import SyncRun
from tests.erp_integrations.views.tool_world import build_world, client_for

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


def runs(world, *rows):
    now = timezone.now()
    return SyncRun.objects.bulk_create(
        SyncRun(
            connection=world.company.erp_connection,
            status=status,
            started_at=now - timedelta(hours=len(rows) - i),
            finished_at=now - timedelta(hours=len(rows) - i) + timedelta(seconds=seconds),
            links_checked=links,
            missing_found=missing,
            drift_found=drift,
            orphans_found=orphans,
            error="ERP offline" if status == "failed" else "",
        )
        for i, (status, seconds, links, missing, drift, orphans) in enumerate(rows)
    )


def test_the_history_draws_each_measure_of_the_runs_oldest_first():
    world = build_world()
    runs(
        world,
        ("succeeded", 10, 1000, 0, 0, 0),
        ("failed", 2, 0, 0, 0, 0),
        ("succeeded", 20, 2000, 5, 3, 1),
    )
    SyncRun.objects.create(
        connection=world.company.erp_connection, status="running", started_at=timezone.now(), links_checked=7
    )

    body = client_for(world.viewer).get(reverse("erp_sync", args=[world.company.pk])).content.decode()

    chart = body.split('data-testid="sync-chart"')[1].split("</figure>")[0]
    series = dict(re.findall(r'data-label="([^"]+)".*?<polyline points="([^"]+)"', chart, re.S))
    assert list(series) == ["Duration", "Links checked", "Missing found", "Drift found", "Orphans found"]
    # Three finished runs (the running one is not drawn), each measure on its own scale:
    # the highest value touches the top, zero the baseline.
    top, bottom = PAD, HEIGHT - PAD
    assert series["Links checked"] == f"4.0,{(bottom + top) / 2:.1f} 150.0,{bottom:.1f} 296.0,{top:.1f}"
    assert series["Orphans found"].endswith(f"296.0,{top:.1f}")
    assert chart.count('data-testid="sync-chart-failed"') == 5  # the failed run, on every chart
    assert "<script" not in chart and "style=" not in chart
    assert 'aria-label="Drift found over the last 3 runs: latest 3, highest 3."' in chart


def test_no_chart_before_the_first_run():
    world = build_world()

    body = client_for(world.viewer).get(reverse("erp_sync", args=[world.company.pk])).content.decode()

    assert 'data-testid="sync-chart"' not in body
    assert sync_chart([]) is None
