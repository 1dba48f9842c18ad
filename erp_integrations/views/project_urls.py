"""The project's Commitments tool (commitments, their invoices and change orders) and the
sandbox ERP console."""

from django.urls import path

from erp_integrations import kinds
from erp_integrations.views import commitments, records, sandbox_console


def _record_urls(kind: kinds.RecordKind, prefix: str, id_name: str) -> list:
    """A record's pages: ``<slug>_detail``, ``_edit``, ``_delete``, ``_send`` and ``_retrieve``.

    ``id_name``: the URL's name for the record's id (``pk``, or ``iid`` for invoices, as
    they have always been named).
    """
    base = f"projects/<int:project_id>/{prefix}/<int:{id_name}>/"
    return [
        path(base, records.for_kind(records.record_detail, kind, id_name), name=f"{kind.slug}_detail"),
        path(f"{base}edit/", records.for_kind(records.record_edit, kind, id_name), name=f"{kind.slug}_edit"),
        path(
            f"{base}delete/",
            records.for_kind(records.record_delete, kind, id_name),
            name=f"{kind.slug}_delete",
        ),
        path(f"{base}send/", records.for_kind(records.record_send, kind, id_name), name=f"{kind.slug}_send"),
        path(
            f"{base}retrieve/",
            records.for_kind(records.record_retrieve, kind, id_name),
            name=f"{kind.slug}_retrieve",
        ),
    ]


def _child_create_url(kind: kinds.RecordKind, prefix: str):
    """A new record under its commitment: ``<slug>_create`` (``pk``: the commitment)."""
    return path(
        f"projects/<int:project_id>/commitments/<int:pk>/{prefix}/new/",
        records.for_kind(records.record_create, kind),
        name=f"{kind.slug}_create",
    )


urlpatterns = [
    path("projects/", commitments.project_list, name="project_list"),
    # Commitments of one project.
    path("projects/<int:project_id>/commitments/", commitments.commitment_list, name="commitment_list"),
    path(
        "projects/<int:project_id>/commitments/new/",
        records.for_kind(records.record_create, kinds.COMMITMENT),
        name="commitment_create",
    ),
    *_record_urls(kinds.COMMITMENT, "commitments", "pk"),
    # Subcontractor invoices and change orders, created under their commitment.
    _child_create_url(kinds.INVOICE, "invoices"),
    *_record_urls(kinds.INVOICE, "invoices", "iid"),
    _child_create_url(kinds.CCO, "change-orders"),
    *_record_urls(kinds.CCO, "change-orders", "cco_id"),
    # The sandbox ERP console (staff only).
    path("sandbox/", sandbox_console.sandbox_index, name="sandbox_index"),
    path("sandbox/<str:erp_system>/", sandbox_console.sandbox_records, name="sandbox_records"),
    path("sandbox/<str:erp_system>/mode/", sandbox_console.sandbox_mode, name="sandbox_mode"),
    path(
        "sandbox/<str:erp_system>/records/<str:erp_id>/delete/",
        sandbox_console.sandbox_delete,
        name="sandbox_delete",
    ),
    path(
        "sandbox/<str:erp_system>/records/<str:erp_id>/restore/",
        sandbox_console.sandbox_restore,
        name="sandbox_restore",
    ),
]
