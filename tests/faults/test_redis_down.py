"""Redis stops while people use the tool.

Pages and Unlink need only PostgreSQL, so they keep working. Sync now needs the
broker: with Redis down it says so politely (no 500), and once Redis is back the
sync it queues runs on a worker and completes.
"""

import re

import pytest
import requests

from erp_integrations.models import AuditEntry, SyncRun
from erp_integrations.services.sync import connection_sync
from tests.faults import support

pytestmark = [
    pytest.mark.faults,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

PAGE_TOKEN = re.compile(r'"x-csrftoken": "([^"]+)"')
FORM_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _sign_in(base: str, username: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{base}/accounts/login/", timeout=10)
    landed = browser.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": "pw", "csrfmiddlewaretoken": FORM_TOKEN.search(page.text)[1]},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=10,
    )
    assert "Commitments - Synced with" in landed.text, landed.text[:500]
    return browser


def test_pages_and_unlinks_work_without_redis_and_the_sync_resumes_when_it_returns(tmp_path):
    data = support.linked_company(commitments=4, deleted=2)
    assert (
        connection_sync(connection_id=data.company.erp_connection.pk, trigger="schedule").missing_found == 2
    )
    redis_port, web_port = support.free_port(), support.free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    base = f"http://127.0.0.1:{web_port}"
    tab = f"{base}/companies/{data.company.pk}/erp/commitments/"
    sync_now = f"{base}/companies/{data.company.pk}/erp/sync/now/"
    env = support.process_env(tmp_path, redis_url, SESSION_COOKIE_SECURE="false", CSRF_COOKIE_SECURE="false")
    web = [str(support.BIN / "gunicorn"), "erp_integrations.wsgi", "-w", "2", "-b", f"127.0.0.1:{web_port}"]

    with support.started(web, log=tmp_path / "web.log", env=env) as server:
        with support.redis_process(tmp_path, redis_port) as redis_server:
            support.wait_until(lambda: _answers(f"{base}/accounts/login/"), timeout=60, what="the web server")
            browser = _sign_in(base, "approver")
            support.stop(redis_server.proc)
        assert support.redis_is_down(redis_url)

        # Redis is down: pages and unlinks carry on.
        page = browser.get(tab, timeout=10)
        assert page.status_code == 200 and "Commitments - Synced with Sage 300 CRE®" in page.text
        token = PAGE_TOKEN.search(page.text)[1]
        htmx = {"HX-Request": "true", "HX-Current-URL": tab, "X-CSRFToken": token, "Referer": tab}
        unlinked = browser.post(f"{tab}{data.deleted[0].pk}/unlink/", headers=htmx, timeout=10)
        assert unlinked.status_code == 200 and "Successfully Unlinked" in unlinked.text
        refused = browser.post(f"{tab}{data.commitments[-1].pk}/unlink/", headers=htmx, timeout=10)
        assert refused.status_code == 409 and "still in Sage 300 CRE®" in refused.text

        # Pages that show the sync status read it from PostgreSQL, not from Redis.
        history = browser.get(f"{base}/companies/{data.company.pk}/erp/sync/", timeout=10)
        assert history.status_code == 200 and "Succeeded" in history.text

        # Redis is back: Sync now queues the run and a worker completes it.
        with (
            support.redis_process(tmp_path, redis_port),
            support.celery_worker("after-outage", env, tmp_path / "worker.log") as worker,
        ):
            support.wait_until(lambda: support.worker_ready(worker), timeout=60, what="a worker")
            queued = browser.post(sync_now, headers=htmx, data={"tab": "commitments"}, timeout=30)
            assert queued.status_code == 200 and "Sync started" in queued.text
            run = support.wait_until(
                lambda: SyncRun.objects.filter(trigger=SyncRun.Trigger.MANUAL, status="succeeded").first(),
                timeout=60,
                what="the manual sync to complete",
            )
        assert "Internal Server Error" not in server.text(), server.text()[-3000:]
    assert not SyncRun.objects.filter(trigger=SyncRun.Trigger.MANUAL).exclude(pk=run.pk).exists()

    # One link fewer (unlinked meanwhile); the other deleted record was already marked.
    assert (run.links_checked, run.missing_found, run.reappeared) == (3, 0, 0)
    assert AuditEntry.objects.filter(action="unlink", outcome="success").count() == 1
    support.assert_invariants(unlinked=1)


def test_sync_now_with_redis_down_is_refused_politely(tmp_path):
    data = support.linked_company(commitments=2, deleted=0)
    web_port = support.free_port()
    # A broker nobody listens on: Redis is down from the start.
    env = support.process_env(
        tmp_path,
        f"redis://127.0.0.1:{support.free_port()}/0",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
    )
    base = f"http://127.0.0.1:{web_port}"
    tab = f"{base}/companies/{data.company.pk}/erp/commitments/"
    sync_now = f"{base}/companies/{data.company.pk}/erp/sync/now/"
    web = [str(support.BIN / "gunicorn"), "erp_integrations.wsgi", "-w", "1", "-b", f"127.0.0.1:{web_port}"]
    with support.started(web, log=tmp_path / "web.log", env=env):
        support.wait_until(lambda: _answers(f"{base}/accounts/login/"), timeout=60, what="the web server")
        browser = _sign_in(base, "approver")
        token = PAGE_TOKEN.search(browser.get(tab, timeout=10).text)[1]
        htmx = {"HX-Request": "true", "HX-Current-URL": tab, "X-CSRFToken": token, "Referer": tab}
        queued = browser.post(sync_now, headers=htmx, data={"tab": "commitments"}, timeout=60)
        plain = browser.post(
            sync_now, data={"csrfmiddlewaretoken": token}, headers={"Referer": tab}, timeout=60
        )

    # As HTMX: the panel with a red message; as a plain form: back to the page with it.
    unreachable = "the task queue is not reachable right now"
    assert queued.status_code == 503 and unreachable in queued.text, queued.status_code
    assert "Sync started" not in queued.text
    assert plain.status_code == 200 and unreachable in plain.text and "Sync started" not in plain.text
    assert not SyncRun.objects.exists()
    support.assert_invariants(unlinked=0)
