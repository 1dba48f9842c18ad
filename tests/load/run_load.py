"""Load test: gunicorn on loopback, Locust headless, a table of what it sustained.

    python tests/load/run_load.py [--db erp_bench_pages_1000000] [--size 1000000]
                                  [--users 10,25,50] [--duration 60] [--workers 4]
                                  [--markdown out.md]
    python tests/load/run_load.py --wrk [--connections 4] [--duration 20] [--workers 2]
                                  [--db ...] [--company bench]

--wrk: instead of Locust (whose Python costs as much CPU as the server it measures),
wrk (Debian package ``wrk``, a C load generator) hammers one request at a time with
--connections connections: the sign-in page (the floor: the cheapest page), the
Commitments tab, the synced list's HTMX fragment, a ``JC-00`` prefix search, the sync
panel's repeated poll (conditional GET) and HTMX Unlinks, and the Django admin's
changelist on the same table (page 1 and the same search) signed in as staff. The tab
and the search are also measured with nothing kept (each request at an address of its
own) and while the company changes every CHANGE_EVERY seconds (another connection writes
a record no page shows, so every kept list is stale at once). It prints
requests/s and latency percentiles of each, with their ratios to the admin's and to the
sign-in page's, and the targets of issue 13.

Uses the benchmark's scratch database (generated with generate_load_data when it is
not there yet), runs one completed sync so that records deleted in the ERP can be
unlinked, collects static files, starts `gunicorn erp_integrations.wsgi -w 4` on a free
127.0.0.1 port with production settings (DEBUG off, SECRET_KEY set; HTTPS redirects and
secure cookies off because loopback has no TLS), then for each user count runs Locust
headless for --duration seconds (signed-in approvers browsing tabs and pages,
searching and unlinking; see locustfile.py). Every process it starts is stopped
before it returns. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks import _support  # noqa: E402
from tests.load.page_weight import render_weight, weigh  # noqa: E402

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
COMPANY_SLUG = "bench"
P95_TARGET_MS = 200
WORDS_ONLY = "glazing,concrete,roofing,harper,phase 2,elevator"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", help="scratch database (default erp_bench_pages_<size>)")
    parser.add_argument("--size", type=int, default=1_000_000, help="synced commitments if generating")
    parser.add_argument("--users", default="10,25,50", help="Locust user counts, one 60 s run each")
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--duration", type=int, default=60, help="seconds per run (at most 300)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--searches",
        choices=["all", "words"],
        default="all",
        help="all: words and number/ERP-id prefixes (default); words: words only",
    )
    parser.add_argument(
        "--company", default=COMPANY_SLUG, help="company slug (users are <slug>-approver, ...)"
    )
    parser.add_argument("--wrk", action="store_true", help="measure with wrk, one request at a time")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (--wrk)")
    parser.add_argument("--markdown", help="also write the table here")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    args.duration = max(5, min(args.duration, 300))
    return args


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(database_url: str, size: int, sessions: int, company_slug: str = COMPANY_SLUG) -> dict:
    """Data, a completed sync, the ids the Locust users will unlink, and signed-in sessions.

    Runs in a child process with the server's own settings, so the sessions are valid
    for it. Signing in by password costs a deliberate second of CPU (PBKDF2) per user;
    made beforehand, it does not crowd out the browsing being measured.
    """
    env = _support.django_environment(database_url, DJANGO_SETTINGS_MODULE="erp_integrations.settings")
    user_prefix = f"{company_slug}-"
    code = f"""
