"""How numbers read in the report: one formatter per unit, shared by the tables and the self-tests."""

from __future__ import annotations

import math

NO_DATA = "no data"


def value(number: float | None, unit: str) -> str:
    """A value with its unit: ratios as %, seconds as ms below 1 s, bytes as MiB, counts with separators."""
    if number is None or not math.isfinite(number):
        return NO_DATA
    if unit == "ratio":
        return f"{number * 100:.3f} %"
    if unit == "seconds":
        return f"{number * 1000:.3f} ms" if abs(number) < 1 else f"{number:.3f} s"
    if unit == "bytes":
        return f"{number / 2**20:.1f} MiB"
    if unit == "per_second":
        return f"{number:,.3f} /s"
    if float(number).is_integer():
        return f"{number:,.0f}"
    return f"{number:,.3f}"


def change(baseline: float | None, candidate: float | None, better: str = "") -> str:
    """Relative change baseline → candidate, e.g. `+4.87 % (worse)`; `n/a` without both values."""
    if baseline is None or candidate is None:
        return "n/a"
    if baseline == 0:
        return "±0" if candidate == 0 else "new (baseline 0)"
    relative = (candidate - baseline) / abs(baseline) * 100
    if abs(relative) < 0.005:
        return "±0.00 %"
    text = f"{relative:+.2f} %"
    if better:
        improved = relative < 0 if better == "lower" else relative > 0
        text += " (better)" if improved else " (worse)"
    return text



def cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
