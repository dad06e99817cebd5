"""The CP2 Wave 1 deployment report: built from the gate's gate-results.json and Prometheus (scripts/build_report).

Library code only (no pytest). matplotlib, Chromium and Allure 3 (npm) are looked up when used, never at import.
"""

from __future__ import annotations

from wavegate.report.build import ReportOptions, ReportOutcome, build_report
from wavegate.report.errors import (
    EXIT_BAD_INPUT,
    EXIT_PROMETHEUS_UNREACHABLE,
    EXIT_TOOL_MISSING,
    EXIT_WRITTEN,
    ReportError,
)

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_PROMETHEUS_UNREACHABLE",
    "EXIT_TOOL_MISSING",
    "EXIT_WRITTEN",
    "ReportError",
    "ReportOptions",
    "ReportOutcome",
    "build_report",
]
