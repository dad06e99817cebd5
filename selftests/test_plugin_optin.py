"""The plugin is opt-in: installed, it changes nothing for a suite that did not ask for the gate; an environment
named on the command line, in a WAVEGATE_* variable or in an ini key turns it on (in that precedence)."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import closed_port, environment_document, write_environment


def _environment(folder: Path, name: str) -> Path:
    """A well-formed environment file (nothing listens on its ports: enough to load and collect)."""
    now = 1_795_000_000.0
    document = environment_document(
        f"http://127.0.0.1:{closed_port()}",
        {c: f"http://127.0.0.1:{closed_port()}/metrics" for c in ("router", "gateway", "worker")},
        {"baseline": (now - 7200, now - 3600), "candidate": (now - 3600, now)},
    )
    return write_environment(folder / f"{name}.yaml", document)


def _output(result: pytest.RunResult) -> str:
    return result.stdout.str() + result.stderr.str()


def test_an_unrelated_suite_runs_untouched_with_wavegate_installed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_unrelated="def test_one():\n    assert 1 + 1 == 2\n")

    result = pytester.runpytest_subprocess()
    assert result.ret == 0, _output(result)
    result.assert_outcomes(passed=1)
    assert not [line for line in result.stdout.lines if line.startswith(("wavegate ", "gate: ", "reproduce: "))]
    assert "wavegate verdicts" not in result.stdout.str()
    assert not (pytester.path / "reports").exists()

    helped = pytester.runpytest_subprocess("--help")
    assert helped.ret == 0, _output(helped)
    assert "WAVEGATE_ENV_FILE" in helped.stdout.str()


def test_a_suite_with_its_own_gate_fixture_keeps_it(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("import pytest\n\n@pytest.fixture\ndef gate():\n    return 'theirs'\n")
    pytester.makepyfile(test_theirs="def test_gate(gate):\n    assert gate == 'theirs'\n")

    result = pytester.runpytest_subprocess()
    assert result.ret == 0, _output(result)


def test_gate_options_without_an_environment_are_refused_saying_how_to_turn_it_on(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_unrelated="def test_one():\n    pass\n")

    result = pytester.runpytest_subprocess("--area=quality")
    assert result.ret == 4, _output(result)
    for mention in ("--area", "--env=NAME", "WAVEGATE_ENV", "wavegate_env_file"):
        assert mention in _output(result)


def test_gate_tests_collected_while_the_gate_is_off_say_how_to_turn_it_on(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--pyargs", "wavegate.gate")

    assert result.ret == 4, _output(result)
    assert "the gate is off" in _output(result)
    assert "WAVEGATE_ENV_FILE" in _output(result)


def _collected_environment(result: pytest.RunResult) -> str:
    header = next((line for line in result.stdout.lines if line.startswith("wavegate ")), "")
    assert header, _output(result)
    return header.split(": environment ", 1)[1].split(" ", 1)[0]


@pytest.mark.parametrize(
    ("command_line", "variable", "ini", "chosen"),
    [
        (None, "variable", None, "variable"),
        (None, None, "ini", "ini"),
        (None, "variable", "ini", "variable"),
        ("cli", "variable", "ini", "cli"),
        ("cli", None, "ini", "cli"),
    ],
)
def test_the_environment_comes_from_the_command_line_then_the_variable_then_the_ini_key(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, command_line: str | None, variable: str | None,
        ini: str | None, chosen: str) -> None:
    files = {name: _environment(pytester.path, name) for name in ("cli", "variable", "ini")}
    args = ["--collect-only", "--pyargs", "wavegate.gate", "-p", "no:cacheprovider"]
    if command_line:
        args.append(f"--env-file={files[command_line]}")
    if variable:
        monkeypatch.setenv("WAVEGATE_ENV_FILE", str(files[variable]))
    else:
        monkeypatch.delenv("WAVEGATE_ENV_FILE", raising=False)
    if ini:
        pytester.makeini(f"[pytest]\nwavegate_env_file = {files[ini].name}\n")  # relative to the ini file

    result = pytester.runpytest_subprocess(*args)
    assert result.ret == 0, _output(result)
    assert _collected_environment(result) == chosen
    # One test per criterion (kinds without a criterion in the file are deselected).
    assert "/ 24 selected" in result.stdout.str() or "collected 24 items" in result.stdout.str()


def test_every_option_has_a_variable_and_an_ini_key(pytester: pytest.Pytester,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = _environment(pytester.path, "fromvariable")
    monkeypatch.setenv("WAVEGATE_ENV_FILE", str(env_file))
    monkeypatch.setenv("WAVEGATE_AREA", "quality")
    pytester.makeini("[pytest]\nwavegate_area = memory\nwavegate_gate_output = from-ini\n")

    result = pytester.runpytest_subprocess("--collect-only", "-q", "--pyargs", "wavegate.gate")
    assert result.ret == 0, _output(result)
    collected = [line for line in result.stdout.lines if "::" in line]
    assert collected
    assert all("test_quality.py" in line for line in collected), collected
    assert (pytester.path / "from-ini" / "gate-results.json").is_file()


def test_the_two_word_spelling_is_refused_pointing_to_the_variable_and_the_ini_key(
        pytester: pytest.Pytester) -> None:
    env_file = _environment(pytester.path, "env")

    result = pytester.runpytest_subprocess("--env-file", str(env_file))
    assert result.ret == 4, _output(result)
    for mention in (f"--env-file={env_file}", "WAVEGATE_ENV_FILE", "wavegate_env_file"):
        assert mention in _output(result)
