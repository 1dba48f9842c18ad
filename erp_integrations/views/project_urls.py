"""The project's Commitments tool (with subcontractor invoices) and the sandbox ERP console."""

from django.urls import path

from erp_integrations.views import commitments, invoices, sandbox_console

urlpatterns = [
    path("projects/", commitments.project_list, name="project_list"),
    # Commitments of one project.
    path("projects/<int:project_id>/commitments/", commitments.commitment_list, name="commitment_list"),
    path(
        "projects/<int:project_id>/commitments/new/",
        commitments.commitment_create,
        name="commitment_create",
    ),
    path(
        "projects/<int:project_id>/commitments/<int:pk>/",
        commitments.commitment_detail,
        name="commitment_detail",
    ),
    path(
        "projects/<int:project_id>/commitments/<int:pk>/edit/",
        commitments.commitment_edit,
        name="commitment_edit",
    ),
    path(
        "projects/<int:project_id>/commitments/<int:pk>/delete/",
        commitments.commitment_delete,
        name="commitment_delete",
    ),
    path(
        "projects/<int:project_id>/commitments/<int:pk>/send/",
        commitments.commitment_send,
        name="commitment_send",
    ),
    # Subcontractor invoices, created under their subcontract.
    path(
        "projects/<int:project_id>/commitments/<int:pk>/invoices/new/",
        invoices.invoice_create,
        name="invoice_create",
    ),
    path("projects/<int:project_id>/invoices/<int:iid>/", invoices.invoice_detail, name="invoice_detail"),
    path("projects/<int:project_id>/invoices/<int:iid>/edit/", invoices.invoice_edit, name="invoice_edit"),
    path(
        "projects/<int:project_id>/invoices/<int:iid>/delete/",
        invoices.invoice_delete,
        name="invoice_delete",
    ),
    path("projects/<int:project_id>/invoices/<int:iid>/send/", invoices.invoice_send, name="invoice_send"),
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
