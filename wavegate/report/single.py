"""The whole report as one self-contained HTML file for reviewers: the main report and its appendices A, B
and C in one page, every image inlined, links between the documents turned into links within the page. It
opens offline; links to the CSVs, logs and bundled gate reports stay relative, beside it."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path, PurePosixPath

from wavegate.report import layout
from wavegate.report.errors import ReportToolMissing

# The documents in page order, with the id of each one's section.
_PARTS = ((layout.REPORT, "report"), (layout.APPENDIX_A, "appendix-a"), (layout.APPENDIX_B, "appendix-b"),
          (layout.APPENDIX_C, "appendix-c"))
_STATUS_COLOURS = {"SUCCESSFUL": "#1a7f37", "PARTIAL": "#9a6700", "FAILED": "#cf222e", "INCONCLUSIVE": "#8250df"}
_HREF = re.compile(r'(href|src)="([^"#?]*)(#[^"]*)?"')
_ANCHOR = re.compile(r'<a id="([^"]+)"></a>')

_STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1100px;
       padding: 0 24px 48px; color: #1f2328; }
.status { position: sticky; top: 0; padding: 12px 20px; color: #fff; font-size: 22px; font-weight: 700;
          border-radius: 0 0 8px 8px; z-index: 1; }
.status small { font-size: 14px; font-weight: 400; display: block; }
nav { margin: 16px 0; } nav a { margin-right: 16px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; display: block; overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; vertical-align: top; text-align: left; }
th { background: #f6f8fa; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; font-size: 12px; }
code { font-size: 12px; }
img { max-width: 100%; border: 1px solid #d0d7de; }
section { border-top: 3px solid #d0d7de; margin-top: 32px; }
"""

# Counts the images that decoded, so a headless browser can tell a rendered page from a broken one.
_SCRIPT = """window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  document.body.setAttribute("data-images", String(images.length));
  document.body.setAttribute("data-images-rendered",
                             String(images.filter(function (i) { return i.naturalWidth > 0; }).length));
});"""


def single_file_html(staging: Path, status: str, reasons: tuple[str, ...], title: str) -> str:
    """Render the staged Markdown documents under `staging` into one HTML page."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        raise ReportToolMissing("markdown-it-py is not installed (the single-file HTML needs it): "
                                "pip install 'wavegate[report]'") from None
    renderer = MarkdownIt("commonmark", {"html": True}).enable("table")
    sections = []
    for document, section_id in _PARTS:
        path = staging / document
        if not path.is_file():
            continue
        body = renderer.render(path.read_text(encoding="utf-8"))
        sections.append(f'<section id="{section_id}">{_rewrite(body, document, section_id, staging)}</section>')
    colour = _STATUS_COLOURS.get(status, "#57606a")
    why = "".join(f"<small>{html.escape(reason)}</small>" for reason in reasons[:6])
    nav = " ".join(f'<a href="#{sid}">{name}</a>' for name, sid in (
        ("Report", "report"), ("Appendix A: metrics", "appendix-a"), ("Appendix B: logs", "appendix-b"),
        ("Appendix C: screenshots", "appendix-c")))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style><script>{_SCRIPT}</script></head><body>"
            f'<div class="status" id="status" style="background:{colour}">Status: {html.escape(status)}{why}</div>'
            f"<nav>{nav}</nav>{''.join(sections)}</body></html>\n")


def _rewrite(body: str, document: PurePosixPath, section_id: str, staging: Path) -> str:
    def anchored(match: re.Match[str]) -> str:
        return f'<a id="{_anchor(section_id, match.group(1))}"></a>'

    def relinked(match: re.Match[str]) -> str:
        return _relink(match, document, staging)

    return _HREF.sub(relinked, _ANCHOR.sub(anchored, body))


def _anchor(section_id: str, name: str) -> str:
    """Anchors keep their names in the main report; an appendix's are prefixed, so ids stay unique."""
    return name if section_id == "report" else f"{section_id}-{name}"


def _relink(match: re.Match[str], document: PurePosixPath, staging: Path) -> str:
    attribute, target, fragment = match.group(1), match.group(2), match.group(3) or ""
    if not target or "://" in target or target.startswith(("mailto:", "data:")):
        return match.group(0)
    resolved = PurePosixPath(_normal(document.parent / target))
    for part, section_id in _PARTS:
        if resolved == part:  # a link to another document of the report: a link within the page
            return f'{attribute}="#{_anchor(section_id, fragment[1:]) if fragment else section_id}"'
    if attribute == "src" and resolved.suffix.lower() in (".png", ".jpg", ".jpeg", ".svg"):
        image = staging / resolved
        if image.is_file():
            kind = "svg+xml" if resolved.suffix.lower() == ".svg" else resolved.suffix.lower().lstrip(".")
            data = base64.b64encode(image.read_bytes()).decode("ascii")
            return f'src="data:image/{kind.replace("jpg", "jpeg")};base64,{data}"'
    # Any other file (a CSV, a log, a bundled gate report) stays a relative link from the page's folder.
    return f'{attribute}="{layout.link(resolved, layout.REPORT_HTML)}{fragment}"'


def _normal(path: PurePosixPath) -> str:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)
