"""Benchmark of the hourly sync and of unlink at scale.

    DEBUG=1 .venv/bin/python tests/benchmarks/bench_sync.py --n 100000
    DEBUG=1 .venv/bin/python tests/benchmarks/bench_sync.py --n 1000000

Runs on a scratch PostgreSQL database (default erp_bench, plus erp_bench_sandbox_sage300
and erp_bench_sandbox_sage100 for the sandbox ERP), created and migrated if missing;
set DATABASE_URL to use another. It builds N links for one company (90 % commitments,
10 % subcontractor invoices) with set-based INSERTs, in the platform and in the
sandbox ERP, and deletes a few percent of them in the ERP. Then it prints:

- the sync's wall time, and its queries per database (platform and ERP);
- its peak Python memory (tracemalloc, on a second identical run, because tracing
  slows allocation) and the growth of the process's peak RSS;
- the latency of the unlink service (median, p95, max) over successful unlinks of
  records the sync found missing, and over refused unlinks of records still in the ERP.

A second run with the same --n reuses the data (resetting marks and links) unless
--rebuild is given. Targets on a 2-core machine: 100,000 links < 5 s,
1,000,000 < 60 s, memory flat beyond one batch, unlink p95 < 30 ms.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DELETED_EVERY = 50  # 2 % of the links are deleted in the ERP
PROJECTS = 100


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="number of links (default 100,000)")
    parser.add_argument("--unlinks", type=int, default=200, help="unlinks to time (default 200)")
    parser.add_argument("--batch-size", type=int, help="SYNC_BATCH_SIZE (default: the setting, 5000)")
    parser.add_argument("--rebuild", action="store_true", help="build the data again even if it is there")
    return parser.parse_args()


def configure(args: argparse.Namespace) -> None:
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/erp_bench")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "erp_integrations.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if args.batch_size:
        os.environ["SYNC_BATCH_SIZE"] = str(args.batch_size)
    import django

    django.setup()
    from django.conf import settings

    # DEBUG makes every connection keep the text of its queries; a benchmark of memory
    # must not measure that log.
    settings.DEBUG = False


def create_databases() -> None:
    import psycopg
    from django.conf import settings

    for alias, db in settings.DATABASES.items():
        if db["ENGINE"] != "django.db.backends.postgresql":
            raise SystemExit(f"The benchmark needs PostgreSQL; {alias} is {db['ENGINE']}.")
        dsn = f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={db['USER']} dbname=postgres"
        if db.get("PASSWORD"):
            dsn += f" password={db['PASSWORD']}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
                print(f"created database {db['NAME']}")


def migrate() -> None:
    from django.conf import settings
    from django.core.management import call_command

    for alias in settings.DATABASES:
        call_command("migrate", database=alias, verbosity=0)


def step(label: str):
    class Step:
        def __enter__(self):
            self.start = time.perf_counter()
            print(f"{label} ...", end=" ", flush=True)

        def __exit__(self, *exc):
            print(f"{time.perf_counter() - self.start:.1f} s", flush=True)

    return Step()


def build(n: int, rebuild: bool):
    """The company, its approver, and n links in the platform and the sandbox ERP."""
    from django.db import connection, connections, transaction

    from accounts.models import (
        Company,
        DirectoryMembership,
        PermissionLevel,
        Project,
        ProjectPermission,
        User,
    )
    from accounts.services import membership_set_privilege
    from erp_integrations.models import (
        AuditEntry,
        Commitment,
        ErpConnection,
        SubcontractorInvoice,
        Vendor,
    )
    from erp_integrations.sandbox.models import Sage300Record, SandboxSwitch

    invoices = n // 10
    commitments = n - invoices
    company, _ = Company.objects.get_or_create(slug="bench-gc", defaults={"name": "Bench General Contractor"})
    erp, _ = ErpConnection.objects.get_or_create(company=company, defaults={"erp_system": "sage300"})
    user, _ = User.objects.get_or_create(username="bench-approver")
    staff, _ = User.objects.get_or_create(
        username="bench-staff", defaults={"is_staff": True, "is_superuser": True}
    )
    membership, _ = DirectoryMembership.objects.update_or_create(
        company=company, user=user, defaults={"erp_integrations_level": PermissionLevel.ADMIN}
    )
    membership_set_privilege(membership=membership, granted=True, changed_by=staff)
    projects = [
        Project.objects.get_or_create(company=company, number=f"B-{i:03d}", defaults={"name": f"Tower {i}"})[
            0
        ]
        for i in range(PROJECTS)
    ]
    for project in projects:
        ProjectPermission.objects.update_or_create(
            project=project, user=user, defaults={"commitments_level": PermissionLevel.ADMIN}
        )
    vendor, _ = Vendor.objects.get_or_create(
        company=company, name="Bench Concrete", defaults={"erp_vendor_id": "V1"}
    )
    SandboxSwitch.objects.using("sandbox_sage300").all().delete()

    c_table = Commitment._meta.db_table
    i_table = SubcontractorInvoice._meta.db_table
    s_table = Sage300Record._meta.db_table
    have = (
        Commitment.objects.filter(company=company).count(),
        SubcontractorInvoice.objects.filter(company=company).count(),
    )
    if have == (commitments, invoices) and not rebuild:
        with (
            step(f"resetting the {n:,} links built before"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            reset_marks(company)
            AuditEntry.objects.filter(company=company).delete()
            # Links unlinked by the previous benchmark get their link back.
            for table, prefix, start in ((c_table, "JC-", 4), (i_table, "AP-REQ-", 1)):
                cur.execute(
                    f"UPDATE {table} SET erp_id = %s || lpad(substr(number, %s), 7, '0'), "  # noqa: S608
                    "linked_at = now(), linked_by_id = NULL, export_state = 'synced' "
                    "WHERE company_id = %s AND erp_id IS NULL",
                    [prefix, start, company.pk],
                )
        return company, erp, user

    building = step(f"building {commitments:,} commitments and {invoices:,} invoices, all linked")
    with building, transaction.atomic(), connection.cursor() as cur:
        reset_marks(company)
        cur.execute(f"DELETE FROM {i_table} WHERE company_id = %s", [company.pk])  # noqa: S608
        AuditEntry.objects.filter(company=company).delete()
        cur.execute(
            f"DELETE FROM erp_integrations_commitmentlineitem WHERE commitment_id IN "  # noqa: S608
            f"(SELECT id FROM {c_table} WHERE company_id = %s)",
            [company.pk],
        )
        cur.execute(f"DELETE FROM {c_table} WHERE company_id = %s", [company.pk])  # noqa: S608
        project_ids = [p.pk for p in projects]
        cur.execute(
            f"""
            INSERT INTO {c_table} (company_id, project_id, vendor_id, number, amount, export_state,
                export_error, rejection_reason, erp_id, linked_at, created_at, updated_at,
                kind, title, status)
            SELECT %(company)s, (%(projects)s::bigint[])[1 + g %% {PROJECTS}], %(vendor)s,
                'SC-' || g, 1000, 'synced', '', '', 'JC-' || lpad(g::text, 7, '0'),
                now(), now(), now(), 'subcontract', 'Concrete package ' || g, 'approved'
            FROM generate_series(1, %(n)s) AS g
            """,  # noqa: S608
            {"company": company.pk, "projects": project_ids, "vendor": vendor.pk, "n": commitments},
        )
        cur.execute(
            f"""
            INSERT INTO {i_table} (company_id, project_id, vendor_id, commitment_id, number, amount,
                export_state, export_error, rejection_reason, erp_id, linked_at, created_at, updated_at,
                billing_period_start, billing_period_end, retainage, status)
            SELECT c.company_id, c.project_id, c.vendor_id, c.id, c.rn::text, 250, 'synced', '', '',
                'AP-REQ-' || lpad(c.rn::text, 7, '0'), now(), now(), now(),
                DATE '2026-10-01', DATE '2026-10-31', 0, 'approved'
            FROM (SELECT id, company_id, project_id, vendor_id, row_number() OVER (ORDER BY id) AS rn
                  FROM {c_table} WHERE company_id = %(company)s ORDER BY id LIMIT %(n)s) AS c
            """,  # noqa: S608
            {"company": company.pk, "n": invoices},
        )
    with step(f"building the {n:,} ERP records, {100 // DELETED_EVERY} % of them deleted in the ERP"):
        sandbox = connections["sandbox_sage300"]
        with transaction.atomic(using="sandbox_sage300"), sandbox.cursor() as cur:
            cur.execute(f"DELETE FROM {s_table}")  # noqa: S608
            for kind, prefix, count in (("commitment", "JC-", commitments), ("invoice", "AP-REQ-", invoices)):
                cur.execute(
                    f"""
                    INSERT INTO {s_table} (kind, erp_id, external_reference, data, created_at, deleted_at)
                    SELECT %(kind)s, %(prefix)s || lpad(g::text, 7, '0'), %(kind)s || '-bench-' || g, '{{}}',
                        now(), CASE WHEN g %% {DELETED_EVERY} = 0 THEN now() END
                    FROM generate_series(1, %(n)s) AS g
                    """,  # noqa: S608
                    {"kind": kind, "prefix": prefix, "n": count},
                )
    with step("VACUUM ANALYZE"):
        for alias, tables in (("default", [c_table, i_table]), ("sandbox_sage300", [s_table])):
            with connections[alias].cursor() as cur:
                for table in tables:
                    cur.execute(f"VACUUM ANALYZE {table}")
    return company, erp, user


def reset_marks(company) -> None:
    from erp_integrations.models import Commitment, SubcontractorInvoice, SyncRun

    for model in (Commitment, SubcontractorInvoice):
        model.objects.filter(company=company, erp_missing_since__isnull=False).update(erp_missing_since=None)
    SyncRun.objects.filter(connection__company=company).delete()


class QueryCounter:
    def __init__(self):
        self.counts: Counter[str] = Counter()

    def wrapper(self, alias):
        def count(execute, sql, params, many, context):
            self.counts[alias] += 1
            return execute(sql, params, many, context)

        return count


def measure_sync(erp):
    from django.db import connections

    from erp_integrations.services.sync import connection_sync

    counter = QueryCounter()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with ExitStack() as stack:
        for alias in ("default", "sandbox_sage300"):
            stack.enter_context(connections[alias].execute_wrapper(counter.wrapper(alias)))
        start = time.perf_counter()
        run = connection_sync(connection_id=erp.pk, trigger="command")
        elapsed = time.perf_counter() - start
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    return run, elapsed, counter.counts, rss_growth


def measure_sync_memory(erp):
    from erp_integrations.services.sync import connection_sync

    tracemalloc.start()
    run = connection_sync(connection_id=erp.pk, trigger="command")
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return run, peak


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure_unlinks(company, user, count):
    from django.db.models import Max

    from erp_integrations.models import Commitment, SubcontractorInvoice
    from erp_integrations.services.unlink import commitment_unlink

    # Commitments without invoices (the first ones carry one each), so unlink is judged
    # by the ERP record alone.
    with_invoices = SubcontractorInvoice.objects.filter(company=company).aggregate(last=Max("commitment_id"))
    linked = Commitment.objects.filter(
        company=company, erp_id__isnull=False, id__gt=with_invoices["last"] or 0
    )
    # Records deleted in the ERP and seen missing by the sync, spread over the table.
    missing = list(linked.filter(erp_missing_since__isnull=False).order_by("id").values_list("id", flat=True))
    missing = missing[:: max(1, len(missing) // count)][:count]
    # Records still in the ERP, spread over the table too.
    first, last = missing[0], missing[-1]
    candidates = range(first + 1, last, max(1, (last - first) // (2 * count)))
    present = list(
        linked.filter(erp_missing_since__isnull=True, id__in=candidates)
        .order_by("id")
        .values_list("id", flat=True)
    )[:count]

    def time_each(ids, expected):
        latencies = []
        for pk in ids:
            start = time.perf_counter()
            result = commitment_unlink(user=user, commitment_id=pk)
            latencies.append((time.perf_counter() - start) * 1000)
            assert result.message.startswith(expected), result.message
        return latencies

    # Warm the connection and the caches the way a running web process has them.
    time_each(present[:5], "The commitment is still in")
    return time_each(missing, "Successfully Unlinked"), time_each(present, "The commitment is still in")


def describe(latencies):
    return (
        f"median {statistics.median(latencies):.2f} ms, p95 {percentile(latencies, 95):.2f} ms, "
        f"max {max(latencies):.2f} ms over {len(latencies)}"
    )


def main() -> None:
    args = parse_args()
    configure(args)
    from django.conf import settings

    create_databases()
    with step("migrating"):
        migrate()
    company, erp, user = build(args.n, args.rebuild)
    reset_marks(company)

    expected_missing = args.n - args.n // 10
    expected_missing = expected_missing // DELETED_EVERY + (args.n // 10) // DELETED_EVERY
    print(f"\nsync of {args.n:,} links (batch size {settings.SYNC_BATCH_SIZE:,})")
    run, elapsed, queries, rss_growth = measure_sync(erp)
    if run is None:
        raise SystemExit("Another sync of the benchmark's connection is running; try again when it ends.")
    assert run.status == "succeeded", run.error
    assert run.links_checked == args.n and run.missing_found == expected_missing, run
    print(f"  wall time          {elapsed:.2f} s  ({args.n / elapsed:,.0f} links/s)")
    print(f"  links checked      {run.links_checked:,}; found missing {run.missing_found:,}")
    print(f"  queries            platform {queries['default']}, ERP {queries['sandbox_sage300']}")
    print(f"  peak RSS growth    {rss_growth / 1024:.1f} MiB")

    reset_marks(company)
    run, peak = measure_sync_memory(erp)
    assert run.missing_found == expected_missing
    print(f"  tracemalloc peak   {peak / 2**20:.1f} MiB (second run, traced)")

    succeeded, refused = measure_unlinks(company, user, args.unlinks)
    print(f"\nunlink at {args.n:,} links")
    print(f"  'Successfully Unlinked'        {describe(succeeded)}")
    print(f"  refused, still in the ERP      {describe(refused)}")


if __name__ == "__main__":
    main()
