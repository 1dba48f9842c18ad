from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from zoneinfo import available_timezones

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q

#: Whether a user is platform staff or a superuser: every change of these is recorded.
STAFF_STATUS_FIELDS = ("is_staff", "is_superuser")

#: Who is acting: a function that returns the id of the signed-in user whose request
#: is being served (set by erp_integrations.middleware.RequestContextMiddleware), asked
#: only when a staff status changes. Unset outside a request: the command line, a shell.
acting_user: ContextVar[Callable[[], int | None] | None] = ContextVar("acting_user", default=None)


def _acting_user_id() -> int | None:
    who = acting_user.get()
    return who() if who is not None else None


class UserQuerySet(models.QuerySet):
    """``update()`` and ``bulk_create()`` record changes of staff status like ``save()`` does."""

    def update(self, **kwargs):
        if not set(kwargs) & set(STAFF_STATUS_FIELDS):
            return super().update(**kwargs)
        with transaction.atomic(using=self.db):
            before = {
                row[0]: row[1:]
                for row in self.select_for_update().order_by("pk").values_list("pk", *STAFF_STATUS_FIELDS)
            }
            count = super().update(**kwargs)
            after = self.model._default_manager.filter(pk__in=before).values_list("pk", *STAFF_STATUS_FIELDS)
            StaffStatusChange.record_many(
                (
                    pk,
                    dict(zip(STAFF_STATUS_FIELDS, before[pk], strict=True)),
                    dict(zip(STAFF_STATUS_FIELDS, row, strict=True)),
                )
                for pk, *row in after
            )
        return count

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        with transaction.atomic(using=self.db):
            created = super().bulk_create(objs, *args, **kwargs)
            StaffStatusChange.record_many(
                (user.pk, dict.fromkeys(STAFF_STATUS_FIELDS, False), _staff_status(user))
                for user in created
                if user.pk is not None
            )
        return created


def _staff_status(user) -> dict[str, bool]:
    return {name: bool(getattr(user, name)) for name in STAFF_STATUS_FIELDS}


class AccountUserManager(UserManager.from_queryset(UserQuerySet)):
    pass


def time_zone_choices() -> list[tuple[str, str]]:
    """Every IANA time zone, by name (Python's own database: no query, no migration churn)."""
    return [(name, name.replace("_", " ")) for name in sorted(available_timezones())]


def validate_time_zone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(
            f"“{value}” is not a time zone; pick one such as Europe/London or America/Chicago."
        )


class User(AbstractUser):
    """A person who signs in. Companies they belong to come from the directory.

    ``is_superuser`` and ``is_staff`` open the Django admin only; the product's
    permissions come from the company directory and tool levels (accounts.permissions).
    Every change of either is recorded as a StaffStatusChange, whichever way it is made.
    """

    #: The IANA time zone the pages show times in (UTC on hover); see
    #: erp_integrations.middleware.UserTimeZoneMiddleware.
    time_zone = models.CharField(
        "time zone",
        max_length=64,
        default="UTC",
        # In the table too: rows written by code that predates the field (bulk loads,
        # older migrations' models) get UTC rather than a NOT NULL error.
        db_default="UTC",
        validators=[validate_time_zone],
        help_text="Times on the pages are shown in this zone, with UTC when pointed at.",
    )

    #: Whether the user gets the daily ERP Integrations summary while records wait for them.
    digest_emails = models.BooleanField(
        "Subscribe to ERP digest emails",
        default=True,
        db_default=True,
        help_text="A daily summary of what waits for you in the ERP Integrations tool.",
    )

    objects = AccountUserManager()

    class Meta:
        db_table = "accounts_user"

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        audited = update_fields is None or bool(set(update_fields) & set(STAFF_STATUS_FIELDS))
        if not audited:
            return super().save(*args, **kwargs)
        with transaction.atomic(using=kwargs.get("using") or "default"):
            # Compared with the row itself, not with what this object remembers, so no
            # refresh_from_db() or stale copy can hide a change.
            before = None
            if self.pk is not None and not self._state.adding:
                before = (
                    type(self)
                    ._default_manager.select_for_update()
                    .filter(pk=self.pk)
                    .values(*STAFF_STATUS_FIELDS)
                    .first()
                )
            super().save(*args, **kwargs)
            StaffStatusChange.record_many(
                [(self.pk, before or dict.fromkeys(STAFF_STATUS_FIELDS, False), _staff_status(self))]
            )


