"""Evaluates the criteria that read only Prometheus concurrently, before pytest judges them one after another.

pytest runs the criteria in turn, and most of a criterion's time is Prometheus evaluating its queries. So
before the first test, every selected criterion that reads only Prometheus is evaluated in a small pool of
threads (prometheus.max_concurrency), by the same check, with the same queries (each sent once per run, see
PrometheusClient). Its observation, or the evaluation error it raised, waits in the context for its test,
which records and asserts it as if it had just evaluated it: verdicts and evidence are those of a sequential
run. A check that reaches a /metrics scrape stops there and is evaluated by its test, in order.
"""

from __future__ import annotations

import copy
import functools
import gc
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from wavegate.context import Ahead, GateContext
from wavegate.errors import EvaluationError
from wavegate.verdicts import Observation

Check = Callable[[Any, GateContext], Observation]


def prefetch(criteria: Iterable[Any], context: GateContext, evaluate: Check) -> int:
    """Evaluate the criteria (those that read only Prometheus) concurrently with `evaluate`; returns how many.

    Nothing happens with max_concurrency 1 (sequential, as asked) or when Prometheus does not answer (each
    test then reports that itself)."""
    workers = context.environment.prometheus.max_concurrency
    chosen = list(criteria)
    if workers <= 1 or not chosen:
        return 0
    try:
        context.ensure_prometheus()
    except EvaluationError:
        return 0
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wavegate-prefetch")
    # CPython's cyclic garbage collector walks every live container each time it runs, and decoding a week of
    # raw samples allocates millions of short-lived lists, so it runs hundreds of times over a large heap: on a
    # 7-day history that was 2.4 s of a 6 s run's CPU. Reference counting frees the samples as before; the
    # collector is off only while the criteria are evaluated here, and then back as it was.
    collecting = gc.isenabled()
    gc.disable()
    try:
        wait([pool.submit(_evaluate, evaluate, criterion, context, stop) for criterion in chosen])
    finally:
        # On an interrupt (Ctrl-C, SIGTERM) the criteria not started are dropped and the others stop at their
        # next query, so the run ends after at most the requests in flight.
        stop.set()
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        finally:  # a second interrupt while waiting for the threads must not leave the collector off
            if collecting:
                gc.enable()
    return len(chosen)


def _evaluate(evaluate: Check, criterion: Any, context: GateContext, stop: threading.Event) -> None:
    ahead = Ahead(stop)
    mine = copy.copy(context)
    mine.prefetching = ahead
    try:
        found: Observation | EvaluationError = evaluate(criterion, mine)
    except EvaluationError as exc:  # Prometheus down, a query refused, the budget spent: its test's ERROR
        found = exc
    except Exception:  # cut short (Prefetching) or anything unexpected: its test evaluates it and reports
        return
    if not ahead.cut_short:
        context.judged_ahead[criterion.id] = found


def judged_ahead(check: Check) -> Check:
    """The check, except that a criterion already evaluated ahead (see prefetch) gives what was found then."""

    @functools.wraps(check)
    def judged(criterion: Any, ctx: GateContext) -> Observation:
        found = ctx.judged_ahead.pop(criterion.id, None) if ctx.prefetching is None else None
        if isinstance(found, EvaluationError):
            raise found
        return found if found is not None else check(criterion, ctx)

    return judged
