"""Where the report's files go under the output root (the spec's file naming convention)."""

from __future__ import annotations

import os
from pathlib import PurePosixPath

DOCS = PurePosixPath("docs/archive/dev")
REPORT = DOCS / "CP2_WAVE1_DEPLOYMENT_REPORT.md"
APPENDIX_A = DOCS / "CP2_WAVE1_DEPLOYMENT_REPORT_APPENDIX_A_METRICS.md"
APPENDIX_B = DOCS / "CP2_WAVE1_DEPLOYMENT_REPORT_APPENDIX_B_LOGS.md"
APPENDIX_C = DOCS / "CP2_WAVE1_DEPLOYMENT_REPORT_APPENDIX_C_SCREENSHOTS.md"
GATE_HTML = DOCS / "CP2_WAVE1_DEPLOYMENT_REPORT_VALIDATION_GATE.html"
ALLURE_HTML = DOCS / "CP2_WAVE1_DEPLOYMENT_REPORT_VALIDATION_ALLURE.html"
PRODUCT_SUMMARY = DOCS / "CP2_WAVE1_PRODUCT_SUMMARY.md"
# The whole report (main document and appendices, images inlined) as one HTML page for reviewers.
REPORT_HTML = DOCS / "CP2_WAVE1_DEPLOYMENT_REPORT.html"

ARTIFACTS = PurePosixPath("reports/cp2-wave1-deployment")
METRICS = ARTIFACTS / "metrics"
GRAPHS = ARTIFACTS / "graphs"
SCREENSHOTS = ARTIFACTS / "screenshots"
LOGS = ARTIFACTS / "logs"
# The staged rollout's records as this report read them (rollout.json, each stage's gate results, the rollback
# evidence): a copy, since scripts/rollout clears its own folder when it runs again. Only with a rollout.
ROLLOUT = ARTIFACTS / "rollout-evidence"
# Folders the report owns outright: replaced as a whole, so no file of an earlier report survives in them.
OWNED_DIRS = (METRICS, GRAPHS, SCREENSHOTS, ROLLOUT)
# Owned folders a report without their input leaves out (an earlier report's copy is still removed).
ON_DEMAND_DIRS = (ROLLOUT,)
# Shared with the scripts (run_cp1_profile.sh, validate_metrics.sh write here): only the report's files change.
SHARED_DIRS = (LOGS,)
DOCUMENTS = (APPENDIX_A, APPENDIX_B, APPENDIX_C, GATE_HTML, ALLURE_HTML, REPORT_HTML)
LOG_NAMES = ("run_cp1_profile", "validate_metrics")


def link(target: PurePosixPath, source: PurePosixPath = REPORT) -> str:
    """A relative link from the Markdown file `source` to `target` (both relative to the output root)."""
    return PurePosixPath(os.path.relpath(str(target), str(source.parent))).as_posix()
