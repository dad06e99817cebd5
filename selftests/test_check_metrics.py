"""`python -m wavegate check-metrics`: one problem per line with its line number, metric and rule; exit 0
clean, 3 lint findings only, 1 parse problem, 2 unreadable input — as promtool check metrics does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from harness import MetricsEndpoint

CLEAN = "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total 3\n"
LINT = "# HELP jobs Jobs done.\n# TYPE jobs counter\njobs 3\n"
BROKEN = "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total{a=1} 3\n"
SPLIT = "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n# HELP b B.\n# TYPE b gauge\nb 1\na_total{x=\"1\"} 2\n"


def _check(*args: str, stdin: str | bytes = b"") -> subprocess.CompletedProcess[str]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    completed = subprocess.run([sys.executable, "-m", "wavegate", "check-metrics", *args], input=data,
                               capture_output=True, timeout=60, check=False)
    return subprocess.CompletedProcess(completed.args, completed.returncode, completed.stdout.decode(),
                                       completed.stderr.decode())


@pytest.mark.parametrize(
    ("body", "exit_code"),
    [pytest.param(CLEAN, 0, id="clean"), pytest.param(LINT, 3, id="lint"), pytest.param(BROKEN, 1, id="parse"),
     pytest.param(SPLIT, 1, id="deviation-is-a-parse-problem")],
)
def test_the_exit_code_says_clean_lint_or_parse_problem_like_promtool(body: str, exit_code: int) -> None:
    assert _check(stdin=body).returncode == exit_code


def test_each_problem_is_one_line_with_its_line_number_metric_and_rule() -> None:
    result = _check(stdin=LINT)

    assert result.stdout.splitlines() == [
        'line 2: jobs: counter-suffix (lint): counter metrics should have "_total" suffix']


def test_a_documented_deviation_from_promtool_is_marked_on_its_line() -> None:
    result = _check(stdin=SPLIT)

    [line] = result.stdout.splitlines()
    assert line.startswith("line 7: a_total: family-split (parse): ")
    assert "[deviation from promtool: " in line


def test_advice_is_printed_only_when_asked_and_never_changes_the_exit_code() -> None:
    name = "node_memory_Active_bytes"
    body = f"# HELP {name} Active.\n# TYPE {name} gauge\n{name} 1\n"

    assert (_check(stdin=body).returncode, _check(stdin=body).stdout) == (0, "")
    advised = _check("--advice", stdin=body)
    assert advised.returncode == 0
    assert advised.stdout.startswith("line 2: node_memory_Active_bytes: upper-case-name (advice): ")


def test_a_file_ending_in_eof_is_read_as_openmetrics(tmp_path: Path) -> None:
    path = tmp_path / "om.txt"
    path.write_text("# HELP jobs Jobs.\n# TYPE jobs counter\njobs_total 3\n# EOF\n")

    result = _check("-v", str(path))

    assert result.returncode == 0, result.stdout
    assert "openmetrics format" in result.stderr


def test_a_url_is_read_in_the_format_its_content_type_names() -> None:
    body = "# HELP jobs Jobs.\n# TYPE jobs counter\njobs 3\n# EOF\n"
    with MetricsEndpoint(body, content_type="application/openmetrics-text; version=1.0.0") as endpoint:
        result = _check(endpoint.url)

    # In OpenMetrics a counter's samples end in _total: "jobs 3" is a parse problem there.
    assert result.returncode == 1
    assert "line 3: jobs: unexpected-sample (parse)" in result.stdout


@pytest.mark.parametrize("source", ["no-such-file.txt", "http://127.0.0.1:9/metrics"])
def test_an_input_that_cannot_be_read_exits_2_naming_it(source: str) -> None:
    result = _check(source)

    assert result.returncode == 2
    assert source.split("/")[0] in result.stderr


def test_bytes_that_are_not_utf8_are_a_parse_problem_on_their_line() -> None:
    result = _check(stdin=CLEAN.encode() + b'jobs_total{who="Bj\xf6rn"} 1\n')

    assert result.returncode == 1
    assert result.stdout.startswith("line 4: -: invalid-utf8 (parse): ")


def test_python_m_wavegate_without_a_command_prints_its_usage_and_exits_2() -> None:
    result = subprocess.run([sys.executable, "-m", "wavegate"], capture_output=True, text=True, timeout=60,
                            check=False)

    assert result.returncode == 2
    assert "check-metrics" in result.stderr
