"""Errors of the report builder and the exit codes scripts/build_report maps them to."""

from __future__ import annotations

from wavegate.errors import GateError

EXIT_WRITTEN = 0
"""The report was written (whatever its status: SUCCESSFUL, PARTIAL, INCONCLUSIVE or FAILED)."""
EXIT_BAD_INPUT = 2
"""An input is missing or invalid: gate-results.json, the environment file, rollout.json, a command-line option."""
EXIT_PROMETHEUS_UNREACHABLE = 3
"""Prometheus did not answer (or rejected the report's queries); nothing was written."""
EXIT_TOOL_MISSING = 5
"""A tool the report cannot do without is missing (matplotlib for the graphs); nothing was written."""


class ReportError(GateError):
    """The report could not be built; `exit_code` is what scripts/build_report exits with."""

    cause = "report"
    exit_code = EXIT_BAD_INPUT


class ReportInputError(ReportError):
    """gate-results.json, the environment file, rollout.json or an option is missing or invalid."""

    cause = "report_input"
    exit_code = EXIT_BAD_INPUT


class ReportPrometheusError(ReportError):
    """Prometheus was unreachable or rejected a query the report needs."""

    cause = "report_prometheus"
    exit_code = EXIT_PROMETHEUS_UNREACHABLE


class ReportToolMissing(ReportError):
    """A Python package or program the report needs is not installed."""

    cause = "report_tool_missing"
    exit_code = EXIT_TOOL_MISSING


class ArtifactUnavailable(Exception):
    """One optional artifact (a screenshot, the Allure HTML, a graph) could not be produced; the text says why.

    Not an error of the build: the report records the reason and leaves the checklist item unticked.
    """
