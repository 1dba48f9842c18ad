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

Without --erp, delete and restore look for the id in every sandbox ERP (their id
formats differ, so an id is normally in one only).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from erp_integrations.kinds import BY_SLUG, KINDS
from erp_integrations.models import ErpSystem
from erp_integrations.sandbox.models import SandboxSwitch
from erp_integrations.sandbox.services import (
    MASTER_FIELDS,
    STORES,
    SandboxError,
    sandbox_delete,
    sandbox_master_add,
    sandbox_master_edit,
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
            sub = actions.add_parser(name, help=f"{verb} a job, vendor, cost code or sub job in the ERP.")
            sub.add_argument("kind", choices=list(MASTER_FIELDS))
            if name == "edit":
                sub.add_argument("erp_id", help="The ERP's id: a job or vendor id, 03-300:L for a cost code.")
            sub.add_argument("--erp", choices=list(STORES), required=True)
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

    def handle(self, *args, **options) -> None:
        action = options["action"]
        try:
            if action in ("delete", "restore"):
                self._delete_or_restore(action, options["kind"], options["erp_id"], options.get("erp"))
            elif action in ("add", "edit"):
                self._add_or_edit(action, options)
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
        kind, erp_system = options["kind"], options["erp"]
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
