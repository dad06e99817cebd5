"""The output folder describes exactly one run: a configuration error, SIGINT, SIGTERM or SIGKILL never leave
the previous run's PASS behind, two runs never mix in one folder, and the report builder refuses results
that do not come from a finished run. Runs are real gate processes against the healthy world's Prometheus,
slowed down by a loopback proxy so that a signal lands in the middle of judging.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import FaultProxy, environment_document, gate_argv, run_gate, write_environment
from worlds import LiveWorld

from wavegate.report import ReportOptions, build_report
from wavegate.report.errors import ReportInputError


@pytest.fixture(scope="module")
def slow(healthy_world: LiveWorld) -> Iterator[FaultProxy]:
    """The healthy world's Prometheus, each answer held back 0.4 s: a whole gate run takes over a minute."""
    with FaultProxy(healthy_world.prometheus.url, delay=0.4) as proxy:
        yield proxy


def env_file(live: LiveWorld, folder: Path, url: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_environment(folder / "env.yaml", environment_document(url, live.metrics_urls, live.world.windows))


def results(outdir: Path) -> dict[str, Any]:
    return json.loads((outdir / "gate-results.json").read_text(encoding="utf-8"))


def start_gate(workdir: Path, env: Path, outdir: Path) -> subprocess.Popen[str]:
    """A gate process in the background (SIGINT at its default, as in a terminal)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", f"--basetemp={workdir / 'basetemp'}",
         *gate_argv(env_file=env, outdir=outdir)],
        cwd=workdir, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_until_judging(process: subprocess.Popen[str], outdir: Path, seconds: float = 3.0) -> None:
    """Until the run's own `incomplete` record is there, then `seconds` more (inside the checks)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        path = outdir / "gate-results.json"
        if path.is_file() and results(outdir).get("pid") == process.pid:
            time.sleep(seconds)
            return
        assert process.poll() is None, process.communicate()[0][-3000:]
        time.sleep(0.1)
    raise AssertionError("the gate run never wrote its start record")


def passed_before(healthy_world: LiveWorld, workdir: Path, outdir: Path) -> None:
    """A previous, passing run in `outdir`."""
    run = run_gate(workdir / "first", env_file=env_file(healthy_world, workdir / "first-env",
                                                        healthy_world.prometheus.url),
                   outdir=outdir, areas=("integration",))
    assert run.ret == 0, run.tail()
    assert results(outdir)["status"] == "passed"
    assert (outdir / "gate.html").is_file()


def test_a_configuration_error_replaces_the_previous_pass(healthy_world: LiveWorld, tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    passed_before(healthy_world, tmp_path, outdir)
    broken = tmp_path / "broken.yaml"
    broken.write_text("prometheus: {url: http://127.0.0.1:1}\ncomponents: {}\n", encoding="utf-8")
    run = run_gate(tmp_path / "second", env_file=broken, outdir=outdir)
    assert run.ret == 4, run.tail()
    record = results(outdir)
    assert (record["status"], record["exit_code"], record["finished"]) == ("error", 4, True)
    assert str(broken) in record["cause"]
    assert not (outdir / "gate.html").exists()  # the previous run's files are gone
    assert not (outdir / "junit.xml").exists()
    with pytest.raises(ReportInputError, match="configuration error"):
        build_report(ReportOptions(output_root=tmp_path, results=outdir / "gate-results.json",
                                   screenshots=False, install_tools=False))


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_run_leaves_an_incomplete_record_that_the_report_refuses(
        healthy_world: LiveWorld, slow: FaultProxy, tmp_path: Path, stop: signal.Signals) -> None:
    outdir = tmp_path / "out"
    passed_before(healthy_world, tmp_path, outdir)
    process = start_gate(tmp_path, env_file(healthy_world, tmp_path / "slow-env", slow.url), outdir)
    try:
        wait_until_judging(process, outdir)
        process.send_signal(stop)
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 2, output[-3000:]  # pytest's "interrupted"
    record = results(outdir)
    assert (record["status"], record["finished"]) == ("incomplete", False)
    assert f"stopped by {stop.name}" in record["cause"]
    assert "gate: INCOMPLETE" in output
    assert record["not_judged"], record  # it stopped before the end
    with pytest.raises(ReportInputError, match="did not finish"):
        build_report(ReportOptions(output_root=tmp_path, results=outdir / "gate-results.json",
                                   screenshots=False, install_tools=False))


def test_sigkill_mid_run_leaves_no_stale_pass(healthy_world: LiveWorld, slow: FaultProxy, tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    passed_before(healthy_world, tmp_path, outdir)
    process = start_gate(tmp_path, env_file(healthy_world, tmp_path / "slow-env", slow.url), outdir)
    try:
        wait_until_judging(process, outdir, seconds=1.0)
        process.kill()
        process.communicate(timeout=30)
    finally:
        process.kill()
    record = results(outdir)
    assert (record["status"], record["finished"]) == ("incomplete", False)
    assert not (outdir / "gate.html").exists()


def test_a_second_run_in_the_same_folder_is_refused_and_the_first_finishes_alone(
        healthy_world: LiveWorld, slow: FaultProxy, tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    first = start_gate(tmp_path / "a", env_file(healthy_world, tmp_path / "a", slow.url), outdir)
    try:
        wait_until_judging(first, outdir, seconds=0.5)
        second = run_gate(tmp_path / "b", env_file=env_file(healthy_world, tmp_path / "b-env",
                                                             healthy_world.prometheus.url), outdir=outdir)
        assert second.ret == 4, second.tail()
        assert f"being written by another gate run (pid {first.pid}" in second.output
        assert results(outdir)["pid"] == first.pid  # the first run's record is untouched
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    finally:
        first.kill()
    record = results(outdir)
    assert record["status"] == "incomplete"
    assert "stopped by SIGTERM" in record["cause"]

