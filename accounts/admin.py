"""The Django admin for platform staff: companies, projects, users, the company
directory with its tool level and the 'Can Push to Accounting' privilege, and the
Commitments tool level per project.

The admin site itself admits only staff. Within it the privilege can be changed only
by staff who also hold ``accounts.grant_push_to_accounting`` (superusers do), and
every change goes through ``accounts.services.membership_set_privilege``, which keeps
a PrivilegeChange. The history is shown read-only.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.models import (
    Company,
    DirectoryMembership,
    PrivilegeChange,
    Project,
    ProjectPermission,
    StaffStatusChange,
    User,
    time_zone_choices,
)
from accounts.permissions import may_change_privilege
from accounts.services import membership_set_privilege

PRIVILEGE_FIELDS = ("can_push_to_accounting", "privilege_changed_by", "privilege_changed_at")


def _revoke_before_delete(request, membership: DirectoryMembership) -> None:
    """Deleting an entry that holds the privilege revokes it; record that as a revoke."""
    if not membership.can_push_to_accounting:
        return
    if not may_change_privilege(request.user):
        raise PermissionDenied(
            f"{membership} holds 'Can Push to Accounting'; only staff who may revoke it "
            "can delete this directory entry."
        )
    membership_set_privilege(membership=membership, granted=False, changed_by=request.user)


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "time_zone", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("created_at",)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "time_zone":
            # The zone the company's daily summary goes out in (at DIGEST_HOUR there).
            return forms.ChoiceField(
                choices=time_zone_choices(),
                label="Time zone",
                help_text="The approvers' daily summary goes out at DIGEST_HOUR in this zone.",
                initial=db_field.default,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class ProjectPermissionForProjectInline(admin.TabularInline):
    model = ProjectPermission
    fields = ("user", "commitments_level")
    autocomplete_fields = ("user",)
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("number", "name", "company", "created_at")
    list_select_related = ("company",)
    list_filter = ("company",)
    search_fields = ("number", "name", "company__name")
    autocomplete_fields = ("company",)
    readonly_fields = ("created_at",)
    inlines = (ProjectPermissionForProjectInline,)


class DirectoryMembershipInlineForm(forms.ModelForm):
    """An existing entry keeps its company: moving it would move a granted privilege."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and "company" in self.fields:
            # A disabled field ignores whatever the browser posts for it.
            self.fields["company"].disabled = True


class DirectoryMembershipInline(admin.TabularInline):
    """A user's companies. The privilege is shown here but granted on the entry itself."""

    model = DirectoryMembership
    form = DirectoryMembershipInlineForm
    fk_name = "user"
    fields = ("company", "erp_integrations_level", *PRIVILEGE_FIELDS)
    readonly_fields = PRIVILEGE_FIELDS
    autocomplete_fields = ("company",)
    show_change_link = True
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("company", "privilege_changed_by")


class ProjectPermissionForUserInline(admin.TabularInline):
    model = ProjectPermission
    fields = ("project", "commitments_level")
    autocomplete_fields = ("project",)
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("project")


#: What only a superuser may give: with any of them a staff member could hand
#: themselves or anyone else every permission of the admin, the grant included.
SUPERUSER_ONLY_FIELDS = ("is_superuser", "groups", "user_permissions")


