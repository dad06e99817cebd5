"""The wheel is self-contained: built from this repository and installed into a fresh virtualenv, it runs the
whole gate from an empty folder holding only an environment file (criteria and contract ship inside it), its
`reproduce:` line reproduces the run exactly, and an unrelated suite in the same virtualenv runs untouched."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from harness import REPO
from worlds import LiveWorld


def _run(argv: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "LANG": "C.UTF-8"})


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv with only the wheel built from this repository (and its declared dependencies)."""
    root = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root / "dist"), str(REPO)], root)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((root / "dist").glob("wavegate-*.whl"))
    base = getattr(sys, "_base_executable", sys.executable)
    made = _run([base, "-m", "venv", str(root / "venv")], root)
    assert made.returncode == 0, made.stderr[-3000:]
    installed = _run([str(root / "venv" / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                      str(wheel)], root)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return root / "venv"


def test_the_wheel_runs_the_whole_gate_from_an_empty_folder_and_its_reproduce_line_reproduces_it(
        fresh_venv: Path, healthy_world: LiveWorld, tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    env_file = healthy_world.env_file()
    (folder / "env.yaml").write_text(env_file.read_text(encoding="utf-8"), encoding="utf-8")

    run = _run([str(fresh_venv / "bin" / "pytest"), "--pyargs", "wavegate.gate", "--env-file=env.yaml"], folder)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "24 passed" in run.stdout
    criteria_line = next(line for line in run.stdout.splitlines() if line.startswith("criteria: "))
    assert str(fresh_venv) in criteria_line, criteria_line
    assert "bundled" in criteria_line, criteria_line
    results = folder / "reports" / "cp2-wave1-deployment" / "validation" / "gate-results.json"
    assert results.is_file()

    line = next(line for line in run.stdout.splitlines() if line.startswith("reproduce: "))
    argv = shlex.split(line.removeprefix("reproduce: "))
    assert argv[0] == "pytest", line
    assert argv[1:3] == ["--pyargs", "wavegate.gate"], line
    again = _run([str(fresh_venv / "bin" / "pytest"), *argv[1:]], folder)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-2000:]
    assert "24 passed" in again.stdout


def test_an_unrelated_suite_in_the_same_virtualenv_runs_untouched(fresh_venv: Path, tmp_path: Path) -> None:
    (tmp_path / "test_unrelated.py").write_text("def test_one():\n    assert 1 + 1 == 2\n", encoding="utf-8")

    run = _run([str(fresh_venv / "bin" / "pytest"), "-q"], tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "1 passed" in run.stdout
    assert not (tmp_path / "reports").exists()
