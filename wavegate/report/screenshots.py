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
import threading
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import requests

from wavegate.evidence import graph_link
from wavegate.prometheus import PrometheusClient
from wavegate.report.errors import ArtifactUnavailable
from wavegate.settings import Window, redact_url

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WINDOW_SIZE = "1400,1000"
TIMEOUT = 90.0
MIN_PNG_BYTES = 20000  # a blank or error page is ~2-8 KB; the rendered targets and graph pages are 50 KB and more
MIN_TEXT_PNG_BYTES = 9000  # vmagent's /targets is plain text: a few lines per target, well above a blank page


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


def shoot(chromium: str, url: str, path: Path, *, budget_ms: int = 10000, min_bytes: int = MIN_PNG_BYTES) -> Path:
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
    if path.stat().st_size < min_bytes:
        path.unlink()
        raise ArtifactUnavailable("Chromium produced an (almost) empty page")
    return path


def graph_url(base: str, prefix: str, promql: str, window: Window) -> str:
    return graph_link(f"{base}{prefix}", promql, window.end, window.seconds)


class CredentialProxy:
    """A loopback HTTP server that forwards each GET to Prometheus with the environment's credentials (token,
    basic auth, headers, user:password or a query in the URL, a private CA), so that headless Chromium loads
    Prometheus' UI with no secret on its command line, in a URL on disk or in a file name. It lives only
    while the screenshots are taken, and answers only its own loopback address."""

    def __init__(self, client: PrometheusClient) -> None:
        self.client = client
        parts = urlsplit(client.settings.url)
        self._upstream = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._params = parse_qsl(parts.query, keep_blank_values=True)
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()  # one request at a time through the client's session

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> CredentialProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
                path, _, query = self.path.partition("?")
                params = [*proxy._params, *parse_qsl(query, keep_blank_values=True)]
                try:
                    with proxy._lock:
                        answer = proxy.client.session.get(proxy._upstream + path, params=params,
                                                          allow_redirects=False, timeout=proxy.client.settings.timeout,
                                                          verify=proxy.client.verify)
                except requests.RequestException as exc:
                    self.send_error(502, f"Prometheus did not answer: {type(exc).__name__}")
                    return
                self.send_response(answer.status_code)
                for header in ("Content-Type", "Cache-Control"):
                    if header in answer.headers:
                        self.send_header(header, answer.headers[header])
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's signature
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="wavegate-credential-proxy", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def take_screenshots(client: PrometheusClient, window: Window, queries: list[tuple[str, str]],
                     folder: Path) -> dict[str, Path | str]:
    """The targets page and one query page per (name, promql): a PNG path, or the reason there is none.
    Chromium reaches Prometheus through a CredentialProxy, whatever credentials it needs."""
    names = ["prometheus_targets", *(f"query_{name}" for name, _ in queries)]
    chromium = find_chromium()
    if chromium is None:
        reason = ("Chromium is not installed (run scripts/build_report, which installs Debian's `chromium` when it "
                  "can, or `apt-get install chromium`; or set WAVEGATE_CHROMIUM to a Chrome binary)")
        return dict.fromkeys(names, reason)
    folder.mkdir(parents=True, exist_ok=True)
    if client.settings.backend == "victoriametrics":
        return _victoria_screenshots(chromium, client, window, queries, folder)
    out: dict[str, Path | str] = {}
    with CredentialProxy(client) as proxy:
        base = proxy.url
        try:
            prefix = _ui_prefix(base, requests.Session(), client.settings.timeout)
        except ArtifactUnavailable as exc:
            return dict.fromkeys(names, str(exc).replace(base, client.display_url))
        pages = [("prometheus_targets", f"{base}{prefix}/targets")]
        pages += [(f"query_{name}", graph_url(base, prefix, promql, window)) for name, promql in queries]
        for name, url in pages:
            try:
                out[name] = shoot(chromium, url, folder / f"{name}.png")
            except (ArtifactUnavailable, OSError) as exc:
                out[name] = str(exc)
    return out


def vmui_url(base: str, promql: str, window: Window) -> str:
    """vmui's graph of `promql` over the window (its URL parameters, the counterpart of Prometheus' /graph)."""
    end = window.end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    params = {"g0.expr": promql, "g0.range_input": f"{max(round(window.seconds), 1)}s", "g0.end_input": end,
              "g0.relative_time": "none", "g0.tab": "0"}
    return f"{base}/vmui/#/?{urlencode(params, quote_via=quote)}"


def _victoria_screenshots(chromium: str, client: PrometheusClient, window: Window, queries: list[tuple[str, str]],
                          folder: Path) -> dict[str, Path | str]:
    """Behind VictoriaMetrics the scraper is vmagent: its /targets page (at prometheus.targets_url) stands for
    Prometheus' targets page, and vmui's graphs for Prometheus' query pages when VictoriaMetrics serves vmui
    (Debian's package is built without it: then each query page says so)."""
    out: dict[str, Path | str] = {}
    targets = client.settings.targets_url or client.base
    try:
        # Shot directly: the query API's credentials are not sent to another host.
        out["prometheus_targets"] = shoot(chromium, f"{targets}/targets", folder / "prometheus_targets.png",
                                          min_bytes=MIN_TEXT_PNG_BYTES)
    except (ArtifactUnavailable, OSError) as exc:
        out["prometheus_targets"] = f"vmagent's targets page at {redact_url(targets)}/targets: {exc}"
    with CredentialProxy(client) as proxy:
        try:
            page = requests.get(f"{proxy.url}/vmui/", timeout=client.settings.timeout)
            served = page.status_code == 200 and "<html" in page.text[:2000].lower()
        except requests.RequestException:
            served = False
        for name, promql in queries:
            if not served:
                out[f"query_{name}"] = (f"VictoriaMetrics at {client.display_url} serves no vmui at /vmui/ (Debian's "
                                        "package is built without its web UI), so there is no query page to shoot; "
                                        "the report's graphs show the same queries")
                continue
            try:
                out[f"query_{name}"] = shoot(chromium, vmui_url(proxy.url, promql, window),
                                             folder / f"query_{name}.png")
            except (ArtifactUnavailable, OSError) as exc:
                out[f"query_{name}"] = str(exc)
    return out
