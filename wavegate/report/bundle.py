"""The validation section's HTML: the gate's pytest-html report and a single-file Allure 3 report.

Allure 3 is the npm package `allure`, pinned below. It is looked up as $WAVEGATE_ALLURE (a path to its CLI),
then in the cache ($WAVEGATE_CACHE, else $XDG_CACHE_HOME/wavegate, else ~/.cache/wavegate: allure3/), and
installed there with `npm install` when allowed. Rendering is offline; analytics are switched off
(ALLURE_NO_ANALYTICS) and the result is checked for external references before it is bundled.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from wavegate.report.errors import ArtifactUnavailable

ALLURE_PACKAGE = "allure@3.18.0"
RENDER_TIMEOUT = 300.0
INSTALL_TIMEOUT = 600.0
_ANCHOR = re.compile(r"""<a\b[^>]*\bhref\s*=\s*["']\s*(?:https?:)?//[^>]*>(.*?)</a>""", re.IGNORECASE | re.DOTALL)
_EXTERNAL = re.compile(r"""\b(?:src|href)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""", re.IGNORECASE)


def external_references(html: str) -> list[str]:
    """src/href values that would load something over the network (http://, https://, //host)."""
    return sorted(set(_EXTERNAL.findall(html)))


def unlink_external_anchors(html: str) -> str:
    """Plain text instead of hyperlinks to other sites (pytest-html's footer links to PyPI): a bundled report
    must make no network reference at all, not even one a reader could click by accident."""
    return _ANCHOR.sub(lambda match: match.group(1), html)


def cache_dir() -> Path:
    explicit = os.environ.get("WAVEGATE_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wavegate"


def _self_contained(path: Path, what: str) -> Path:
    found = external_references(path.read_text(encoding="utf-8", errors="replace"))
    if found:
        raise ArtifactUnavailable(f"{what} is not self-contained: it loads {', '.join(found[:3])}")
    return path


def bundle_gate_html(validation_dir: Path, name: str, destination: Path) -> Path:
    """Copy the gate's self-contained pytest-html report next to the Markdown."""
    source = validation_dir / name
    if not source.is_file():
        raise ArtifactUnavailable(f"the gate wrote no HTML report at {source} (is pytest-html installed?)")
    html = source.read_text(encoding="utf-8", errors="replace")
    destination.write_text(unlink_external_anchors(html), encoding="utf-8")
    return _self_contained(destination, f"the gate's HTML report {source}")


def find_allure() -> Path:
    """The Allure 3 CLI ($WAVEGATE_ALLURE, else the one the install step put into the cache). Never installs:
    a report build does not download anything on its own."""
    explicit = os.environ.get("WAVEGATE_ALLURE")
    if explicit:
        if not Path(explicit).is_file():
            raise ArtifactUnavailable(f"WAVEGATE_ALLURE={explicit} does not exist")
        return Path(explicit)
    cli = _allure_cli()
    if cli.is_file():
        return cli
    raise ArtifactUnavailable(f"Allure 3 is not installed in {cli.parents[2]}: scripts/build_report installs it "
                              "(unless --no-install), or run `python -m wavegate.report --install-tools`")


def _allure_cli() -> Path:
    return cache_dir() / "allure3" / "node_modules" / ".bin" / "allure"


def install_allure(say: Callable[[str], None]) -> Path:
    """Install the Allure 3 CLI into the cache with npm (the install step; about 53 MB), unless it is there."""
    cli = _allure_cli()
    prefix = cli.parents[2]
    if cli.is_file():
        return cli
    say(f"installing Allure 3 ({ALLURE_PACKAGE}, about 53 MB with its dependencies) into {prefix} with npm")
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise ArtifactUnavailable("Node.js and npm are not installed, so Allure 3 cannot be installed "
                                  "(apt-get install nodejs npm, then run scripts/build_report again)")
    prefix.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--silent",
                               ALLURE_PACKAGE], capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ArtifactUnavailable(f"`npm install {ALLURE_PACKAGE}` did not finish in {INSTALL_TIMEOUT:.0f} s") from None
    if done.returncode != 0 or not cli.is_file():
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise ArtifactUnavailable(f"`npm install {ALLURE_PACKAGE}` into {prefix} failed ({tail})")
    return cli


def render_allure(results_dir: Path, destination: Path, *, title: str) -> Path:
    """Render allure-results into one offline HTML file at `destination`."""
    results_dir = results_dir.resolve()  # allure runs in a temporary working directory
    if not results_dir.is_dir() or not any(results_dir.glob("*-result.json")):
        raise ArtifactUnavailable(f"the gate wrote no Allure results in {results_dir} (is allure-pytest installed?)")
    cli = find_allure()
    work = Path(tempfile.mkdtemp(prefix="wavegate-allure-"))
    try:
        output = work / "report"
        config = {
            "name": title,
            "output": str(output),
            # The allure2-style plugin honours ALLURE_NO_ANALYTICS; the default 'awesome' one always adds a
            # Google Tag Manager script, which would make the bundled report load from the network.
            "plugins": {"allure2": {"options": {"singleFile": True, "reportName": title, "reportLanguage": "en"}}},
        }
        (work / "allurerc.json").write_text(json.dumps(config), encoding="utf-8")
        try:
            done = subprocess.run([str(cli), "generate", "--config", str(work / "allurerc.json"), str(results_dir)],
                                  cwd=work, capture_output=True, text=True, timeout=RENDER_TIMEOUT, check=False,
                                  stdin=subprocess.DEVNULL, env={**os.environ, "ALLURE_NO_ANALYTICS": "true"})
        except subprocess.TimeoutExpired:
            raise ArtifactUnavailable(f"Allure did not render within {RENDER_TIMEOUT:.0f} s") from None
        index = output / "index.html"
        if done.returncode != 0 or not index.is_file():
            tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise ArtifactUnavailable(f"`allure generate` exited {done.returncode} without a report ({tail})")
        html = index.read_text(encoding="utf-8", errors="replace")
        destination.write_text(unlink_external_anchors(html), encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _self_contained(destination, "the rendered Allure report")
