"""Writing the report's documents into the staging folder: the CSVs behind the tables and the appendices,
then the main report (once before the checklist is ticked from the files, once after), and the single-file
HTML. The build calls the two steps in order; nothing calls back."""

from __future__ import annotations

from pathlib import Path

from wavegate.report import layout
from wavegate.report.appendices import appendix_a, appendix_b, appendix_c
from wavegate.report.main_report import main_report
from wavegate.report.model import Built
from wavegate.report.single import single_file_html
from wavegate.report.values import write_derived_csvs


def write_supporting(built: Built, staging: Path) -> None:
    """The derived CSVs, the appendices and a first main report, so the checklist can be ticked from files."""
    write_derived_csvs(built, staging)
    (staging / layout.APPENDIX_A).write_text(appendix_a(built), encoding="utf-8")
    (staging / layout.APPENDIX_B).write_text(appendix_b(built, staging), encoding="utf-8")
    (staging / layout.APPENDIX_C).write_text(appendix_c(built), encoding="utf-8")
    (staging / layout.REPORT).write_text(main_report(built, staging, _product_summary(staging)), encoding="utf-8")


def write_main(built: Built, staging: Path) -> None:
    """The main report with the ticked checklist and the status, and the single-file HTML of everything."""
    (staging / layout.REPORT).write_text(main_report(built, staging, _product_summary(staging)), encoding="utf-8")
    (staging / layout.REPORT_HTML).write_text(
        single_file_html(staging, built.status.value, built.status.reasons, "CP2 Wave 1 Deployment Report"),
        encoding="utf-8")


def _product_summary(staging: Path) -> bool:
    return (Path(staging).parent / layout.PRODUCT_SUMMARY).is_file()
