"""Marker secrets in every place a secret can live — the bearer token, the basic-auth password, user:password
and query tokens in the component URLs, a token in a scrape URL on Prometheus' side (shown in its target
errors), and debug logs of every request — and no output of the gate, and no process argument while it
runs, may contain one.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import (
    FaultProxy,
    PrometheusServer,
    closed_port,
    environment_document,
    gate_argv,
    wait_until,
    write_environment,
)
from worlds import LiveWorld

TOKEN = "canary-token-6Hq2Zx"
PASSWORD = "canary-password-9Ty1Lp"
URL_PASSWORD = "canary-urlpass-3Kd8Vm"
URL_TOKEN = "canary-urltoken-5Rw4Nb"
SCRAPE_TOKEN = "canary-scrapetoken-7Mz2Qc"
CANARIES = (TOKEN, PASSWORD, URL_PASSWORD, URL_TOKEN, SCRAPE_TOKEN)


@pytest.fixture(scope="module")
def leaky_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """A Prometheus whose worker job scrapes a dead target with ?token=SCRAPE_TOKEN (it shows in scrapeUrl and
    lastError of /api/v1/targets)."""
    dead = f"127.0.0.1:{closed_port()}"
    with PrometheusServer({"worker": [dead]}, scrape_interval="1s", workdir=tmp_path_factory.mktemp("leaky"),
                          job_options={"worker": {"params": {"token": [SCRAPE_TOKEN]}}}) as server:
        wait_until(lambda: any(t.get("lastError") for t in server.targets()), "the dead target to be scraped")
        yield server


@pytest.mark.parametrize("auth", ["bearer", "basic"])
def test_no_output_and_no_process_argument_contains_a_secret(
        healthy_world: LiveWorld, leaky_prometheus: PrometheusServer, tmp_path: Path, auth: str) -> None:
    required = ({"Authorization": f"Bearer {TOKEN}"} if auth == "bearer" else
                {"Authorization": "Basic " + base64.b64encode(f"gate:{PASSWORD}".encode()).decode()})
    urls = dict(healthy_world.metrics_urls)
    urls["worker"] = urls["worker"].replace("http://", f"http://gate:{URL_PASSWORD}@") + f"?token={URL_TOKEN}"
    with FaultProxy(leaky_prometheus.url, require_headers=required) as proxy:
        document = environment_document(proxy.url, urls, healthy_world.world.windows)
        if auth == "bearer":
            document["prometheus"]["bearer_token_env"] = "WG_CANARY_TOKEN"
        else:
            document["prometheus"]["basic_auth"] = {"username": "gate", "password_env": "WG_CANARY_PASSWORD"}
        env = write_environment(tmp_path / "env.yaml", document)
        outdir = tmp_path / "out"
        environ = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
        environ.update({"WG_CANARY_TOKEN": TOKEN, "WG_CANARY_PASSWORD": PASSWORD})
        terminal = tmp_path / "terminal.txt"  # a file, not a pipe: debug output would fill a pipe and block
        with terminal.open("w", encoding="utf-8") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "pytest", f"--basetemp={tmp_path / 'basetemp'}", "--log-level=DEBUG",
                 *gate_argv(env_file=env, outdir=outdir)],
                cwd=tmp_path, env=environ, stdout=sink, stderr=subprocess.STDOUT, text=True)
            arguments = []
            deadline = time.monotonic() + 180
            while process.poll() is None and time.monotonic() < deadline:
                arguments += _command_lines(process.pid)
                time.sleep(0.2)
            process.wait(timeout=60)
        output = terminal.read_text(encoding="utf-8", errors="replace")
    assert process.returncode in (1, 6), output[-3000:]  # the dead target and the empty Prometheus fail the gate
    assert len(proxy.seen) > 5  # the gate really talked to Prometheus through the authenticated front
    written = {path: path.read_text(encoding="utf-8", errors="replace")
               for path in outdir.rglob("*") if path.is_file()}
    assert {"gate-results.json", "gate.html", "junit.xml"} <= {p.name for p in written}
    assert any(p.parent.name == "allure-results" for p in written)
    assert "urllib3" in written[outdir / "gate.html"] or "DEBUG" in written[outdir / "gate.html"]
    assert "canary-scrapetoken" not in output, "Prometheus' scrape URL leaked into the terminal"
    for canary in CANARIES:
        leaks = [str(p.relative_to(outdir)) for p, text in written.items() if canary in text]
        assert not leaks, f"{canary} found in {leaks}"
        assert canary not in output, f"{canary} found in the terminal output"
        assert not any(canary in line for line in arguments), f"{canary} found in a process argument"


def _command_lines(pid: int) -> list[str]:
    """The command lines of `pid` and its children (from /proc)."""
    lines, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            lines.append(Path(f"/proc/{current}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return lines