import json, math, django
django.setup()
from django.db.models import Exists, OuterRef
from accounts.models import Company
from erp_integrations.loadgen import LoadSpec, load_data_generate
from erp_integrations.models import Commitment, CommitmentChangeOrder, SubcontractorInvoice
from erp_integrations.services.sync import connection_sync
if not Company.objects.filter(slug={company_slug!r}).exists():
    load_data_generate(LoadSpec(commitments=math.ceil({size} / 0.95), invoices={size},
        projects=max(20, min(500, {size} // 2000)), company_slug={company_slug!r},
        missing_fraction=0.02, user_prefix={user_prefix!r}), log=print)
company = Company.objects.get(slug={company_slug!r})
run = connection_sync(connection_id=company.erp_connection.pk, trigger="command")
assert run is not None and run.status == "succeeded", run and run.error
linked_invoice = SubcontractorInvoice.objects.filter(commitment_id=OuterRef("pk"), erp_id__isnull=False)
linked_cco = CommitmentChangeOrder.objects.filter(commitment_id=OuterRef("pk"), erp_id__isnull=False)
synced = (Commitment.objects.filter(company=company, export_state="synced")
          .filter(~Exists(linked_invoice)).filter(~Exists(linked_cco)))
unlink = list(synced.filter(link__missing_since__isnull=False).values_list("id", flat=True)[:5000])
refused = list(
    synced.filter(link__missing_since__isnull=True).order_by("?").values_list("id", flat=True)[:500]
)
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from accounts.models import User
def signed_in(user):
    # A session key for user, as signing in would make it, naming the backend that reads users.
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "accounts.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key
approver = User.objects.get(username={user_prefix + "approver"!r})
sessions = [signed_in(approver) for _ in range({sessions})]
staff = User.objects.filter(username={user_prefix + "staff"!r}, is_staff=True).first()
staff_session = signed_in(staff) if staff is not None else ""
print("PREPARED " + json.dumps({{"company_id": company.pk, "unlink": unlink, "refused": refused,
    "links": run.links_checked, "sessions": sessions, "staff_session": staff_session}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=_support.ROOT, check=True, capture_output=True, text=True
    )
    line = next(line for line in out.stdout.splitlines() if line.startswith("PREPARED "))
    return json.loads(line.removeprefix("PREPARED "))


def wait_until_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer at {url} within {timeout:g} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def read_stats(prefix: Path) -> tuple[dict, list[dict]]:
    rows = list(csv.DictReader((prefix.parent / f"{prefix.name}_stats.csv").open()))
    aggregated = next(row for row in rows if row["Name"] == "Aggregated")
    return aggregated, [row for row in rows if row["Name"] != "Aggregated"]


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    # Other processes on the machine skew every figure: say how busy it was.
    args.load_before = os.getloadavg()[0]
    database_url = _support.scratch_database_url(args.db or f"erp_bench_pages_{args.size}")
    if not _support.databases_exist(database_url):
        _support.databases_create(database_url, fresh=True)
    _support.migrate_all(_support.django_environment(database_url))
    print("preparing data and a completed sync ...", flush=True)
    user_counts = [int(u) for u in args.users.split(",") if u.strip()]
    prepared = prepare(database_url, args.size, max(user_counts), args.company)
    if args.wrk:
        return wrk_main(args, database_url, prepared)
    print(f"  {prepared['links']:,} links; {len(prepared['unlink'])} records to unlink", flush=True)

    results = []
    with tempfile.TemporaryDirectory(prefix="erp-load-") as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "refused.txt").write_text("\n".join(map(str, prepared["refused"])))
        (tmpdir / "sessions.txt").write_text("\n".join(prepared["sessions"]))
        port = free_port()
        host = f"http://127.0.0.1:{port}"
        env = _support.django_environment(
            database_url,
            DJANGO_SETTINGS_MODULE="erp_integrations.settings",
            ALLOWED_HOSTS="127.0.0.1",
            STATIC_ROOT=str(tmpdir / "static"),
            VAR_DIR=str(tmpdir / "var"),
            SECURE_HSTS_SECONDS="0",
        )
        _support.run_manage(["collectstatic", "--noinput", "-v", "0"], env)
        gunicorn_cmd = [str(BIN / "gunicorn"), "erp_integrations.wsgi", "-w", str(args.workers)]
        gunicorn_cmd += ["-b", f"127.0.0.1:{port}", "--access-logfile", "-", "--log-level", "warning"]
        with (tmpdir / "gunicorn.log").open("wb") as log:
            server = subprocess.Popen(
                gunicorn_cmd,
                cwd=_support.ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until_up(f"{host}/accounts/login/")
            share = len(prepared["unlink"]) // len(user_counts)
            for run_number, users in enumerate(user_counts):
                prefix = tmpdir / f"locust_{users}"
                # Each run unlinks records of its own: one unlinked by an earlier run would be refused.
                unlink_ids = prepared["unlink"][run_number * share : (run_number + 1) * share]
                (tmpdir / f"unlink_{run_number}.txt").write_text("\n".join(map(str, unlink_ids)))
                locust_env = dict(
                    os.environ,
                    LOAD_COMPANY_ID=str(prepared["company_id"]),
                    LOAD_SESSIONS=str(tmpdir / "sessions.txt"),
                    **({"LOAD_SEARCH_TERMS": WORDS_ONLY} if args.searches == "words" else {}),
                    LOAD_UNLINK_IDS=str(tmpdir / f"unlink_{run_number}.txt"),
                    LOAD_REFUSED_IDS=str(tmpdir / "refused.txt"),
                )
                print(f"locust: {users} users for {args.duration} s ...", flush=True)
                subprocess.run(
                    [
                        str(BIN / "locust"),
                        "-f",
                        str(HERE / "locustfile.py"),
                        "--headless",
                        "-u",
                        str(users),
                        "-r",
                        str(args.spawn_rate),
                        "-t",
                        f"{args.duration}s",
                        "--host",
                        host,
                        "--csv",
                        str(prefix),
                        "--only-summary",
                        "--stop-timeout",
                        "10",
                        "--loglevel",
                        "WARNING",
                    ],  # fmt: skip
                    env=locust_env,
                    cwd=_support.ROOT,
                    check=False,
                    timeout=args.duration + 120,
                )
                aggregated, per_request = read_stats(prefix)
                results.append(
                    {
                        "users": users,
                        "requests": int(aggregated["Request Count"]),
                        "failures": int(aggregated["Failure Count"]),
                        "rps": float(aggregated["Requests/s"]),
                        "p50": float(aggregated["50%"]),
                        "p95": float(aggregated["95%"]),
                        "p99": float(aggregated["99%"]),
                        "per_request": [
                            {
                                "name": row["Name"],
                                "count": int(row["Request Count"]),
                                "failures": int(row["Failure Count"]),
                                "p50": float(row["50%"]),
                                "p95": float(row["95%"]),
                            }
                            for row in per_request
                        ],
                    }
                )
                print(f"  {results[-1]['rps']:.1f} req/s, p95 {results[-1]['p95']:.0f} ms, "
                      f"{results[-1]['failures']} failures", flush=True)  # fmt: skip
        finally:
            stop(server)
        errors = [
            line
            for line in (tmpdir / "gunicorn.log").read_text(errors="replace").splitlines()
            if "Traceback" in line or "[ERROR]" in line or '" 500 ' in line
        ]

    report = render(results, args, prepared, errors)
    print("\n" + report)
    if args.markdown:
        Path(args.markdown).write_text(report + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


def render(results: list[dict], args: argparse.Namespace, prepared: dict, errors: list[str]) -> str:
    headers = [
        "users",
        "requests",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
        f"p95 < {P95_TARGET_MS} ms",
    ]
    rows = [
        [
            str(r["users"]),
            f"{r['requests']:,}",
            f"{r['rps']:.1f}",
            f"{r['p50']:.0f}",
            f"{r['p95']:.0f}",
            f"{r['p99']:.0f}",
            str(r["failures"]),
            "met" if r["p95"] < P95_TARGET_MS and not r["failures"] else "**missed**",
        ]
        for r in results
    ]
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {_support.machine_description()}; "
        f"gunicorn -w {args.workers} and Locust on the same machine, {prepared['links']:,} links.",
        f"Command: `python tests/load/run_load.py --users {args.users} --duration {args.duration}"
        f" --searches {args.searches}` "
        f"({args.duration} s per row, spawn rate {args.spawn_rate:g}/s, think time 0.5-2 s).",
        "",
        _support.markdown_table(headers, rows),
    ]
    if results:
        busiest = max(results, key=lambda r: r["rps"])
        lines += ["", f"Per request at {busiest['users']} users:", ""]
        lines.append(
            _support.markdown_table(
                ["request", "count", "failures", "p50 ms", "p95 ms"],
                [
                    [p["name"], f"{p['count']:,}", str(p["failures"]), f"{p['p50']:.0f}", f"{p['p95']:.0f}"]
                    for p in busiest["per_request"]
                ],
            )
        )
    lines += ["", f"Server errors in gunicorn's log: {len(errors)}"]
    lines += [f"    {line}" for line in errors[:10]]
    return "\n".join(lines)


# --- wrk: one request at a time, from a load generator cheaper than the server -------------------------
WRK_SCRIPT = HERE / "wrk.lua"


@dataclass(frozen=True)
class WrkResult:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    bytes_per_request: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def parse_wrk(name: str, output: str) -> WrkResult:
    """wrk's output with wrk.lua: the line "WRK requests duration_us p50 p95 p99 errors bytes"."""
    line = next((line for line in output.splitlines() if line.startswith("WRK ")), None)
    if line is None:
        raise ValueError(f"no result line from wrk for {name}:\n{output}")
    requests, duration, p50, p95, p99, errors, size = (int(part) for part in line.split()[1:])
    return WrkResult(
        name=name,
        requests=requests,
        seconds=duration / 1e6,
        p50_ms=p50 / 1000,
        p95_ms=p95 / 1000,
        p99_ms=p99 / 1000,
        errors=errors,
        bytes_per_request=size / requests if requests else 0.0,
    )


@dataclass(frozen=True)
class Target:
    """One row of the table: what is measured, and what issue 13 asks of it."""

    name: str
    path: str
    session: str = "approver"  # approver, staff or "" (signed out)
    htmx: bool = False
    etag: bool = False
    posts: bool = False
    #: Each request at an address of its own (``&fresh=N``): nothing a page keeps (its
    #: lists by the data version, its rows) serves it, as after a change in the company.
    #: A search's sorted matches do not depend on the address: they are still kept.
    fresh: bool = False
    #: While it is measured, the company changes every CHANGE_EVERY seconds (see
    #: ``CompanyChanges``): every list kept under a version is outdated at once, as in a
    #: busy company; a list the change did not reach is served again, and kept rows and
    #: what searches learnt still serve.
    changing: bool = False
    #: The change is to the newest synced record, on the tab's first page: the synced
    #: list is made again after each one.
    on_page: bool = False
    #: The admin's row it is compared with.
    admin: str = ""
    min_rps: float = 0
    max_p95_ms: float = 0


#: Seconds between two changes to the company while a ``changing`` target is measured.
CHANGE_EVERY = 0.1


class CompanyChanges:
    """A change to the company every CHANGE_EVERY seconds, from another connection, while
    in its ``with`` block: its oldest commitment (not on the tab's first page) is written
    again, so the database's triggers move the company's data version as any write
    would; with ``on_page``, its newest synced one (the first row of the tab's Synced
    list). ``changes`` counts them; a change that fails is raised when the block ends,
    so that a row measured without its changes is not reported as if it had them."""

    def __init__(self, database_url: str, company_id: int, *, on_page: bool = False) -> None:
        self.database_url, self.company_id, self.on_page = database_url, company_id, on_page
        self.changes = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._change()
        except BaseException as error:  # noqa: BLE001 - handed to the thread that waits
            self.error = error

    def _change(self) -> None:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            which = (
                "SELECT id FROM erp_integrations_commitment WHERE company_id = %s "
                "AND export_state = 'synced' ORDER BY linked_at DESC, id DESC LIMIT 1"
                if self.on_page
                else "SELECT min(id) FROM erp_integrations_commitment WHERE company_id = %s"
            )
            (record_id,) = conn.execute(which, [self.company_id]).fetchone()
            while not self._stop.wait(CHANGE_EVERY):
                conn.execute(
                    "UPDATE erp_integrations_commitment SET updated_at = updated_at WHERE id = %s",
                    [record_id],
                )
                self.changes += 1

    def __enter__(self) -> CompanyChanges:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self.error is not None and exc[0] is None:
            raise RuntimeError("the company's changes stopped") from self.error


def wrk_targets(company_id: int) -> list[Target]:
    tab = f"/companies/{company_id}/erp/commitments/"
    return [
        Target("Sign-in page (the floor)", "/accounts/login/", session=""),
        Target("Commitments tab, page 1", tab, admin="Admin changelist, page 1", min_rps=120, max_p95_ms=60),
        Target("Commitments tab, page 1, nothing kept", tab, admin="Admin changelist, page 1", fresh=True),
        # The targets hold while the company changes too: a busy company's case.
        Target(
            f"Commitments tab, page 1, a change every {CHANGE_EVERY} s",
            tab,
            admin="Admin changelist, page 1",
            changing=True,
            min_rps=120,
            max_p95_ms=60,
        ),
        Target(
            f"Commitments tab, page 1, a change on it every {CHANGE_EVERY} s",
            tab,
            admin="Admin changelist, page 1",
            changing=True,
            on_page=True,
            min_rps=120,
            max_p95_ms=60,
        ),
        Target(
            "Synced list fragment (HTMX)",
            f"/companies/{company_id}/erp/commitments/synced/",
            htmx=True,
            admin="Admin changelist, page 1",
            min_rps=300,
        ),
        Target(
            "Commitments tab, search JC-00",
            tab + "?synced-q=JC-00",
            admin="Admin changelist, search JC-00",
            max_p95_ms=100,
        ),
        Target(
            "Commitments tab, search JC-00, nothing kept",
            tab + "?synced-q=JC-00",
            admin="Admin changelist, search JC-00",
            fresh=True,
        ),
        Target(
            f"Commitments tab, search JC-00, a change every {CHANGE_EVERY} s",
            tab + "?synced-q=JC-00",
            admin="Admin changelist, search JC-00",
            changing=True,
            max_p95_ms=100,
        ),
        Target(
            "Sync panel poll (If-None-Match)",
            f"/companies/{company_id}/erp/sync/panel/?next={tab}&tab=commitments",
            htmx=True,
            etag=True,
        ),
        Target("Unlink (HTMX)", "", htmx=True, posts=True, max_p95_ms=30),
        Target("Admin changelist, page 1", "/admin/erp_integrations/commitment/", session="staff"),
        Target(
            "Admin changelist, search JC-00", "/admin/erp_integrations/commitment/?q=JC-00", session="staff"
        ),
    ]


def _fetch(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _page_facts(host: str, target: Target, cookie: str, current: str) -> dict:
    """One request as a browser makes it: status, HTML size, size on the wire, ETag."""
    headers = {"Cookie": cookie, "Accept-Encoding": "gzip"}
    if target.htmx:
        headers |= {"HX-Request": "true", "HX-Current-URL": current}
    status, response_headers, body = _fetch(host + target.path, headers)
    encoded = response_headers.get("Content-Encoding") == "gzip"
    html = gzip.decompress(body) if encoded else body
    return {
        "status": status,
        "html_bytes": len(html),
        "wire_bytes": len(body),
        "gzip": encoded,
        "etag": response_headers.get("ETag", ""),
        "cache_control": response_headers.get("Cache-Control", ""),
        "weight": render_weight(weigh(html)),
    }


def wrk_main(args: argparse.Namespace, database_url: str, prepared: dict) -> list[dict]:
    if shutil.which("wrk") is None:
        raise SystemExit("--wrk needs wrk (Debian: apt-get install wrk)")
    sessions = {"approver": prepared["sessions"][0], "staff": prepared.get("staff_session", ""), "": ""}
    results: list[WrkResult] = []
    facts: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="erp-wrk-") as tmp:
        tmpdir = Path(tmp)
        port = free_port()
        host = f"http://127.0.0.1:{port}"
        env = _support.django_environment(
            database_url,
            DJANGO_SETTINGS_MODULE="erp_integrations.settings",
            ALLOWED_HOSTS="127.0.0.1",
            STATIC_ROOT=str(tmpdir / "static"),
            VAR_DIR=str(tmpdir / "var"),
            SECURE_HSTS_SECONDS="0",
        )
        _support.run_manage(["collectstatic", "--noinput", "-v", "0"], env)
        gunicorn_cmd = [str(BIN / "gunicorn"), "erp_integrations.wsgi", "-w", str(args.workers)]
        gunicorn_cmd += ["-b", f"127.0.0.1:{port}", "--log-level", "warning"]
        with (tmpdir / "gunicorn.log").open("wb") as log:
            server = subprocess.Popen(
                gunicorn_cmd,
                cwd=_support.ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until_up(f"{host}/accounts/login/")
            targets = wrk_targets(prepared["company_id"])
            current = host + targets[1].path
            # A CSRF cookie as a browser holds one (a 32-character secret), sent back in
            # the X-CSRFToken header as htmx does.
            csrf = secrets.token_hex(16)
            posts = tmpdir / "unlink.txt"
            ids = prepared["unlink"] + prepared["refused"]
            print(
                f"  {len(prepared['unlink'])} records to unlink, then {len(prepared['refused'])} refused",
                flush=True,
            )
            posts.write_text(
                "\n".join(f"/companies/{prepared['company_id']}/erp/commitments/{i}/unlink/" for i in ids)
            )
            for target in targets:
                if target.session == "staff" and not sessions["staff"]:
                    continue
                cookie = f"sessionid={sessions[target.session]}" if target.session else ""
                if not target.posts:
                    facts[target.name] = _page_facts(host, target, cookie, current)
                wrk_env = dict(
                    os.environ,
                    WRK_SESSION=sessions[target.session],
                    WRK_CSRF=csrf if target.posts else "",
                    WRK_HTMX="1" if target.htmx else "0",
                    WRK_CURRENT=current,
                    WRK_ETAG=facts.get(target.name, {}).get("etag", "") if target.etag else "",
                    WRK_POSTS=str(posts) if target.posts else "",
                    WRK_FRESH="1" if target.fresh else "0",
                )
                # Unlinks one at a time (each record is unlinked once, then refused).
                connections = 1 if target.posts else args.connections
                url = host + (target.path or "/")
                print(f"wrk: {target.name}, {connections} connections, {args.duration} s ...", flush=True)
                changes = (
                    CompanyChanges(database_url, prepared["company_id"], on_page=target.on_page)
                    if target.changing
                    else nullcontext()
                )
                with changes:
                    out = subprocess.run(
                        [
                            "wrk",
                            "-t1",
                            f"-c{connections}",
                            f"-d{args.duration}s",
                            "--timeout",
                            "10s",
                            "-s",
                            str(WRK_SCRIPT),
                            url,
                        ],  # fmt: skip
                        env=wrk_env,
                        capture_output=True,
                        text=True,
                        check=True,
                        timeout=args.duration + 60,
                    )
                if target.changing:
                    print(f"  {changes.changes} changes to the company meanwhile", flush=True)
                results.append(parse_wrk(target.name, out.stdout))
        finally:
            stop(server)
        errors = [
            line
            for line in (tmpdir / "gunicorn.log").read_text(errors="replace").splitlines()
            if "Traceback" in line or "[ERROR]" in line
        ]
    report = render_wrk(results, facts, args, prepared, errors)
    print("\n" + report)
    if args.markdown:
        Path(args.markdown).write_text(report + "\n")
    rows = [asdict(result) | {"rps": result.rps} for result in results]
    if args.json:
        Path(args.json).write_text(json.dumps({"results": rows, "pages": facts}, indent=2))
    return rows


def render_wrk(
    results: list[WrkResult],
    facts: dict[str, dict],
    args: argparse.Namespace,
    prepared: dict,
    errors: list[str],
) -> str:
    """The table: each request's rate and latency, its ratios, its target and whether it is met."""
    by_name = {result.name: result for result in results}
    floor = by_name.get("Sign-in page (the floor)")
    targets = {target.name: target for target in wrk_targets(prepared["company_id"])}
    rows = []
    for result in results:
        target = targets.get(result.name, Target(result.name, ""))
        admin = by_name.get(target.admin)
        page = facts.get(result.name, {})
        wanted, met = [], True
        if target.min_rps:
            wanted.append(f"≥ {target.min_rps:g} req/s")
            met &= result.rps >= target.min_rps
        if target.max_p95_ms:
            wanted.append(f"p95 ≤ {target.max_p95_ms:g} ms")
            met &= result.p95_ms <= target.max_p95_ms
        rows.append(
            [
                result.name,
                f"{result.rps:.1f}",
                f"{result.p50_ms:.1f}",
                f"{result.p95_ms:.1f}",
                f"{result.p99_ms:.1f}",
                f"{result.errors:,}",
                f"{page['html_bytes'] / 1024:.1f} / {page['wire_bytes'] / 1024:.1f}" if page else "",
                f"{result.rps / admin.rps:.1f}×" if admin and admin.rps else "",
                f"{result.rps / floor.rps:.2f}" if floor and floor.rps else "",
                (", ".join(wanted) + (": met" if met else ": **missed**")) if wanted else "",
            ]
        )
    headers = ["request", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "KB html / wire",
               "× admin (req/s)", "of sign-in (req/s)", "target"]  # fmt: skip
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {_support.machine_description()}; "
        f"gunicorn -w {args.workers} (production settings) and wrk on the same machine, "
        f"{prepared['links']:,} links; load average {getattr(args, 'load_before', 0):.1f} before the run"
        f" (before its sync), {os.getloadavg()[0]:.1f} after it.",
        f"Command: `python tests/load/run_load.py --wrk --connections {args.connections} "
        f"--duration {args.duration} --workers {args.workers} --company {args.company}`"
        f" ({args.duration} s per row; Unlink on 1 connection, each record once, then refused:"
        " its 409s are counted in errors).",
        "",
        _support.markdown_table(headers, rows),
    ]
    panel = facts.get("Sync panel poll (If-None-Match)")
    if panel:
        polled = by_name.get("Sync panel poll (If-None-Match)")
        lines += [
            "",
            f"Sync panel: ETag {panel['etag'] or 'none'}, Cache-Control `{panel['cache_control']}`; "
            f"{panel['wire_bytes']:,} bytes on the wire when sent, "
            f"{polled.bytes_per_request if polled else 0:,.0f} bytes per answer to the poll"
            " (a 304 is headers only).",
        ]
    tab = facts.get("Commitments tab, page 1")
    if tab:
        lines += [
            f"Commitments tab: {tab['html_bytes'] / 1024:.1f} KB of HTML (target ≤ 60 KB: "
            f"{'met' if tab['html_bytes'] <= 60 * 1024 else '**missed**'}), "
            f"{'gzip' if tab['gzip'] else 'not compressed'} on the wire ({tab['wire_bytes'] / 1024:.1f} KB).",
            *tab.get("weight", []),
        ]
    lines += ["", f"Server errors in gunicorn's log: {len(errors)}"]
    lines += [f"    {line}" for line in errors[:10]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
