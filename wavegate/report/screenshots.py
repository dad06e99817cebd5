"""Screenshots of the running Prometheus (targets page, query pages) with headless Chromium.

Chromium is optional: when it is missing, or a page cannot be shot, the reason is returned instead of a file,
so the report says why and leaves the checklist item unticked. Nothing is ever faked.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import requests

from wavegate.report.errors import ArtifactUnavailable
from wavegate.settings import PrometheusSettings, Window, format_duration, redact_url

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WINDOW_SIZE = "1400,1000"
TIMEOUT = 90.0
MIN_PNG_BYTES = 20000  # a blank or error page is ~2-8 KB; the rendered targets and graph pages are 50 KB and more


def find_chromium() -> str | None:
    """$WAVEGATE_CHROMIUM, else the first Chromium/Chrome on PATH."""
    explicit = os.environ.get("WAVEGATE_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _ui_prefix(base: str, session: requests.Session, timeout: float) -> str:
    """'' for the React UI, '/classic' where only the classic UI is built in (Debian's package)."""
    for prefix in ("", "/classic"):
        try:
            response = session.get(f"{base}{prefix}/targets", timeout=timeout)
        except requests.RequestException as exc:
            raise ArtifactUnavailable(f"Prometheus at {redact_url(base)} did not answer its web UI ({exc})") from None
        if response.status_code == 200 and "<html" in response.text[:2000].lower():
            return prefix
    raise ArtifactUnavailable(f"Prometheus at {redact_url(base)} serves no web UI at /targets or /classic/targets")


def shoot(chromium: str, url: str, path: Path, *, budget_ms: int = 10000) -> Path:
    """Render `url` headless into `path`; ArtifactUnavailable with Chromium's last words when it fails."""
    profile = Path(tempfile.mkdtemp(prefix="wavegate-chromium-"))
    argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={WINDOW_SIZE}",
            f"--virtual-time-budget={budget_ms}", f"--screenshot={path}", url]
    # A session of its own: on a timeout the whole Chromium process tree is killed, not only the launcher.
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True, env={**os.environ, "TZ": "UTC"})
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise ArtifactUnavailable(f"Chromium did not finish the screenshot within {TIMEOUT:.0f} s") from None
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if process.returncode != 0 or not path.is_file():
        tail = output.decode(errors="replace").strip().splitlines()[-3:]
        raise ArtifactUnavailable(f"Chromium exited {process.returncode} without a screenshot: {' | '.join(tail)}")
    if path.stat().st_size < MIN_PNG_BYTES:
        path.unlink()
        raise ArtifactUnavailable("Chromium produced an (almost) empty page")
    return path


def graph_url(base: str, prefix: str, promql: str, window: Window) -> str:
    end = window.end.strftime("%Y-%m-%d %H:%M:%S")
    params = {"g0.expr": promql, "g0.tab": "0", "g0.stacked": "0", "g0.range_input": format_duration(window.seconds),
              "g0.end_input": end, "g0.moment_input": end}
    return f"{base}{prefix}/graph?{urlencode(params)}"


def take_screenshots(settings: PrometheusSettings, window: Window, queries: list[tuple[str, str]],
                     folder: Path) -> dict[str, Path | str]:
    """The targets page and one query page per (name, promql): a PNG path, or the reason there is none."""
    names = ["prometheus_targets", *(f"query_{name}" for name, _ in queries)]
    parts = urlsplit(settings.url)
    if settings.bearer_token_env or settings.basic_auth or settings.headers or parts.username or parts.password \
            or parts.query:
        reason = ("Prometheus needs credentials or headers (prometheus.bearer_token_env / basic_auth / headers, or "
                  "user:password / a query in prometheus.url), which headless Chromium would need on its command "
                  "line, where every process can read them; not passed, to keep them secret")
        return dict.fromkeys(names, reason)
    chromium = find_chromium()
    if chromium is None:
        reason = ("Chromium is not installed (run scripts/build_report, which installs Debian's `chromium` when it "
                  "can, or `apt-get install chromium`; or set WAVEGATE_CHROMIUM to a Chrome binary)")
        return dict.fromkeys(names, reason)
    base = settings.url.rstrip("/")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with requests.Session() as session:
            session.verify = str(settings.ca_file) if settings.ca_file else True
            prefix = _ui_prefix(base, session, settings.timeout)
    except ArtifactUnavailable as exc:
        return dict.fromkeys(names, str(exc))
    out: dict[str, Path | str] = {}
    pages = [("prometheus_targets", f"{base}{prefix}/targets")]
    pages += [(f"query_{name}", graph_url(base, prefix, promql, window)) for name, promql in queries]
    for name, url in pages:
        try:
            out[name] = shoot(chromium, url, folder / f"{name}.png")
        except (ArtifactUnavailable, OSError) as exc:
            out[name] = str(exc)
    return out
