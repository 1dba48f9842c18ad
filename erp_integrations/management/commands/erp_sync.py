"""Run the sync now, in this process: the same code as the hourly task."""

from django.core.management.base import BaseCommand, CommandError

from erp_integrations.models import ErpConnection, SyncRun
from erp_integrations.services.sync import connection_sync


class Command(BaseCommand):
    help = "Sync ERP links now for one company (--company slug or id) or every active connection."

    def add_arguments(self, parser):
        parser.add_argument("--company", help="The company's slug or id; all active connections if left out.")

    def handle(self, *args, company=None, **options):
        connections = ErpConnection.objects.filter(is_active=True).select_related("company")
        if company:
            lookup = {"company__pk": int(company)} if company.isdigit() else {"company__slug": company}
            connections = connections.filter(**lookup)
            if not connections.exists():
                raise CommandError(f"No company {company!r} with an active ERP connection.")

        failed = 0
        for connection in connections.order_by("pk"):
            run = connection_sync(connection_id=connection.pk, trigger=SyncRun.Trigger.COMMAND)
            if run is None:
                self.stdout.write(f"{connection}: skipped, another sync of it is running.")
                continue
            counts = (
                f"{run.links_checked} checked, {run.missing_found} missing, {run.reappeared} reappeared, "
                f"{run.drift_found} drifted, {run.orphans_found} orphans"
            )
            if run.status == SyncRun.Status.SUCCEEDED:
                self.stdout.write(self.style.SUCCESS(f"{connection}: sync {run.pk} succeeded: {counts}."))
            else:
                failed += 1
                self.stderr.write(self.style.ERROR(f"{connection}: sync {run.pk} failed: {run.error}"))
        if failed:
            raise CommandError(f"{failed} sync run(s) failed.")
