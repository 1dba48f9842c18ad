"""The accounting approver's day in the browser: a bulk unlink of three rows (green, red,
refused for linked children), a bulk export of 500 rows behind a progress bar, Retrieve,
Resend after a rejection, and the rejection notice and daily summary arriving at a real
SMTP server with links that open the right pages."""

from __future__ import annotations

import re
import threading
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.db import connections
from playwright.sync_api import expect

from accounts.models import Company, User
from erp_integrations.celery import app
from erp_integrations.models import Commitment, CommitmentLineItem, ExportState, Vendor
from erp_integrations.sandbox.services import sandbox_delete
from erp_integrations.services.sync import connection_sync
from erp_integrations.tasks import send_digests
from tests.browser.steps import (
    GREEN_UNLINKED,
    RED_COMMITMENT,
    expect_green,
    expect_red,
    open_erp_tool,
    open_tab,
    record_list,
    record_row,
    sign_in,
)
from tests.erp_integrations.broker import take_sent_tasks
from tests.erp_integrations.smtp import parts, smtp_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

COMPANY = "Northwind Builders"
SYNCED = "Commitments - Synced with Sage 300 CRE®"
READY = "Commitments - Ready to Export"


def _commitment(project: str, number: str) -> Commitment:
    return Commitment.objects.select_related("company__erp_connection").get(
        company__name=COMPANY, project__name=project, number=number
    )


def _delete_in_erp_and_sync(record: Commitment) -> None:
    connection = record.company.erp_connection
    sandbox_delete(erp_system=connection.erp_system, kind="commitment", erp_id=record.erp_id)
    assert connection_sync(connection_id=connection.pk, trigger="command").status == "succeeded"


def _result(page, record_id: int):
    return page.locator(f'[data-testid="bulk-result"][data-record-id="{record_id}"]')


def test_bulk_unlink_of_three_rows_green_red_and_refused_for_children(demo, new_context, shots):
    green = _commitment("Harbor Tower", "SC-002")
    red = _commitment("Riverside Clinic", "SC-002")
    parent = _commitment("Harbor Tower", "SC-001")
    _delete_in_erp_and_sync(green)
    page = sign_in(new_context(), "approver")
    open_erp_tool(page, COMPANY)
    open_tab(page, "Commitments")
    synced = record_list(page, SYNCED)

    for record in (green, red, parent):
        synced.get_by_role("checkbox", name=f"Select {record.number}, {record.project.name}").check()
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/bulk/")) as reply:
        synced.get_by_role("button", name="Unlink selected").click()
    assert reply.value.status == 200

    expect_green(_result(page, green.pk), GREEN_UNLINKED)
    expect_red(_result(page, red.pk), RED_COMMITMENT)
    expect_red(_result(page, parent.pk), "This commitment has")
    expect(_result(page, parent.pk)).to_contain_text("Unlink them first, then unlink the commitment.")
    shots(page, "bulk-unlink-results")
    # And in place, where each row is: the red ones keep their row with the words under
    # it; the unlinked one is replaced by its green words.
    expect_red(record_row(synced, red.pk).get_by_test_id("row-message"), RED_COMMITMENT)
    expect(record_row(synced, red.pk).get_by_role("button", name="Unlink")).to_be_visible()
    expect_red(record_row(synced, parent.pk).get_by_test_id("row-message"), "This commitment has")
    expect_green(record_row(synced, green.pk).get_by_test_id("row-message"), GREEN_UNLINKED)
    expect(record_row(synced, green.pk).get_by_role("button", name="Unlink")).to_have_count(0)
    shots(page, "bulk-unlink-in-place")
    green.refresh_from_db()
    red.refresh_from_db()
    assert green.erp_id is None and red.erp_id is not None


def test_bulk_export_of_500_rows_runs_behind_a_progress_bar(demo, new_context, shots):
    take_sent_tasks()
    first = _commitment("Harbor Tower", "SC-002")
    vendor = Vendor.objects.get(pk=first.vendor_id)
    made = Commitment.objects.bulk_create(
        Commitment(
            company_id=first.company_id,
            project_id=first.project_id,
            vendor=vendor,
            number=f"BULK-{n:03d}",
            title="Bulk load test",
            amount=Decimal("100.00"),
            status=Commitment.Status.APPROVED,
            export_state=ExportState.READY,
        )
        for n in range(500)
    )
    # What Sage 300 CRE® asks of a commitment: a line with a cost code.
    CommitmentLineItem.objects.bulk_create(
        CommitmentLineItem(commitment=commitment, cost_code="03-300", amount=Decimal("100.00"))
        for commitment in made
    )
    page = sign_in(new_context(), "approver")
    open_erp_tool(page, COMPANY)
    open_tab(page, "Commitments")
    ready = record_list(page, READY)
    ready.get_by_role("searchbox").fill("Bulk load")
    expect(ready.get_by_test_id("bulk-all")).to_be_visible()
    expect(ready.locator("label.bulk-all")).to_contain_text("matching this search")
    ready.get_by_test_id("bulk-all").check()
    ready.get_by_role("button", name="Export selected").click()

    # More than 100 rows: the progress page, polling while a worker runs.
    bar = page.get_by_test_id("bulk-progress-bar")
    expect(bar).to_have_attribute("max", "500")
    expect(page.get_by_test_id("bulk-progress")).to_have_attribute("data-status", "queued")
    shots(page, "bulk-export-queued")
    [queued] = take_sent_tasks()

    def worker():
        try:
            app.tasks[queued.task](*queued.args)
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    expect(page.get_by_test_id("bulk-progress")).to_have_attribute("data-status", "running", timeout=20_000)
    shots(page, "bulk-export-running")
    thread.join(timeout=120)
    assert not thread.is_alive()
    expect(page.get_by_test_id("bulk-progress")).to_have_attribute("data-status", "done", timeout=20_000)
    expect(bar).to_have_attribute("value", "500")
    expect(page.get_by_test_id("bulk-progress-text")).to_contain_text(
        "500 of 500 rows done (100%): 500 succeeded."
    )
    expect(page.get_by_test_id("bulk-result")).to_have_count(500)
    shots(page, "bulk-export-done")
    assert (
        Commitment.objects.filter(number__startswith="BULK-", export_state=ExportState.SYNCED).count() == 500
    )


