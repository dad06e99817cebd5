"""wavegate.prefetch: the criteria evaluated ahead of their tests, with CPython's cyclic collector off meanwhile
and back as it was afterwards (the collector walked the heap hundreds of times while raw samples were decoded)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from wavegate.prefetch import prefetch


class _Context(SimpleNamespace):
    """What prefetch reads of a gate context: the concurrency, Prometheus' readiness, where results wait; each
    criterion's evaluation gets a shallow copy of it, as of a GateContext."""

    def ensure_prometheus(self) -> None:
        return None


def _context(workers: int) -> _Context:
    return _Context(environment=SimpleNamespace(prometheus=SimpleNamespace(max_concurrency=workers)),
                    judged_ahead={}, prefetching=None)


@pytest.fixture
def collector_as_found() -> Iterator[None]:
    before = gc.isenabled()
    yield
    (gc.enable if before else gc.disable)()


def _criteria(count: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(id=f"c{n}") for n in range(count)]


@pytest.mark.usefixtures("collector_as_found")
@pytest.mark.parametrize("collecting", [True, False], ids=["on-before", "off-before"])
def test_the_collector_is_off_while_evaluating_and_then_as_it_was(collecting: bool) -> None:
    (gc.enable if collecting else gc.disable)()
    seen: list[bool] = []

    def evaluate(criterion: Any, ctx: Any) -> str:
        seen.append(gc.isenabled())
        return f"observed {criterion.id}"

    context = _context(workers=4)
    assert prefetch(_criteria(6), context, evaluate) == 6  # type: ignore[arg-type]
    assert seen == [False] * 6
    assert context.judged_ahead == {f"c{n}": f"observed c{n}" for n in range(6)}
    assert gc.isenabled() is collecting


@pytest.mark.usefixtures("collector_as_found")
def test_a_failing_evaluation_leaves_the_collector_on() -> None:
    gc.enable()

    def evaluate(criterion: Any, ctx: Any) -> str:
        raise RuntimeError("a bug in a check")

    context = _context(workers=2)
    prefetch(_criteria(3), context, evaluate)  # type: ignore[arg-type]
    assert context.judged_ahead == {}  # each test evaluates its criterion itself and reports the bug
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_as_found")
def test_sequential_runs_evaluate_nothing_ahead_and_leave_the_collector_alone() -> None:
    gc.enable()
    context = _context(workers=1)
    assert prefetch(_criteria(3), context, lambda criterion, ctx: "x") == 0  # type: ignore[arg-type]
    assert context.judged_ahead == {}
    assert gc.isenabled()
