from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # Sign-in, home, the company's ERP Integrations tool, sync status, audit trail.
    path("", include("erp_integrations.views.tool_urls")),
    # The project's Commitments tool and the sandbox ERP console.
    path("", include("erp_integrations.views.project_urls")),
]