def test_retrieve_takes_a_ready_record_back_and_off_the_approvers_list(demo, new_context, shots):
    record = _commitment("Harbor Tower", "SC-003")
    assert record.export_state == ExportState.READY
    page = sign_in(new_context(), "pm")
    page.goto(f"/projects/{record.project_id}/commitments/{record.pk}/")
    badge = page.locator("header.page-header").get_by_test_id("export-state")
    expect(badge).to_have_attribute("data-badge", "sent")

    page.get_by_role("button", name="Retrieve").click()

    expect(badge).to_have_attribute("data-badge", "retrieved")
    expect(badge).to_have_text("Retrieved · Draft")
    shots(page, "retrieved")
    approver = sign_in(new_context(), "approver")
    open_erp_tool(approver, COMPANY)
    open_tab(approver, "Commitments")
    ready = record_list(approver, READY)
    expect(record_row(ready, record.pk)).to_have_count(0)


def test_resend_after_a_rejection_shows_the_reason_then_goes_back_to_ready(demo, new_context, shots):
    record = _commitment("Harbor Tower", "SC-005")
    assert record.export_state == ExportState.REJECTED
    page = sign_in(new_context(), "pm")
    page.goto(f"/projects/{record.project_id}/commitments/{record.pk}/")
    expect(page.get_by_test_id("rejection-reason")).to_contain_text(record.rejection_reason)
    expect(page.locator("header.page-header").get_by_test_id("export-state")).to_have_attribute(
        "data-badge", "rejected"
    )
    shots(page, "rejected")

    page.get_by_role("button", name="Resend to Accounting").click()

    expect(page.locator("header.page-header").get_by_test_id("export-state")).to_have_attribute(
        "data-badge", "sent"
    )
    expect(page.get_by_test_id("rejection-reason")).to_have_count(0)
    shots(page, "resent")
    approver = sign_in(new_context(), "approver")
    open_erp_tool(approver, COMPANY)
    open_tab(approver, "Commitments")
    ready = record_list(approver, READY)
    expect(record_row(ready, record.pk)).to_have_count(1)


def _run_queued_tasks() -> None:
    for message in take_sent_tasks():
        app.tasks[message.task](*message.args, **message.kwargs)


def _link(text: str, live_server) -> str:
    found = re.search(re.escape(live_server.url) + r"/\S+", text)
    assert found, text
    return urlsplit(found.group(0)).path


def test_the_rejection_notice_and_the_daily_summary_arrive_with_working_links(
    demo, new_context, shots, settings, live_server
):
    take_sent_tasks()
    settings.SITE_URL = live_server.url
    User.objects.filter(username__in=["pm", "approver"]).update(email="")
    User.objects.filter(username="pm").update(email="pm@northwind.example")
    User.objects.filter(username="approver").update(email="approver@northwind.example")
    record = _commitment("Riverside Clinic", "SC-003")
    Commitment.objects.filter(pk=record.pk).update(sent_by=User.objects.get(username="pm"))
    with smtp_server(settings) as inbox:
        approver = sign_in(new_context(), "approver")
        open_erp_tool(approver, COMPANY)
        open_tab(approver, "Commitments")
        row = record_row(record_list(approver, READY), record.pk)
        row.get_by_role("link", name="Reject").click()
        dialog = approver.get_by_role("dialog", name=f"Reject {record.number}")
        dialog.get_by_label(f"Reason for rejecting {record.number}").fill("Attach the signed exhibit B")
        with approver.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/reject/")):
            dialog.get_by_role("button", name="Reject").click()
        _run_queued_tasks()  # the worker's part

        [notice] = inbox.to("pm@northwind.example")
        text, html = parts(notice)
        assert "Reason: Attach the signed exhibit B" in text
        pm = sign_in(new_context(), "pm")
        pm.goto(_link(text, live_server))
        expect(pm.get_by_test_id("rejection-reason")).to_contain_text("Attach the signed exhibit B")
        shots(pm, "rejection-notice-link")

        company = Company.objects.get(name=COMPANY)
        settings.DIGEST_HOUR = datetime.now(ZoneInfo(company.time_zone)).hour
        send_digests.apply()
        # One summary per company the approver approves in (the demo's two).
        digests = {m["Subject"]: m for m in inbox.to("approver@northwind.example")}
        assert len(digests) == 2
        [northwind] = [m for subject, m in digests.items() if subject.endswith(f"waiting in {COMPANY}")]
        text, html = parts(northwind)
        assert "Commitments:" in text
        assert 'href="' + live_server.url in html
        approver.goto(_link(text, live_server))
        expect(approver.get_by_role("heading", name="ERP Integrations", level=1)).to_be_visible()
        expect(record_list(approver, READY)).to_be_visible()
        shots(approver, "digest-link")
