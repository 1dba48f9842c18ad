from erp_integrations.connectors.base import (
    ErpConnector,
    ErpError,
    ErpMasterRecord,
    ErpTimeout,
    ErpUnavailable,
    ValidationProblem,
    get_connector,
)

__all__ = [
    "ErpConnector",
    "ErpError",
    "ErpMasterRecord",
    "ErpTimeout",
    "ErpUnavailable",
    "ValidationProblem",
    "get_connector",
]
