from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "erp_integrations.sandbox"
    label = "sandbox"
    verbose_name = "Sandbox ERPs"
