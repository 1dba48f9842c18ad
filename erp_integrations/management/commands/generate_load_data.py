"""Fill PostgreSQL with a large company for benchmarks and load tests.

    generate_load_data --commitments 1000000 --invoices 1000000 --ccos 1000000 --projects 500
                       [--company-slug load-test] [--erp sage300|sage100]
                       [--missing-fraction 0.01] [--vendors N] [--user-prefix ""]
                       [--password ...] [--no-audit] [--seed 1] [--reset]

Creates the company with its ERP connection, projects, vendors, commitments with one
line item each, subcontractor invoices, commitment change orders (one line each, against
their commitment's line), the links of the synced ones, their audit entries, and the
matching records in the sandbox ERP (a fraction deleted there, for the next sync to
find). --reset deletes the company first, with everything it owns. Users:
<prefix>approver (every requirement to unlink), <prefix>pm (Admin on Commitments,
Standard on ERP Integrations, no privilege), <prefix>viewer (Read Only) and
<prefix>staff (platform staff, superuser; grants the privilege).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from erp_integrations.loadgen import LoadDataError, LoadSpec, load_data_delete, load_data_generate
from erp_integrations.models import ErpSystem


class Command(BaseCommand):
    help = "Generate a large, realistic company (records, links, sandbox ERP records) with COPY."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--commitments", type=int, default=10_000)
        parser.add_argument("--invoices", type=int, default=10_000)
        parser.add_argument(
            "--ccos", type=int, default=0, help="Commitment change orders, one line each (default 0)."
        )
        parser.add_argument("--projects", type=int, default=50)
        parser.add_argument("--vendors", type=int, default=0, help="0: one per 250 commitments (50-5000).")
        parser.add_argument("--company-slug", default="load-test")
        parser.add_argument("--company-name", default="")
        parser.add_argument("--erp", choices=ErpSystem.values, default=ErpSystem.SAGE_300_CRE.value)
        parser.add_argument("--missing-fraction", type=float, default=0.01)
        parser.add_argument("--user-prefix", default="")
        parser.add_argument("--password", default="load-test-password")
        parser.add_argument("--no-audit", action="store_true", help="Skip the audit entries of the exports.")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--reset", action="store_true", help="Delete the company first if it exists.")

    def handle(self, *args, **options) -> None:
        spec = LoadSpec(
            commitments=options["commitments"],
            invoices=options["invoices"],
            ccos=options["ccos"],
            projects=options["projects"],
            vendors=options["vendors"],
            company_slug=options["company_slug"],
            company_name=options["company_name"],
            erp_system=options["erp"],
            missing_fraction=options["missing_fraction"],
            user_prefix=options["user_prefix"],
            password=options["password"],
            audit=not options["no_audit"],
            seed=options["seed"],
        )
        log = self.stdout.write
        started = time.perf_counter()
        if options["reset"] and load_data_delete(company_slug=spec.company_slug, log=log):
            log(f"Deleted company {spec.company_slug!r} in {time.perf_counter() - started:.1f} s.")
        started = time.perf_counter()
        try:
            result = load_data_generate(spec, log=log)
        except LoadDataError as error:
            raise CommandError(str(error)) from error
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Company {spec.company_slug!r} (id {result.company_id}, connection {result.connection_id}): "
                f"{result.commitments} commitments ({result.synced_commitments} synced, "
                f"{result.missing_commitments} deleted in the ERP), {result.invoices} subcontractor invoices "
                f"({result.synced_invoices} synced, {result.missing_invoices} deleted in the ERP), "
                f"{result.change_orders} CCOs ({result.synced_change_orders} synced, "
                f"{result.missing_change_orders} deleted in the ERP); {result.links} links, "
                f"in {elapsed:.1f} s."
            )
        )
        log("Users: " + ", ".join(result.usernames.values()) + f" (password {spec.password!r}).")
