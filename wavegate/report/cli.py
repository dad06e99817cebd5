"""Command line of scripts/build_report: options, progress on stderr, the report's path and status on stdout."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from wavegate.report.build import build_report
from wavegate.report.bundle import install_allure
from wavegate.report.errors import (
    EXIT_BAD_INPUT,
    EXIT_PROMETHEUS_UNREACHABLE,
    EXIT_TOOL_MISSING,
    EXIT_WRITTEN,
    ArtifactUnavailable,
    ReportError,
)
from wavegate.report.inputs import DEFAULT_RESULTS
from wavegate.report.model import ReportOptions
from wavegate.report.rollout import DEFAULT_ROLLOUT

EPILOG = f"""exit codes:
  {EXIT_WRITTEN}  the report was written (its status — SUCCESSFUL, PARTIAL, INCONCLUSIVE or FAILED — is printed)
  {EXIT_BAD_INPUT}  an input is missing or invalid (gate-results.json, the environment file, rollout.json, an option)
  {EXIT_PROMETHEUS_UNREACHABLE}  Prometheus is unreachable or rejected the report's queries
  {EXIT_TOOL_MISSING}  matplotlib is not installed
On any non-zero exit nothing is written: an earlier report, if any, stays as it was.
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scripts/build_report",
        description="Build the CP2 Wave 1 deployment report (docs/archive/dev/CP2_WAVE1_DEPLOYMENT_REPORT.md, its "
                    "appendices and reports/cp2-wave1-deployment/{metrics,graphs,screenshots,logs}) from the gate's "
                    "gate-results.json and Prometheus.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", type=Path, metavar="PATH",
                   help=f"The gate's results (default: OUTPUT_ROOT/{DEFAULT_RESULTS}).")
    env = p.add_mutually_exclusive_group()
    env.add_argument("--env", metavar="NAME", help="Environment environments/NAME.yaml (where Prometheus is).")
    env.add_argument("--env-file", type=Path, metavar="PATH",
                     help="Environment file to read Prometheus from (default: the one the gate recorded).")
    p.add_argument("--output-root", type=Path, default=Path("."), metavar="DIR",
                   help="Where docs/ and reports/ are written (default: the current directory).")
    p.add_argument("--skip-screenshots", action="store_true",
                   help="Do not take Prometheus screenshots (the report then says they were skipped).")
    p.add_argument("--no-install", action="store_true",
                   help="Offline: scripts/build_report installs nothing (Chromium, Allure 3); a tool that is "
                        "missing leaves its artifact out, and the report says so.")
    p.add_argument("--install-tools", action="store_true",
                   help="Install Allure 3 with npm into the cache (the install step scripts/build_report runs), "
                        "then exit.")
    p.add_argument("--run-cp1-profile-log", type=Path, metavar="PATH",
                   help="run_cp1_profile.sh's log (default: OUTPUT_ROOT/reports/cp2-wave1-deployment/logs/).")
    p.add_argument("--validate-metrics-log", type=Path, metavar="PATH",
                   help="validate_metrics.sh's log (default: OUTPUT_ROOT/reports/cp2-wave1-deployment/logs/).")
    p.add_argument("--rollout", type=Path, metavar="PATH",
                   help="The staged rollout's record, rollout.json from scripts/rollout, for the report's Rollout "
                        f"section (default: OUTPUT_ROOT/{DEFAULT_ROLLOUT} when it exists; without one the section "
                        "says that no staged rollout was recorded).")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.install_tools:
        try:
            print(f"Allure 3: {install_allure(lambda step: print(f'build_report: {step}', file=sys.stderr))}")
        except ArtifactUnavailable as exc:
            print(f"build_report: error: {exc}", file=sys.stderr)
            return EXIT_TOOL_MISSING
        return EXIT_WRITTEN
    logs = {name: path for name, path in (("run_cp1_profile", args.run_cp1_profile_log),
                                          ("validate_metrics", args.validate_metrics_log)) if path}
    started = time.monotonic()

    def progress(step: str) -> None:
        print(f"build_report: [{time.monotonic() - started:5.1f} s] {step}", file=sys.stderr, flush=True)

    options = ReportOptions(output_root=args.output_root, results=args.results, env_name=args.env,
                            env_file=args.env_file, screenshots=not args.skip_screenshots,
                            install_tools=not args.no_install, logs=logs, rollout=args.rollout, progress=progress)
    try:
        outcome = build_report(options)
    except ReportError as exc:
        print(f"build_report: error: {exc}", file=sys.stderr)
        return exc.exit_code
    for name, reason in sorted(outcome.missing.items()):
        print(f"build_report: not produced: {name}: {reason}", file=sys.stderr)
    print(f"report: {outcome.report}")
    print(f"single-file HTML: {outcome.report.with_suffix('.html')}")
    print(f"status: {outcome.status.value}")
    for reason in outcome.status.reasons:
        print(f"  - {reason}")
    return EXIT_WRITTEN