class Company(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    #: The company's own time zone: its daily summary goes out at DIGEST_HOUR there.
    time_zone = models.CharField(
        max_length=64, default="UTC", db_default="UTC", validators=[validate_time_zone]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name


class Project(models.Model):
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="projects")
    number = models.CharField(max_length=30)
    name = models.CharField(max_length=200)
    # The ERP job this project is linked to: a copy of its live link's ERP id
    # (erp_integrations ErpLink, kind "job"), written with the link by the master-data
    # services only, so that an export can check it without another query.
    erp_job_id = models.CharField("ERP job id", max_length=40, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["company", "number"]
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="project_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class PermissionLevel(models.IntegerChoices):
    """Levels of a tool permission, ordered so that ``>=`` reads naturally."""

    NONE = 0, "None"
    READ_ONLY = 1, "Read Only"
    STANDARD = 2, "Standard"
    ADMIN = 3, "Admin"


class PrivilegeChangeNotRecorded(Exception):
    """A save tried to grant or revoke 'Can Push to Accounting' outside the service."""


class DirectoryEntryMoved(Exception):
    """A write tried to give a directory entry another company or user."""


#: A directory entry belongs to one company and one user for good: moving it would
#: move a granted privilege with it.
DIRECTORY_IDENTITY_FIELDS = frozenset({"company", "company_id", "user", "user_id"})
#: Written only by accounts.services.membership_set_privilege (through save()).
DIRECTORY_PRIVILEGE_FIELDS = frozenset(
    {
        "can_push_to_accounting",
        "privilege_changed_by",
        "privilege_changed_by_id",
        "privilege_changed_at",
    }
)


class DirectoryMembershipQuerySet(models.QuerySet):
    """Bulk writes that cannot move an entry or touch the privilege.

    ``update()`` (and so ``bulk_update()``) refuses the company, the user and the
    privilege's fields; ``bulk_create()`` refuses entries that arrive with the
    privilege. The database refuses the same (see migration 0003), whatever the route.
    """

    def update(self, **kwargs):
        if set(kwargs) & DIRECTORY_IDENTITY_FIELDS:
            raise DirectoryEntryMoved("A directory entry's company and user never change.")
        if set(kwargs) & DIRECTORY_PRIVILEGE_FIELDS:
            raise PrivilegeChangeNotRecorded(_THROUGH_THE_SERVICE)
        return super().update(**kwargs)

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        if any(obj.can_push_to_accounting for obj in objs):
            raise PrivilegeChangeNotRecorded(_THROUGH_THE_SERVICE)
        return super().bulk_create(objs, *args, **kwargs)


_THROUGH_THE_SERVICE = (
    "'Can Push to Accounting' is granted and revoked only through "
    "accounts.services.membership_set_privilege(membership=..., granted=..., "
    "changed_by=<staff user>), which records the change."
)


class DirectoryMembership(models.Model):
    """A user's entry in a company's directory.

    Carries the company-level tool permission for ERP Integrations and the
    'Can Push to Accounting' privilege, which only platform staff can grant.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="directory")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    erp_integrations_level = models.PositiveSmallIntegerField(
        "ERP Integrations tool", choices=PermissionLevel.choices, default=PermissionLevel.NONE
    )
    can_push_to_accounting = models.BooleanField("Can Push to Accounting", default=False)
    privilege_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    privilege_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DirectoryMembershipQuerySet.as_manager()

    class Meta:
        verbose_name = "company directory entry"
        verbose_name_plural = "company directory"
        ordering = ["company", "user__username"]
        permissions = [
            (
                "grant_push_to_accounting",
                "Can grant and revoke the 'Can Push to Accounting' privilege",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["company", "user"], name="directory_entry_unique"),
            models.CheckConstraint(
                condition=Q(erp_integrations_level__gte=0, erp_integrations_level__lte=3),
                name="directory_erp_level_valid",
            ),
            # A granted privilege always says who granted it and when.
            models.CheckConstraint(
                condition=Q(can_push_to_accounting=False)
                | Q(privilege_changed_by__isnull=False, privilege_changed_at__isnull=False),
                name="directory_privilege_has_grantor",
            ),
        ]

    #: Set only by accounts.services.membership_set_privilege, which records the change.
    _privilege_change_recorded = False

    def __str__(self) -> str:
        return f"{self.user} in {self.company}"

    def save(self, *args, **kwargs):
        # Compared with the row as it is in the database, not with what this object
        # remembers, so a stale copy or a refresh_from_db() cannot slip a change by.
        stored = None
        if self.pk is not None and not self._state.adding:
            stored = (
                type(self)
                ._default_manager.filter(pk=self.pk)
                .values("company_id", "user_id", "can_push_to_accounting")
                .first()
            )
        if stored is not None and (stored["company_id"], stored["user_id"]) != (
            self.company_id,
            self.user_id,
        ):
            raise DirectoryEntryMoved(
                "A directory entry's company and user never change; delete it and add a new one."
            )
        privilege_in_db = stored["can_push_to_accounting"] if stored is not None else False
        # Every grant and revoke must be recorded (who, to whom, when), so a save that
        # would change the privilege without going through the service is refused.
        if self.can_push_to_accounting != privilege_in_db and not self._privilege_change_recorded:
            raise PrivilegeChangeNotRecorded(_THROUGH_THE_SERVICE)
        super().save(*args, **kwargs)
        self._privilege_change_recorded = False

    @property
    def _privilege_in_db(self) -> bool:
        """The privilege as the database holds it now (False for an entry not saved yet)."""
        if self.pk is None or self._state.adding:
            return False
        return bool(
            type(self)
            ._default_manager.filter(pk=self.pk)
            .values_list("can_push_to_accounting", flat=True)
            .first()
        )


class ProjectPermission(models.Model):
    """A user's level on a project's Commitments tool."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="permissions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_permissions"
    )
    commitments_level = models.PositiveSmallIntegerField(
        "Commitments tool", choices=PermissionLevel.choices, default=PermissionLevel.NONE
    )

    class Meta:
        ordering = ["project", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="project_permission_unique"),
            models.CheckConstraint(
                condition=Q(commitments_level__gte=0, commitments_level__lte=3),
                name="project_commitments_level_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.project}: {self.get_commitments_level_display()}"


class PrivilegeChange(models.Model):
    """Every grant and revoke of 'Can Push to Accounting', kept for good."""

    class Action(models.TextChoices):
        GRANTED = "granted", "Granted"
        REVOKED = "revoked", "Revoked"

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} for {self.user} in {self.company}"


class StaffStatusChange(models.Model):
    """Every change of a user's staff or superuser status, kept for good.

    Recorded by ``User.save()``, ``User.objects.update()`` and ``bulk_create()``.
    ``changed_by`` is the signed-in user whose request made the change; empty when it
    was made outside the site (the command line, a shell).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    field = models.CharField(max_length=20, choices=[(name, name) for name in STAFF_STATUS_FIELDS])
    old_value = models.BooleanField()
    new_value = models.BooleanField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["user", "-changed_at"], name="staff_status_change_user")]

    def __str__(self) -> str:
        return f"{self.field} of {self.user}: {self.old_value} → {self.new_value}"

    @classmethod
    def record_many(cls, changes) -> list[StaffStatusChange]:
        """Record ``(user_id, before, after)`` triples whose staff status differs."""
        changed_by = _acting_user_id()
        rows = [
            cls(
                user_id=user_id,
                field=name,
                old_value=bool(before[name]),
                new_value=bool(after[name]),
                changed_by_id=changed_by,
            )
            for user_id, before, after in changes
            for name in STAFF_STATUS_FIELDS
            if bool(before[name]) != bool(after[name])
        ]
        return cls.objects.bulk_create(rows) if rows else []