@admin.register(User)
class AccountUserAdmin(UserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "is_superuser", "is_active")
    inlines = (DirectoryMembershipInline, ProjectPermissionForUserInline)
    # The time zone the user's pages show times in, beside their name and e-mail.
    fieldsets = tuple(
        (name, {**opts, "fields": (*opts["fields"], "time_zone")} if name == _("Personal info") else opts)
        for name, opts in UserAdmin.fieldsets
    )

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "time_zone":
            # A list to pick from, not a name to spell.
            return forms.ChoiceField(
                choices=time_zone_choices(),
                label=db_field.verbose_name.capitalize(),
                help_text=db_field.help_text,
                initial=db_field.default,
                # A form that leaves it out (another admin page's) keeps the zone as it is.
                required=False,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += SUPERUSER_ONLY_FIELDS
        return readonly

    def get_inlines(self, request, obj):
        # The two-step add form stays Django's own; companies come once the user exists.
        return self.inlines if obj is not None else ()

    def save_formset(self, request, form, formset, change):
        if formset.model is DirectoryMembership:
            for deleted in formset.deleted_forms:
                if deleted.instance.pk:
                    _revoke_before_delete(request, deleted.instance)
        super().save_formset(request, form, formset, change)


@admin.register(DirectoryMembership)
class DirectoryMembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "company", "erp_integrations_level", *PRIVILEGE_FIELDS)
    list_select_related = ("user", "company", "privilege_changed_by")
    list_filter = ("can_push_to_accounting", "erp_integrations_level", "company")
    search_fields = ("user__username", "user__email", "user__last_name", "company__name")
    autocomplete_fields = ("company", "user")
    actions = ("grant_push_to_accounting", "revoke_push_to_accounting")
    fields = ("company", "user", "erp_integrations_level", *PRIVILEGE_FIELDS, "privilege_history")

    def get_readonly_fields(self, request, obj=None):
        readonly = ["privilege_changed_by", "privilege_changed_at", "privilege_history"]
        if obj is not None:
            readonly += ["company", "user"]
        if not may_change_privilege(request.user):
            readonly.append("can_push_to_accounting")
        return readonly

    @admin.display(description="Privilege history")
    def privilege_history(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        changes = (
            PrivilegeChange.objects.filter(company_id=obj.company_id, user_id=obj.user_id)
            .select_related("changed_by")
            .order_by("-changed_at", "-id")[:20]
        )
        if not changes:
            return "Never granted."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} by {} on {}</li>",
                ((c.get_action_display(), c.changed_by, c.changed_at) for c in changes),
            ),
        )

    def save_model(self, request, obj, form, change):
        wanted = obj.can_push_to_accounting
        # Save the other fields with the privilege as it is in the database, then
        # change the privilege through the one service that records it.
        obj.can_push_to_accounting = obj._privilege_in_db
        super().save_model(request, obj, form, change)
        if wanted != obj.can_push_to_accounting:
            if not may_change_privilege(request.user):
                raise PermissionDenied
            membership_set_privilege(membership=obj, granted=wanted, changed_by=request.user)

    def delete_model(self, request, obj):
        _revoke_before_delete(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset.filter(can_push_to_accounting=True):
            _revoke_before_delete(request, membership)
        super().delete_queryset(request, queryset)

    def has_grant_push_permission(self, request) -> bool:
        return may_change_privilege(request.user)

    def _set_privilege(self, request, queryset, *, granted: bool) -> None:
        changed = 0
        for membership in queryset:
            if membership_set_privilege(membership=membership, granted=granted, changed_by=request.user):
                changed += 1
        verb = "Granted" if granted else "Revoked"
        self.message_user(
            request,
            f"{verb} 'Can Push to Accounting' for {changed} directory "
            f"{'entry' if changed == 1 else 'entries'}.",
            messages.SUCCESS,
        )

    @admin.action(description="Grant 'Can Push to Accounting'", permissions=["grant_push"])
    def grant_push_to_accounting(self, request, queryset):
        self._set_privilege(request, queryset, granted=True)

    @admin.action(description="Revoke 'Can Push to Accounting'", permissions=["grant_push"])
    def revoke_push_to_accounting(self, request, queryset):
        self._set_privilege(request, queryset, granted=False)


@admin.register(ProjectPermission)
class ProjectPermissionAdmin(admin.ModelAdmin):
    list_display = ("user", "project", "company", "commitments_level")
    list_select_related = ("user", "project__company")
    list_filter = ("commitments_level", "project__company")
    search_fields = ("user__username", "user__email", "project__number", "project__name")
    autocomplete_fields = ("user", "project")

    @admin.display(ordering="project__company__name")
    def company(self, obj):
        return obj.project.company


@admin.register(PrivilegeChange)
class PrivilegeChangeAdmin(admin.ModelAdmin):
    """The record of every grant and revoke: readable, never editable."""

    list_display = ("changed_at", "action", "user", "company", "changed_by")
    list_select_related = ("user", "company", "changed_by")
    list_filter = ("action", "company")
    search_fields = ("user__username", "changed_by__username", "company__name")
    fields = ("changed_at", "action", "user", "company", "changed_by")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StaffStatusChange)
class StaffStatusChangeAdmin(admin.ModelAdmin):
    """Every change of a user's staff or superuser status: readable, never editable.

    An empty "changed by" means the change was made outside the site (the command
    line or a shell, e.g. createsuperuser).
    """

    list_display = ("changed_at", "user", "field", "old_value", "new_value", "changed_by")
    list_select_related = ("user", "changed_by")
    list_filter = ("field", "new_value")
    search_fields = ("user__username", "changed_by__username")
    fields = ("changed_at", "user", "field", "old_value", "new_value", "changed_by")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
