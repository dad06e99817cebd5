"""For each regression knob of the reference stack, its failing criterion on a crafted world: the report's
status and its failed rows are the gate's, no more and no less, each failed row led by the gate's culprit.

The full `scripts/demo --regression KNOB` runs are in scripts/acceptance; here each knob's effect is crafted
the way the stack's knob produces it (in the history or in the live /metrics), judged by the real gate against
a real Prometheus, and reported on without screenshots."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from harness import wait_until
from report_support import ServedWorld, judged, summary_rows
from worlds import HEALTHY, WorldSpec, exposition_variant, more_errors, mutate, p99_increase, restart, without

from wavegate.report.status import FAILED


@dataclass(frozen=True)
class Knob:
    criterion: str  # the criterion the knob makes fail (README, "Knobs inject a regression")
    spec: WorldSpec = HEALTHY
    prepare: Callable[[ServedWorld], None] | None = None


def _untyped_queue_depth(world: ServedWorld) -> None:
    """wrong_type: the worker exports worker_queue_depth untyped instead of as a gauge."""
    endpoint = world.endpoints["worker"]
    text = str(endpoint.text)
    assert "# TYPE worker_queue_depth gauge" in text
    endpoint.text = text.replace("# TYPE worker_queue_depth gauge", "# TYPE worker_queue_depth untyped")


def _run_id_on_requests(world: ServedWorld) -> None:
    """cardinality: gateway_http_requests_total, an aggregate metric, carries run_id."""
    assert world.world is not None
    world.endpoints["gateway"].text = exposition_variant(
        world.world, "gateway", add_labels={"gateway_http_requests_total": {"run_id": "run-8812"}})


def _worker_hangs(world: ServedWorld) -> None:
    """hang: the worker is alive but its /metrics never answers in time — Prometheus marks it down."""
    assert world.prometheus is not None
    prometheus = world.prometheus
    world.endpoints["worker"].delay = 30.0
    wait_until(lambda: prometheus.scalar('up{job="worker"}') == 0, "Prometheus to see the worker down")


KNOBS = {
    "latency": Knob("performance.latency_increase",
                    mutate(HEALTHY, p99_increase("router_decision_duration_seconds", 0.30))),
    "errors": Knob("errors.rate_not_higher", mutate(HEALTHY, more_errors("worker", 2.0))),
    "missing_metric": Knob("coverage.required_metrics", mutate(HEALTHY, without("gateway_idempotency_hits_total"))),
    "wrong_type": Knob("quality.metric_types", prepare=_untyped_queue_depth),
    "cardinality": Knob("quality.label_cardinality", prepare=_run_id_on_requests),
    "crash": Knob("availability.no_crashes", mutate(HEALTHY, restart("gateway", 600))),
    "hang": Knob("integration.targets_up", prepare=_worker_hangs),
}


@pytest.fixture(scope="module", params=sorted(KNOBS))
def knob_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Knob, dict[str, Any]]:
    knob = KNOBS[request.param]
    return knob, judged(knob.spec, tmp_path_factory.mktemp(request.param), prepare=knob.prepare)


def test_the_knob_fails_its_criterion_and_the_report_fails_exactly_the_gates_criteria(
        knob_run: tuple[Knob, dict[str, Any]]) -> None:
    knob, run = knob_run
    verdicts = {r.id: r.verdict for r in run["records"]}
    not_passed = {cid for cid, verdict in verdicts.items() if verdict != "passed"}
    assert verdicts[knob.criterion] == "failed", run["gate"].output[-3000:]
    assert run["gate"].ret != 0

    status = run["outcome"].status
    assert status.value == FAILED
    assert set(status.failing) == not_passed


def test_the_summary_marks_each_criterion_as_the_gate_judged_it_led_by_its_culprit(
        knob_run: tuple[Knob, dict[str, Any]]) -> None:
    knob, run = knob_run
    records = {r.id: r for r in run["records"]}
    summary = summary_rows(run["text"])
    badge = {"passed": "✅ passed", "failed": "❌ failed", "error": "⛔ error"}

    assert set(summary) == set(records)
    for criterion_id, record in records.items():
        sub_series, verdict = summary[criterion_id]
        assert badge[record.verdict] in verdict, (criterion_id, verdict)
        if record.verdict == "failed" and record.culprits:
            assert sub_series.startswith(record.culprits[0].label), (criterion_id, sub_series)
        elif record.verdict != "passed":
            # No failing sub-series explains it: the row says what the gate said, never a passing sub-series.
            passing = {m.label for m in record.measurements if m.passed}
            assert sub_series not in passing, (criterion_id, sub_series)
            assert sub_series not in ("failed", "error"), (criterion_id, sub_series)
    assert knob.criterion in {cid for cid, (_, verdict) in summary.items() if "❌ failed" in verdict}
