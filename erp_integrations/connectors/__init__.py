from erp_integrations.connectors.base import (
    ErpConnector,
    ErpError,
    ErpTimeout,
    ErpUnavailable,
    ValidationProblem,
    get_connector,
)

__all__ = [
    "ErpConnector",
    "ErpError",
    "ErpTimeout",
    "ErpUnavailable",
    "ValidationProblem",
    "get_connector",
]
