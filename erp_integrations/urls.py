from django.contrib import admin
from django.urls import include, path

from erp_integrations.views import health

urlpatterns = [
    # For load balancers and monitoring: the database, the task queue, the syncs' age.
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # Sign-in, home, the company's ERP Integrations tool, sync status, audit trail.
    path("", include("erp_integrations.views.tool_urls")),
    # The project's Commitments tool and the sandbox ERP console.
    path("", include("erp_integrations.views.project_urls")),
]

# 503 with Retry-After when the database pool had no connection to spare.
handler500 = "erp_integrations.views.common.server_error"
