"""The base of every operator screen: tenant scoping and audited writes, written once.

- **Tenant staff** (a staff user with a tenant) see and change only their tenant's rows, on every page:
  lists, counts, change views by URL id (another tenant's id is "not found", like a missing one), search,
  autocomplete, filters (choices limited to their rows), actions and exports (they start from the scoped
  queryset), and foreign-key choices in forms. What they may do is declared per screen
  (``tenant_staff_permissions``); Django's model permissions are not consulted for them.
- **Platform users** (no tenant: superusers, platform staff) see every tenant, with a tenant filter, under
  Django's usual permissions.
- Every save and delete made through a screen writes an ``AuditEntry`` (before/after of the changed fields,
  secrets redacted) in the same transaction.

A screen names the path from its model to the tenant in ``tenant_lookup`` ("tenant", "user__tenant",
"account__tenant", "pk" for the tenant itself); ``None`` makes it a platform-only screen.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.db import models, transaction
from unfold.admin import ModelAdmin, StackedInline, TabularInline

from core.audit import REDACTED, audit_record, audit_value


def operator_tenant_id(request) -> int | None:
    """The tenant an operator is confined to; None for platform users."""
    return getattr(request.user, "tenant_id", None)


def is_tenant_staff(request) -> bool:
    return operator_tenant_id(request) is not None


class TenantScopedAdmin(ModelAdmin):
    tenant_lookup: str | None = "tenant"
    # What tenant staff may do on this screen: any of "view", "change", "add", "delete".
    tenant_staff_permissions: tuple[str, ...] = ("view",)
    # Fields whose values never go into the audit log (secrets): the entry says they changed, not to what.
    audit_redacted_fields: tuple[str, ...] = ()
    # Fields tenant staff never see in forms (the tenant itself: it is set from the operator).
    tenant_staff_excluded_fields: tuple[str, ...] = ("tenant",)

    # --- scoping ---------------------------------------------------------------------------------------

    def scope_queryset(self, request, queryset: models.QuerySet) -> models.QuerySet:
        tenant_id = operator_tenant_id(request)
        if tenant_id is None:
            return queryset
        if self.tenant_lookup is None:
            return queryset.none()
        return queryset.filter(**{self.tenant_lookup: tenant_id})

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    def _tenant_staff_may(self, request, what: str) -> bool:
        return self.tenant_lookup is not None and what in self.tenant_staff_permissions

    def has_view_permission(self, request, obj=None):
        if is_tenant_staff(request):
            return self._tenant_staff_may(request, "view") or self._tenant_staff_may(request, "change")
        return super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        if is_tenant_staff(request):
            return self._tenant_staff_may(request, "change")
        return super().has_change_permission(request, obj)

    def has_add_permission(self, request, *args):
        if is_tenant_staff(request):
            return self._tenant_staff_may(request, "add")
        return super().has_add_permission(request, *args)

    def has_delete_permission(self, request, obj=None):
        if is_tenant_staff(request):
            return self._tenant_staff_may(request, "delete")
        return super().has_delete_permission(request, obj)

    def has_module_permission(self, request):
        if is_tenant_staff(request):
            return self.has_view_permission(request)
        return super().has_module_permission(request)

    # --- filters: a tenant filter for platform users; related choices limited for tenant staff ---------

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        tenant_filter = self.tenant_filter_path()
        if not is_tenant_staff(request):
            if tenant_filter and tenant_filter not in filters:
                filters.insert(0, tenant_filter)
            return filters
        scoped = []
        for item in filters:
            if isinstance(item, str):
                if item == tenant_filter:
                    continue  # one tenant: nothing to filter, and its choices would name the others
                if self._is_relation(item):
                    item = (item, admin.RelatedOnlyFieldListFilter)
            elif isinstance(item, tuple) and isinstance(item[0], str) and self._is_relation(item[0]):
                if item[0] == tenant_filter:
                    continue
                item = (item[0], admin.RelatedOnlyFieldListFilter)
            scoped.append(item)
        return scoped

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        if is_tenant_staff(request):
            columns = [column for column in columns if column not in ("tenant", self.tenant_filter_path())]
        return columns

    def tenant_filter_path(self) -> str | None:
        if self.tenant_lookup in (None, "pk", "id"):
            return None
        return self.tenant_lookup.removesuffix("_id")

    def _is_relation(self, path: str) -> bool:
        try:
            field = get_fields_from_path(self.model, path)[-1]
        except Exception:  # a callable or a non-field filter
            return False
        return bool(getattr(field, "is_relation", False))

    # --- forms: no tenant picker for tenant staff, foreign keys limited to their rows ------------------

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if is_tenant_staff(request):
            exclude += [name for name in self.tenant_staff_excluded_fields if name not in exclude]
        return exclude or None

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if is_tenant_staff(request):
            fields = [name for name in fields if name not in self.tenant_staff_excluded_fields]
        return fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not is_tenant_staff(request):
            return fieldsets
        hidden = set(self.tenant_staff_excluded_fields)
        return [
            (name, {**options, "fields": [f for f in options.get("fields", ()) if f not in hidden]})
            for name, options in fieldsets
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        tenant_id = operator_tenant_id(request)
        if tenant_id is None or self.tenant_lookup != "tenant":
            return form

        class TenantStaffForm(form):  # type: ignore[valid-type,misc]
            """The row belongs to the operator's tenant before it is validated, so that the uniqueness and the
            constraints that involve the tenant are checked on the form (not as a server error on save)."""

            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                if getattr(self.instance, "tenant_id", None) is None:
                    self.instance.tenant_id = tenant_id

            def _get_validation_exclusions(self):
                exclusions = super()._get_validation_exclusions()
                exclusions.discard("tenant")
                return exclusions

        TenantStaffForm.__name__ = form.__name__
        return TenantStaffForm

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and is_tenant_staff(request) and hasattr(field, "queryset"):
            field.queryset = scope_related(self.admin_site, request, field.queryset)
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and is_tenant_staff(request) and hasattr(field, "queryset"):
            field.queryset = scope_related(self.admin_site, request, field.queryset)
        return field

    # --- audited writes --------------------------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        if is_tenant_staff(request) and not change and hasattr(obj, "tenant_id") and self.tenant_lookup == "tenant":
            obj.tenant_id = operator_tenant_id(request)
        before, after = self.form_changes(form, change)
        with transaction.atomic():
            self.save_through_service(request, obj, form, change)
            audit_record(
                actor=request.user,
                action="change" if change else "add",
                target=obj,
                tenant_id=self.tenant_of(obj),
                before=before,
                after=after,
            )

    def save_through_service(self, request, obj, form, change) -> None:
        """Where a screen calls its service to save; the default is the model's own save."""
        super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        with transaction.atomic():
            audit_record(
                actor=request.user, action="delete", target=obj, tenant_id=self.tenant_of(obj), before=snapshot(obj)
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                audit_record(
                    actor=request.user,
                    action="delete",
                    target=obj,
                    tenant_id=self.tenant_of(obj),
                    before=snapshot(obj),
                )
            super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        changes: dict[str, Any] = {}
        if formset.new_objects:
            changes["added"] = [str(obj) for obj in formset.new_objects]
        if formset.changed_objects:
            changes["changed"] = {str(obj): fields for obj, fields in formset.changed_objects}
        if formset.deleted_objects:
            changes["deleted"] = [str(obj) for obj in formset.deleted_objects]
        if changes:
            audit_record(
                actor=request.user,
                action=f"change {formset.model._meta.verbose_name_plural}",
                target=form.instance,
                tenant_id=self.tenant_of(form.instance),
                after=changes,
            )

    def tenant_of(self, obj) -> int | None:
        if obj._meta.label == "accounts.Tenant":
            return obj.pk
        if hasattr(obj, "tenant_id"):
            return obj.tenant_id
        if self.tenant_lookup:
            value: Any = obj
            for part in self.tenant_lookup.split("__"):
                value = getattr(value, part, None)
                if value is None:
                    return None
            return getattr(value, "pk", value)
        return None

    def form_changes(self, form, change: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        names = (
            form.changed_data
            if change
            else [n for n in form.cleaned_data if form.cleaned_data.get(n) not in ("", None)]
        )
        before, after = {}, {}
        for name in names:
            if name in self.audit_redacted_fields or "password" in name:
                before[name], after[name] = ("(set)" if change else None), REDACTED
                continue
            if change:
                before[name] = audit_value(form.initial.get(name))
            after[name] = audit_value(form.cleaned_data.get(name))
        return before, after


def snapshot(obj: models.Model) -> dict[str, Any]:
    return {
        field.attname: audit_value(getattr(obj, field.attname))
        for field in obj._meta.concrete_fields
        if "secret" not in field.name and "password" not in field.name and "api_key" not in field.name
    }


def scope_related(admin_site, request, queryset: models.QuerySet) -> models.QuerySet:
    """``queryset`` of another model limited to the operator's tenant, through that model's own screen;
    a model without a tenant-scoped screen offers tenant staff nothing."""
    model_admin = admin_site._registry.get(queryset.model)
    if isinstance(model_admin, TenantScopedAdmin):
        return model_admin.scope_queryset(request, queryset)
    return queryset.none()


class ReadOnlyScopedAdmin(TenantScopedAdmin):
    """A scoped screen nobody writes through (the ledger, logs, the audit log itself)."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ScopedTabularInline(TabularInline):
    """An inline under a scoped screen: its rows belong to the (already scoped) parent, and its foreign-key
    choices are limited like the parent's."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and is_tenant_staff(request) and hasattr(field, "queryset"):
            field.queryset = scope_related(self.admin_site, request, field.queryset)
        return field

    def has_view_permission(self, request, obj=None):
        return True if is_tenant_staff(request) else super().has_view_permission(request, obj)


class ScopedStackedInline(StackedInline):
    def has_view_permission(self, request, obj=None):
        return True if is_tenant_staff(request) else super().has_view_permission(request, obj)
