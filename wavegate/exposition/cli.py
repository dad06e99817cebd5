"""`python -m wavegate check-metrics`: check one exposition like `promtool check metrics`, standing alone.

Reads a file, stdin ("-", the default) or an http(s) URL; prints one problem per line — line number, metric,
rule, message —, documented deviations from promtool marked as such, and exits 0 when clean, 3 on lint
findings only, 1 on a parse problem (as promtool does), 2 when the input cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO, TextIO

from wavegate.exposition import ACCEPT, OPENMETRICS, TEXT, Exposition, Problem, advice, lint, parser_for
from wavegate.exposition.text import TextParser

EXIT_CLEAN, EXIT_PARSE, EXIT_UNREADABLE, EXIT_LINT = 0, 1, 2, 3
_CHUNK = 1 << 16


class Unreadable(Exception):
    """The input could not be read at all (no such file, an unreachable URL)."""


def main(argv: Sequence[str] | None = None, stdin: BinaryIO | None = None, stdout: TextIO | None = None) -> int:
    args = _arguments().parse_args(argv)
    out = stdout or sys.stdout
    try:
        exposition, source = _read(args.source, args.format, stdin or sys.stdin.buffer, args.timeout)
    except Unreadable as exc:
        print(f"check-metrics: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    findings = lint(exposition)
    for problem in exposition.problems:
        print(_line(problem, "parse"), file=out)
    for problem in findings:
        print(_line(problem, "lint"), file=out)
    if args.advice:
        for problem in advice(exposition):
            print(_line(problem, "advice"), file=out)
    if args.verbose:
        print(f"{source}: {exposition.format} format, {exposition.lines} lines, {len(exposition.families)} "
              f"families, {len(exposition.problems)} parse problem(s), {len(findings)} lint finding(s)",
              file=sys.stderr)
    if exposition.problems:
        return EXIT_PARSE
    return EXIT_LINT if findings else EXIT_CLEAN


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wavegate check-metrics",
        description="Check a Prometheus text (0.0.4) or OpenMetrics exposition: parse problems and promtool's "
                    "lint rules, one per line. Exit 0 clean, 1 parse problem, 3 lint findings only, 2 unreadable.")
    parser.add_argument("source", nargs="?", default="-",
                        help="A file, an http(s):// URL (asked for OpenMetrics or text, as Prometheus asks), or - "
                             "for stdin (the default).")
    parser.add_argument("--format", choices=("auto", TEXT, OPENMETRICS), default="auto",
                        help="Read a file or stdin as this format; 'auto' (the default) reads it as OpenMetrics "
                             "when it ends with '# EOF', else as the text format. A URL's format is the one its "
                             "Content-Type names, unless given here.")
    parser.add_argument("--advice", action="store_true",
                        help="Also print the gate's advice beyond promtool's rules (upper-case names, ...); advice "
                             "never changes the exit code.")
    parser.add_argument("--timeout", type=float, default=30.0, help="Seconds a URL has to send its whole answer.")
    parser.add_argument("-v", "--verbose", action="store_true", help="Print a summary line on stderr.")
    return parser


def _line(problem: Problem, kind: str) -> str:
    where = f"line {problem.line}" if problem.line is not None else "end of input"
    text = f"{where}: {problem.metric or '-'}: {problem.rule} ({kind}): {problem.message}"
    return f"{text} [deviation from promtool: {problem.deviation}]" if problem.deviation else text


def _read(source: str, format_: str, stdin: BinaryIO, timeout: float) -> tuple[Exposition, str]:
    if source.startswith(("http://", "https://")):
        return _read_url(source, format_, timeout), source
    if source == "-":
        return _read_stream(stdin, format_), "stdin"
    try:
        with open(source, "rb") as stream:
            return _read_stream(stream, format_), source
    except OSError as exc:
        raise Unreadable(f"cannot read {source}: {exc.strerror or exc}") from None


def _read_stream(stream: BinaryIO, format_: str) -> Exposition:
    if format_ == "auto":
        if stream.seekable():
            size = stream.seek(0, 2)
            stream.seek(max(0, size - 64))
            format_ = _guess(stream.read())
            stream.seek(0)
        else:  # a pipe: the end decides, so hold the body (stdin bodies are small; give --format for large ones)
            chunks = list(iter(lambda: stream.read(_CHUNK), b""))
            return _parse(_guess(b"".join(chunks[-2:])), iter(chunks))
    return _parse(format_, iter(lambda: stream.read(_CHUNK), b""))


def _guess(tail: bytes) -> str:
    return OPENMETRICS if tail.rstrip(b"\n").endswith(b"# EOF") else TEXT


def _parse(format_: str, chunks: Iterator[bytes]) -> Exposition:
    parser = parser_for("application/openmetrics-text" if format_ == OPENMETRICS else "text/plain")
    for chunk in chunks:
        parser.feed(chunk)
    return parser.close()


def _read_url(url: str, format_: str, timeout: float) -> Exposition:
    import requests

    from wavegate import transport

    holder: list[TextParser] = []

    def start(response: requests.Response) -> Callable[[bytes], None]:
        content_type = response.headers.get("Content-Type", "")
        if format_ != "auto":
            content_type = "application/openmetrics-text" if format_ == OPENMETRICS else "text/plain"
        holder.append(parser_for(content_type))
        return holder[0].feed

    try:
        response = transport.get(None, url, timeout=timeout, headers={"Accept": ACCEPT}, sink=start)
    except transport.TransportFailed as exc:
        raise Unreadable(str(exc)) from None
    if response.status_code != 200:
        raise Unreadable(f"{url} answered HTTP {response.status_code}")
    return holder[0].close()
