"""The CP2 Wave 1 deployment report: built from the gate's gate-results.json and Prometheus (scripts/build_report).

Library code only (no pytest). matplotlib, Chromium and Allure 3 (npm) are looked up when used, never at import.
"""

from __future__ import annotations

from wavegate.report.build import build_report
from wavegate.report.errors import (
    EXIT_BAD_INPUT,
    EXIT_PROMETHEUS_UNREACHABLE,
    EXIT_TOOL_MISSING,
    EXIT_WRITTEN,
    ReportError,
)
from wavegate.report.model import ReportOptions, ReportOutcome

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
