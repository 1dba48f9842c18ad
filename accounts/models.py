from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q


class User(AbstractUser):
    """A person who signs in. Companies they belong to come from the directory."""

    class Meta:
        db_table = "accounts_user"


class Company(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
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

    #: The privilege as last read from or written to the database (False for a new row).
    _privilege_in_db = False
    #: Set only by accounts.services.membership_set_privilege, which records the change.
    _privilege_change_recorded = False

    def __str__(self) -> str:
        return f"{self.user} in {self.company}"

    def save(self, *args, **kwargs):
        # Every grant and revoke must be recorded (who, to whom, when), so a save that
        # would change the privilege without going through the service is refused.
        if self.can_push_to_accounting != self._privilege_in_db and not self._privilege_change_recorded:
            raise PrivilegeChangeNotRecorded(
                "'Can Push to Accounting' is granted and revoked only through "
                "accounts.services.membership_set_privilege(membership=..., granted=..., "
                "changed_by=<staff user>), which records the change."
            )
        super().save(*args, **kwargs)
        self._privilege_in_db = self.can_push_to_accounting
        self._privilege_change_recorded = False

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._privilege_in_db = instance.__dict__.get("can_push_to_accounting", False)
        return instance

    def refresh_from_db(self, *args, **kwargs):
        super().refresh_from_db(*args, **kwargs)
        self._privilege_in_db = self.can_push_to_accounting


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
