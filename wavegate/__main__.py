"""`python -m wavegate <command>`: the gate's stand-alone commands (the gate itself runs as `pytest --env=…`)."""

from __future__ import annotations

import sys

_USAGE = """usage: python -m wavegate COMMAND [ARGS]

commands:
  check-metrics  check a /metrics exposition (text 0.0.4 or OpenMetrics) like `promtool check metrics`
  summary        a short Markdown verdict from gate-results.json (a CI job summary, a comment, a message)
  schemas        write (or --check) the JSON Schemas of the environment, criteria, contract and waivers files
  watch          judge a rollout stage repeatedly (--every, --for) until the intervals decide
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["check-metrics"]:
        from wavegate.exposition.cli import main as check_metrics

        return check_metrics(args[1:])
    if args[:1] == ["summary"]:
        from wavegate.summary import main as summary

        return summary(args[1:])
    if args[:1] == ["schemas"]:
        from wavegate.editor_schemas import main as schemas

        return schemas(args[1:])
    if args[:1] == ["watch"]:
        from wavegate.watch import main as watch

        return watch(args[1:])
    print(_USAGE, end="", file=sys.stderr if args[:1] not in (["-h"], ["--help"]) else sys.stdout)
    return 0 if args[:1] in (["-h"], ["--help"]) else 2


if __name__ == "__main__":
    sys.exit(main())
