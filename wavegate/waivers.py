"""Waivers: a file of accepted failures, each with a reason, an approver and an expiry.

```yaml
waivers:
  - criterion: performance.latency_increase
    scope: {histogram: router_decision_duration_seconds}   # optional: only these sub-series
    reason: router p99 regression accepted until the cache fix ships (CP2-1234)
    approver: jane.doe
    expires: 2026-12-31T00:00:00Z
```

A waiver covers a FAILED criterion when it has not expired and, if it has a scope, every sub-series the gate
found violated matches the scope (a failure the gate did not attribute to sub-series is covered only by a
waiver without scope). It never covers an ERROR: a criterion that could not be evaluated is not a known,
accepted failure. An expired waiver stops applying and is listed as expired. A malformed file, or a waiver
naming a criterion the criteria file does not have, is a configuration error (exit 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from wavegate.errors import ConfigError
from wavegate.settings import Timestamp, format_time, read_model


class Waiver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    criterion: str = Field(min_length=1, description="The id of the criterion whose failure is accepted.")
    scope: dict[str, str] = Field(default_factory=dict, description="Only sub-series with these labels "
                                  "(e.g. {job: router}); empty: the whole criterion.")
    reason: str = Field(min_length=1, description="Why the failure is accepted (a ticket, a decision).")
    approver: str = Field(min_length=1, description="Who accepted it.")
    expires: Timestamp = Field(description="When the waiver stops applying (RFC 3339 with an offset).")

    def describe(self) -> str:
        scope = f" for {', '.join(f'{k}={v}' for k, v in self.scope.items())}" if self.scope else ""
        return (f"waived{scope} until {format_time(self.expires)} by {self.approver}: {self.reason}")

    def as_dict(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "scope": dict(self.scope), "reason": self.reason,
                "approver": self.approver, "expires": format_time(self.expires)}


class WaiverFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    waivers: tuple[Waiver, ...] = Field(description="The accepted failures.")


@dataclass(frozen=True)
class Waivers:
    path: Path | None
    items: tuple[Waiver, ...]
    now: datetime

    def active(self) -> list[Waiver]:
        return [w for w in self.items if w.expires > self.now]

    def expired(self) -> list[Waiver]:
        return [w for w in self.items if w.expires <= self.now]

    def covering(self, criterion_id: str, verdict: str, failing_keys: Sequence[dict[str, str]],
                 violations: Sequence[str] = (), no_data: bool = False) -> Waiver | None:
        """The active waiver that covers this criterion's failure, if any (never an error).

        A scoped waiver covers only a failure the gate attributed entirely to sub-series inside its scope:
        every violated sub-series matches the scope, every violation the gate wrote names the scope's values,
        and nothing was missing (no data is not a known, accepted failure)."""
        if verdict != "failed":
            return None
        for waiver in self.active():
            if waiver.criterion != criterion_id:
                continue
            if not waiver.scope:
                return waiver
            if no_data or not failing_keys:
                continue
            inside = all(all(key.get(k) == v for k, v in waiver.scope.items()) for key in failing_keys)
            explained = all(all(v in line for v in waiver.scope.values()) for line in violations)
            if inside and explained:
                return waiver
        return None

    def expired_for(self, criterion_id: str) -> list[Waiver]:
        return [w for w in self.expired() if w.criterion == criterion_id]


NO_WAIVERS = Waivers(None, (), datetime.now(UTC))


def load_waivers(path: Path, known_ids: Iterable[str], now: datetime | None = None) -> Waivers:
    parsed = read_model(path, "waivers file", WaiverFile, "a `waivers` list (see the README, \"Waivers\")")
    known = set(known_ids)
    for index, waiver in enumerate(parsed.waivers):
        if waiver.criterion not in known:
            raise ConfigError(f"{path} is invalid:\n  waivers.{index}.criterion: {waiver.criterion!r} is not a "
                              "criterion of the criteria file (check its spelling)")
    return Waivers(path, parsed.waivers, now or datetime.now(UTC))
