from erp_integrations.connectors.base import (
    ErpConnector,
    ErpCostTransaction,
    ErpError,
    ErpMasterRecord,
    ErpPayment,
    ErpRecordValues,
    ErpTimeout,
    ErpUnavailable,
    Page,
    ValidationProblem,
    get_connector,
)

__all__ = [
    "ErpConnector",
    "ErpCostTransaction",
    "ErpPayment",
    "ErpRecordValues",
    "Page",
    "ErpError",
    "ErpMasterRecord",
    "ErpTimeout",
    "ErpUnavailable",
    "ValidationProblem",
    "get_connector",
]
