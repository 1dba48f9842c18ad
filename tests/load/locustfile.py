"""Signed-in approvers browsing, searching and unlinking, for Locust (see run_load.py).

Environment (run_load.py sets it):
    LOAD_COMPANY_ID      the company whose ERP Integrations tool they use
    LOAD_SESSIONS        a file of session keys of the signed-in approver, one a line:
                         each simulated user browses with a session of its own
    LOAD_UNLINK_IDS      a file of commitment ids deleted in the ERP and seen missing by a
                         completed sync, one a line: each is unlinked once (200)
    LOAD_REFUSED_IDS     ids still in the ERP: Unlink is refused with the red message (409)
    LOAD_SEARCH_TERMS    comma-separated search terms (default: words, a number and an ERP-id prefix)

Every request is checked for what the user would see; anything else is a failure.
CSRF: the token the page gives (its hx-headers), sent in X-CSRFToken as htmx does.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import threading
from pathlib import Path

from locust import HttpUser, between, task

COMPANY_ID = os.environ.get("LOAD_COMPANY_ID", "1")
#: What people type: words, and parts of numbers and ERP ids (run_load.py --searches words
#: leaves the number and ERP-id prefixes out, to see the rest of the load without them).
SEARCH_TERMS = os.environ.get(
    "LOAD_SEARCH_TERMS", "glazing,concrete,roofing,harper,SC-0001,JC-00,phase 2,elevator"
)
SEARCH_WORDS = [term for term in SEARCH_TERMS.split(",") if term]
NEXT_CURSOR = re.compile(r"synced-after=([A-Za-z0-9_-]+)")
PAGE_TOKEN = re.compile(r'"x-csrftoken": "([^"]+)"')


def _ids(variable: str) -> list[int]:
    path = os.environ.get(variable)
    if not path or not Path(path).exists():
        return []
    return [int(line) for line in Path(path).read_text().split() if line.strip()]


def _lines(variable: str) -> list[str]:
    path = os.environ.get(variable)
    return Path(path).read_text().split() if path and Path(path).exists() else []


_lock = threading.Lock()
_sessions = itertools.cycle(_lines("LOAD_SESSIONS") or [""])
_unlinkable = iter(_ids("LOAD_UNLINK_IDS"))
_refused = _ids("LOAD_REFUSED_IDS")
_refused_cycle = itertools.cycle(_refused) if _refused else None


def _next_unlinkable() -> int | None:
    with _lock:
        return next(_unlinkable, None)


class Approver(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.tab = f"/companies/{COMPANY_ID}/erp/commitments/"
        self.list_url = f"/companies/{COMPANY_ID}/erp/commitments/synced/"
        self.invoices = f"/companies/{COMPANY_ID}/erp/subcontractor-invoices/"
        self.cursor = ""
        self.token = ""
        with _lock:
            session = next(_sessions)
        self.client.cookies.set("sessionid", session)
        self.commitments_tab()

    def _htmx(self) -> dict[str, str]:
        return {
            "HX-Request": "true",
            "HX-Current-URL": f"{self.host}{self.tab}",
            "X-CSRFToken": self.token,
            "Referer": f"{self.host}{self.tab}",
        }

    @task(5)
    def commitments_tab(self) -> None:
        with self.client.get(self.tab, name="Commitments tab", catch_response=True) as response:
            if "Commitments - Synced with" not in response.text:
                response.failure(f"not the tab ({response.status_code})")
                return
            found = NEXT_CURSOR.search(response.text)
            self.cursor = found.group(1) if found else ""
            token = PAGE_TOKEN.search(response.text)
            self.token = token.group(1) if token else self.token

    @task(3)
    def next_page(self) -> None:
        if not self.cursor:
            return self.commitments_tab()
        with self.client.get(
            self.list_url,
            params={"synced-after": self.cursor},
            headers=self._htmx(),
            name="synced list, next page (HTMX)",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or "<tbody id=" not in response.text:
                response.failure(f"no rows ({response.status_code})")
                return
            found = NEXT_CURSOR.search(response.text)
            # Walk on; back to page 1 after a while, as people do.
            self.cursor = found.group(1) if found and random.random() < 0.9 else ""

    @task(2)
    def search(self) -> None:
        word = random.choice(SEARCH_WORDS)
        with self.client.get(
            self.list_url,
            params={"synced-q": word},
            headers=self._htmx(),
            name="synced list, search (HTMX)",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"search answered {response.status_code}")

    @task(2)
    def invoices_tab(self) -> None:
        with self.client.get(
            self.invoices, name="Subcontractor Invoices tab", catch_response=True
        ) as response:
            if "Subcontractor Invoices - Synced with" not in response.text:
                response.failure(f"not the tab ({response.status_code})")

    @task(1)
    def unlink(self) -> None:
        record_id = _next_unlinkable()
        if record_id is None:
            return self.unlink_refused()
        with self.client.post(
            f"/companies/{COMPANY_ID}/erp/commitments/{record_id}/unlink/",
            headers=self._htmx(),
            name="Unlink (deleted in the ERP)",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or "Successfully Unlinked" not in response.text:
                response.failure(f"unlink answered {response.status_code}: {response.text[:200]}")

    @task(1)
    def unlink_refused(self) -> None:
        if _refused_cycle is None:
            return
        with _lock:
            record_id = next(_refused_cycle)
        with self.client.post(
            f"/companies/{COMPANY_ID}/erp/commitments/{record_id}/unlink/",
            headers=self._htmx(),
            name="Unlink refused (still in the ERP)",
            catch_response=True,
        ) as response:
            # 409 with the red message is the right answer here.
            if response.status_code == 409 and "still in" in response.text:
                response.success()
            else:
                response.failure(f"expected 409 'still in', got {response.status_code}")
