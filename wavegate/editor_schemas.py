"""JSON Schemas for the files people write — environment, criteria, waivers — generated from the pydantic models
that validate them, shipped in the package (wavegate/schemas/*.schema.json) and named on the first line of the
YAML files (`# yaml-language-server: $schema=…`) so editors complete and check them while they are written.

`python -m wavegate schemas [--check] [DIR]` writes them (default: the package's folder); `--check` exits 1
when a shipped schema differs from what the models say (scripts/test runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

FOLDER = Path(__file__).resolve().parent / "schemas"


def _models() -> dict[str, tuple[type[BaseModel], str]]:
    from wavegate.criteria import Contract, CriteriaFile
    from wavegate.settings import EnvironmentModel
    from wavegate.waivers import WaiverFile

    return {
        "environment": (EnvironmentModel, "A wavegate environment file: where Prometheus and the components are."),
        "criteria": (CriteriaFile, "A wavegate criteria file: the success criteria and the contract they name."),
        "contract": (Contract, "A wavegate metrics contract: required metrics, their types, labels, buckets."),
        "waivers": (WaiverFile, "A wavegate waivers file: accepted failures with reason, approver and expiry."),
    }


def schemas() -> dict[str, dict[str, Any]]:
    found = {}
    for name, (model, title) in _models().items():
        schema = model.model_json_schema()
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
        schema["title"] = title
        found[name] = schema
    return found


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m wavegate schemas", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=FOLDER, help="where to write (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a schema in FOLDER is not up to date")
    args = parser.parse_args(argv)
    stale = []
    for name, schema in schemas().items():
        path = args.folder / f"{name}.schema.json"
        text = render(schema)
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
            continue
        args.folder.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    if stale:
        print(f"not up to date with the models: {', '.join(stale)}; run python -m wavegate schemas", file=sys.stderr)
        return 1
    return 0
