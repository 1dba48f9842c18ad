from django.apps import AppConfig


class ErpIntegrationsConfig(AppConfig):
    name = "erp_integrations"
    verbose_name = "ERP Integrations"
