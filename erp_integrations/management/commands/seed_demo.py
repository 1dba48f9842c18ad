from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from erp_integrations.connectors import ErpError
from erp_integrations.demo import DEMO_PASSWORD, USERS, seed_demo


class Command(BaseCommand):
    help = (
        "Create or refresh the demo: two companies (Sage 300 CRE® and Sage 100 Contractor®), "
        "their projects, vendors, commitments, subcontractor invoices and commitment change orders "
        "in every export state, and the users approver, pm, viewer and staff. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            help=f"Password of the demo users. Required unless DEBUG is on (then '{DEMO_PASSWORD}').",
        )

    def handle(self, *args, password=None, **options):
        if not password:
            if not settings.DEBUG:
                raise CommandError(
                    "DEBUG is off, so the demo users will not get the well-known password "
                    f"'{DEMO_PASSWORD}'. Pass one: manage.py seed_demo --password <password>"
                )
            password = DEMO_PASSWORD
        try:
            counts = seed_demo(password=password)
        except ErpError as error:
            raise CommandError(f"A sandbox ERP refused the demo's exports: {error}") from error
        summary = ", ".join(f"{count} {name}" for name, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {summary}."))
        names = ", ".join([*(u.username for u in USERS), "staff (Django admin)"])
        shown = password if password == DEMO_PASSWORD else "the one you gave"
        self.stdout.write(f"Sign in as {names}; password: {shown}.")
