"""Do in a sandbox ERP what a user would do in the ERP itself, and make it misbehave.

    erp_sandbox delete  commitment|invoice|cco <ERP id> [--erp sage300|sage100]
    erp_sandbox restore commitment|invoice|cco <ERP id> [--erp sage300|sage100]
    erp_sandbox offline --erp sage300
    erp_sandbox slow    --erp sage300 [--latency-ms 3000]
    erp_sandbox normal  --erp sage300
    erp_sandbox list    --erp sage300 [--kind commitment|invoice|cco|job|vendor|cost_code|sub_job] [--deleted]

Master data, as the ERP's users keep it (each ERP's own formats are enforced):

    erp_sandbox add  job       --erp sage300 --id 26-0101 --name "Harbor Tower"
    erp_sandbox add  vendor    --erp sage300 --id ACME --name "Acme Concrete" --type Subcontractor
    erp_sandbox add  cost_code --erp sage300 --code 03-300 --class L --description "Concrete labor"
    erp_sandbox add  sub_job   --erp sage300 --job 26-0101 --id EXTRA-1 --name "Lobby fit-out"
    erp_sandbox edit vendor ACME --erp sage300 --name "Acme Concrete LLC"
    erp_sandbox delete vendor ACME --erp sage300
    erp_sandbox job-mask --erp sage300 --mask "###-###"

Records' values, job costs and payments, as the ERP's accountants change them:

    erp_sandbox edit    commitment|invoice|cco <ERP id> [--amount 1200] [--title T] [--status S] [--vendor V]
    erp_sandbox cost    --erp sage300 --company <slug> --job <ERP job id> --cost-code 03-300
                        --amount 500 [--description D] [--on 2026-11-02]
    erp_sandbox pay     <requisition ERP id> --erp sage300 --company <slug> --amount 250 [--on 2026-11-20]

Without --erp, delete and restore look for the id in every sandbox ERP (their id
formats differ, so an id is normally in one only).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.models import Company
from erp_integrations.kinds import BY_SLUG, KINDS
from erp_integrations.models import ErpSystem
from erp_integrations.sandbox.models import SandboxSwitch
from erp_integrations.sandbox.services import (
    EDITABLE_VALUES,
    MASTER_FIELDS,
    STORES,
    SandboxError,
    sandbox_delete,
    sandbox_edit,
    sandbox_issue_payment,
    sandbox_master_add,
    sandbox_master_edit,
    sandbox_post_cost,
    sandbox_records,
    sandbox_restore,
    sandbox_set_job_mask,
    sandbox_set_mode,
    sandbox_switch,
)

#: The kinds' slugs are the ERP stores' kinds; master data (and sub jobs) are kept there too.
KIND_SLUGS = [kind.slug for kind in KINDS] + list(MASTER_FIELDS)
DEFAULT_SLOW_LATENCY_MS = 3000
LIST_LIMIT = 200


def _erp_name(erp_system: str) -> str:
    return ErpSystem(erp_system).label


class Command(BaseCommand):
    help = "Delete or restore records in a sandbox ERP, switch it offline/slow/normal, or list its records."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        for name, verb in (("delete", "Delete"), ("restore", "Restore")):
            sub = actions.add_parser(name, help=f"{verb} a record in the ERP, as a user would in Sage.")
            sub.add_argument(
                "kind",
                choices=KIND_SLUGS,
                help="commitment, invoice (a requisition) or cco (a change order).",
            )
            sub.add_argument("erp_id", help="The ERP's id, e.g. JC-0000012, RQ000034 or CCO-0000056.")
            sub.add_argument("--erp", choices=list(STORES), help="Which sandbox ERP (default: find the id).")
        for name, what in (
            ("offline", "Make the ERP refuse every request."),
            ("slow", "Make the ERP answer after --latency-ms."),
            ("normal", "Make the ERP answer normally again."),
        ):
            sub = actions.add_parser(name, help=what)
            sub.add_argument("--erp", choices=list(STORES), required=True)
            if name == "slow":
                sub.add_argument(
                    "--latency-ms",
                    type=int,
                    default=DEFAULT_SLOW_LATENCY_MS,
                    help=f"Added latency per request (default {DEFAULT_SLOW_LATENCY_MS}).",
                )
        for name, verb in (("add", "Make"), ("edit", "Change")):
            if name == "add":
                sub = actions.add_parser(name, help=f"{verb} a job, vendor, cost code or sub job in the ERP.")
                sub.add_argument("kind", choices=list(MASTER_FIELDS))
                sub.add_argument("--erp", choices=list(STORES), required=True)
            else:
                sub = actions.add_parser(
                    name,
                    help=f"{verb} a job, vendor, cost code or sub job, or a record's values, in the ERP.",
                )
                sub.add_argument("kind", choices=KIND_SLUGS)
                sub.add_argument(
                    "erp_id", help="The ERP's id: a record's, a job's or vendor's, 03-300:L for a cost code."
                )
                sub.add_argument(
                    "--erp", choices=list(STORES), help="Which sandbox ERP (default: find the id)."
                )
                for value in EDITABLE_VALUES:
                    sub.add_argument(f"--{value}", help=f"A record's {value}.")
            sub.add_argument("--id", dest="id_", help="A job's, vendor's or sub job's id.")
            sub.add_argument("--name", help="The name (a job's, vendor's or sub job's).")
            sub.add_argument("--type", help="A vendor's type.")
            sub.add_argument("--code", help="A cost code.")
            sub.add_argument("--class", dest="class_", help="A cost code's category or cost type.")
            sub.add_argument("--description", help="A cost code's description.")
            sub.add_argument("--job", help="A sub job's job.")
        sub = actions.add_parser(
            "job-mask", help="Set the ERP's job-id mask ('#' a digit), as its administrator."
        )
        sub.add_argument("--erp", choices=list(STORES), required=True)
        sub.add_argument("--mask", required=True)
        sub = actions.add_parser("list", help="List the ERP's records, newest first.")
        sub.add_argument("--erp", choices=list(STORES), required=True)
        sub.add_argument("--kind", choices=KIND_SLUGS)
        sub.add_argument("--deleted", action="store_true", help="Only records deleted in the ERP.")
        sub = actions.add_parser("cost", help="Post a cost to a job in the ERP (its payroll or AP would).")
        sub.add_argument("--erp", choices=list(STORES), required=True)
        sub.add_argument("--company", required=True, help="The company's slug in the platform.")
        sub.add_argument(
            "--job",
            required=True,
            help="The ERP's job id: a linked project's job, else the project's number.",
        )
        sub.add_argument("--cost-code", required=True)
        sub.add_argument("--amount", required=True)
        sub.add_argument("--description", default="")
        sub.add_argument("--on", help="Posting date, YYYY-MM-DD (default: today).")
        sub = actions.add_parser("pay", help="Issue a payment against a requisition in the ERP.")
        sub.add_argument("requisition", help="The requisition's ERP id, e.g. AP-REQ-0000004.")
        sub.add_argument("--erp", choices=list(STORES), required=True)
        sub.add_argument("--company", required=True, help="The company's slug in the platform.")
        sub.add_argument("--amount", required=True)
        sub.add_argument("--on", help="Payment date, YYYY-MM-DD (default: today).")

    def handle(self, *args, **options) -> None:
        action = options["action"]
        try:
            if action in ("delete", "restore"):
                self._delete_or_restore(action, options["kind"], options["erp_id"], options.get("erp"))
            elif action == "add" or (action == "edit" and options["kind"] in MASTER_FIELDS):
                self._add_or_edit(action, options)
            elif action == "edit":
                self._edit(options)
            elif action == "cost":
                self._cost(options)
            elif action == "pay":
                self._pay(options)
            elif action == "job-mask":
                switch = sandbox_set_job_mask(erp_system=options["erp"], mask=options["mask"])
                self.stdout.write(
                    self.style.SUCCESS(f"{_erp_name(options['erp'])} job ids now follow {switch.job_mask}.")
                )
            elif action == "list":
                self._list(options["erp"], options.get("kind"), options["deleted"])
            else:
                self._set_mode(options["erp"], action, options.get("latency_ms", 0))
        except SandboxError as exc:
            raise CommandError(str(exc)) from exc

    def _delete_or_restore(self, action: str, kind: str, erp_id: str, erp_system: str | None) -> None:
        erp_system = erp_system or self._find_erp(kind, erp_id)
        name = _erp_name(erp_system)
        word = self._word(kind, erp_system)
        if not sandbox_records(erp_system).filter(kind=kind, erp_id=erp_id).exists():
            raise CommandError(f"No {word} with id {erp_id!r} in {name}.")
        if action == "delete":
            sandbox_delete(erp_system=erp_system, kind=kind, erp_id=erp_id)
            self.stdout.write(self.style.SUCCESS(f"Deleted {word} {erp_id} in {name}."))
        else:
            sandbox_restore(erp_system=erp_system, kind=kind, erp_id=erp_id)
            self.stdout.write(self.style.SUCCESS(f"Restored {word} {erp_id} in {name}."))

    def _add_or_edit(self, action: str, options: dict) -> None:
        given = {
            "id": options.get("id_"),
            "name": options.get("name"),
            "type": options.get("type"),
            "code": options.get("code"),
            "class": options.get("class_"),
            "description": options.get("description"),
            "job": options.get("job"),
        }
        kind = options["kind"]
        erp_system = options.get("erp") or self._find_erp(kind, options["erp_id"])
        values = {
            key: value for key, value in given.items() if key in MASTER_FIELDS[kind] and value is not None
        }
        name, word = _erp_name(erp_system), kind.replace("_", " ")
        if action == "add":
            record = sandbox_master_add(erp_system=erp_system, kind=kind, values=values)
            self.stdout.write(self.style.SUCCESS(f"Added {word} {record.erp_id} in {name}."))
        else:
            record = sandbox_master_edit(
                erp_system=erp_system, kind=kind, erp_id=options["erp_id"], values=values
            )
            self.stdout.write(self.style.SUCCESS(f"Changed {word} {record.erp_id} in {name}."))

    def _edit(self, options) -> None:
        kind, erp_id = options["kind"], options["erp_id"]
        erp_system = options.get("erp") or self._find_erp(kind, erp_id)
        changes = {name: options[name] for name in EDITABLE_VALUES if options.get(name) is not None}
        if not changes:
            raise CommandError(f"Say what to change: {', '.join('--' + name for name in EDITABLE_VALUES)}.")
        sandbox_edit(erp_system=erp_system, kind=kind, erp_id=erp_id, changes=changes)
        shown = ", ".join(f"{name} {value!r}" for name, value in changes.items())
        self.stdout.write(self.style.SUCCESS(f"Changed {self._word(kind, erp_system)} {erp_id}: {shown}."))

    def _company_id(self, slug: str) -> int:
        company_id = Company.objects.filter(slug=slug).values_list("id", flat=True).first()
        if company_id is None:
            raise CommandError(f"No company {slug!r}.")
        return company_id

    @staticmethod
    def _amount(value: str) -> Decimal:
        try:
            return Decimal(value).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise CommandError(f"{value!r} is not an amount.") from None

    @staticmethod
    def _date(value: str | None) -> date:
        if not value:
            return timezone.localdate()
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from None

    def _cost(self, options) -> None:
        row = sandbox_post_cost(
            erp_system=options["erp"],
            company_id=self._company_id(options["company"]),
            job=options["job"],
            cost_code=options["cost_code"],
            amount=self._amount(options["amount"]),
            posted_on=self._date(options.get("on")),
            description=options["description"],
        )
        self.stdout.write(
            self.style.SUCCESS(f"Posted {row.erp_id}: {row.amount} to {row.job} {row.cost_code}.")
        )

    def _pay(self, options) -> None:
        row = sandbox_issue_payment(
            erp_system=options["erp"],
            company_id=self._company_id(options["company"]),
            requisition=options["requisition"],
            amount=self._amount(options["amount"]),
            paid_on=self._date(options.get("on")),
        )
        self.stdout.write(self.style.SUCCESS(f"Issued {row.erp_id}: {row.amount} against {row.requisition}."))

    def _find_erp(self, kind: str, erp_id: str) -> str:
        found = [erp for erp in STORES if sandbox_records(erp).filter(kind=kind, erp_id=erp_id).exists()]
        if not found:
            raise CommandError(f"No {self._word(kind)} with id {erp_id!r} in any sandbox ERP.")
        if len(found) > 1:
            raise CommandError(
                f"{erp_id} is a {self._word(kind)} in more than one sandbox ERP "
                f"({', '.join(found)}); choose one with --erp."
            )
        return found[0]

    def _set_mode(self, erp_system: str, mode: str, latency_ms: int) -> None:
        if mode == SandboxSwitch.Mode.SLOW and latency_ms <= 0:
            raise CommandError("--latency-ms must be a positive number of milliseconds.")
        switch = sandbox_set_mode(erp_system=erp_system, mode=mode, latency_ms=latency_ms)
        name = _erp_name(erp_system)
        if switch.mode == SandboxSwitch.Mode.SLOW:
            self.stdout.write(self.style.SUCCESS(f"{name} is now slow: {switch.latency_ms} ms per request."))
        else:
            self.stdout.write(self.style.SUCCESS(f"{name} is now {switch.mode}."))

    def _list(self, erp_system: str, kind: str | None, deleted_only: bool) -> None:
        records = sandbox_records(erp_system).order_by("-id")
        if kind:
            records = records.filter(kind=kind)
        if deleted_only:
            records = records.filter(deleted_at__isnull=False)
        switch = sandbox_switch(erp_system)
        mode = f"{switch.mode}, {switch.latency_ms} ms" if switch.mode == "slow" else switch.mode
        self.stdout.write(f"{_erp_name(erp_system)} ({mode})")
        shown = 0
        for record in records[:LIST_LIMIT]:
            shown += 1
            data = record.data or {}
            state = f"deleted {record.deleted_at:%Y-%m-%d %H:%M}" if record.deleted_at else "live"
            self.stdout.write(
                f"{record.erp_id:<16} {self._word(record.kind, erp_system):<12} "
                f"{data.get('number', data.get('name', '')):<14} "
                f"{record.external_reference:<22} {state}"
            )
        if not shown:
            self.stdout.write("No records.")
        elif shown == LIST_LIMIT:
            self.stdout.write(f"(only the newest {LIST_LIMIT} are shown)")

    @staticmethod
    def _word(kind: str, erp_system: str | None = None) -> str:
        """The ERP's own word (a subcontractor invoice is a requisition there), from the kinds.

        Without an ERP, the word of every sandbox ERP (they agree on each kind).
        """
        record_kind = BY_SLUG.get(kind)
        if record_kind is None:  # master data, or a record made by hand in the store
            return kind.replace("_", " ")
        words = sorted({record_kind.erp_noun(erp) for erp in ([erp_system] if erp_system else STORES)})
        return " or ".join(words)
