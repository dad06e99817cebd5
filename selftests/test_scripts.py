"""The scripts' documented exit codes, on inputs that need no running stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness import REPO, closed_port, environment_document, write_environment


def run_script(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WAVEGATE_PYTHON": sys.executable}
    return subprocess.run([str(REPO / "scripts" / name), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_validate_metrics_exits_2_when_prometheus_and_the_endpoints_are_unreachable(tmp_path: Path) -> None:
    now = 1_795_000_000.0
    document = environment_document(
        f"http://127.0.0.1:{closed_port()}",
        {c: f"http://127.0.0.1:{closed_port()}/metrics" for c in ("router", "gateway", "worker")},
        {"baseline": (now - 7200, now - 3600), "candidate": (now - 3600, now)},
    )
    document["prometheus"]["retries"] = 0
    env_file = write_environment(tmp_path / "down.yaml", document)
    completed = run_script("validate_metrics.sh", f"--env-file={env_file}", cwd=tmp_path)
    assert completed.returncode == 2, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert "UNREACHABLE" in completed.stdout
    log = (REPO / "reports/cp2-wave1-deployment/logs/validate_metrics.log").read_text()
    assert log.rstrip().splitlines()[-1].startswith("validate_metrics: UNREACHABLE")


def test_validate_metrics_exits_2_naming_the_problem_when_the_configuration_is_unusable(tmp_path: Path) -> None:
    env_file = tmp_path / "broken.yaml"
    env_file.write_text("prometheus: {url: nowhere}\n")
    completed = run_script("validate_metrics.sh", f"--env-file={env_file}", cwd=tmp_path)
    assert completed.returncode == 2
    assert "prometheus.url" in completed.stdout + completed.stderr
