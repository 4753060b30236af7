"""``python -m orchestration.cli`` runs the ``portfolio`` console script."""

import sys

from orchestration.cli import main

sys.exit(main())
