"""Asset checks of the trading assets, one function per property.

Each function computes an :class:`dagster.AssetCheckResult` from data; the assets call them and
return the results with their materialization (``check_specs``), so a blocking check stops the
downstream steps of the same run.
"""

from __future__ import annotations

import dagster as dg

from orchestration import constants as c
from orchestration.execution.reconcile import PositionReconciliation
from orchestration.metadata import table_text as _md


def broker_positions_reconciled(result: PositionReconciliation) -> dg.AssetCheckResult:
    """The broker holds exactly the positions our ledger expects (no breaks)."""
    return dg.AssetCheckResult(
        check_name=c.BROKER_POSITIONS_RECONCILED,
        passed=result.passed,
        metadata={
            "breaks": len(result.breaks),
            "symbols_checked": result.symbols_checked,
            "reconciliation_id": result.id,
            "break_details": dg.MetadataValue.md(_md(result.breaks.head(20))),
        },
        description=result.describe(),
    )


# --------------------------------------------------------------------------------------------
# risk group
