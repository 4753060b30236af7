"""Portfolio Pipeline's Dagster code location and everything with side effects."""

import warnings

# dagster.BetaWarning itself, from where it is defined: importing dagster here would cost every
# `portfolio` command a second, Dagster or not.
from dagster_shared.utils.warnings import BetaWarning

# The beta APIs used here (single-run backfill policies, the observable `baskets` source,
# sensor owners) are deliberate choices; their notices would repeat on every definitions load
# in the CLI, the code server and the daemon.
warnings.filterwarnings("ignore", category=BetaWarning)
