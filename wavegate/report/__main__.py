"""`python -m wavegate.report`: the same as scripts/build_report."""

from __future__ import annotations

import sys

from wavegate.report.cli import main

sys.exit(main())
