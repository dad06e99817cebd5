"""Sends the run's Prometheus queries concurrently before the criteria are judged one after another.

pytest runs the criteria in turn, and most of a criterion's time is Prometheus evaluating its queries. So
before the first test, every selected criterion that reads only Prometheus is evaluated once in a small pool
of threads (prometheus.max_concurrency): its queries land in the client's per-run answers (see
PrometheusClient), and its result is thrown away. Each test then judges its criterion as usual, with the
same queries, answered from there: verdicts and evidence are exactly those of a sequential run.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from wavegate.checks import CHECKS, reads_only_prometheus
from wavegate.context import GateContext
from wavegate.errors import EvaluationError


def prefetch(criteria: Iterable[Any], context: GateContext) -> int:
    """Evaluate the criteria that read only Prometheus concurrently, for their answers; returns how many.

    Nothing happens with max_concurrency 1 (sequential, as asked) or when Prometheus does not answer (each
    test then reports that itself)."""
    workers = context.environment.prometheus.max_concurrency
    chosen = [c for c in criteria if reads_only_prometheus(c.kind)]
    if workers <= 1 or not chosen:
        return 0
    try:
        context.ensure_prometheus()
    except EvaluationError:
        return 0
    stop = threading.Event()
    quiet = copy.copy(context)
    quiet.prefetching = stop  # no /metrics scrape from here: those stay in their test, in order
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wavegate-prefetch")
    try:
        wait([pool.submit(_evaluate, criterion, quiet) for criterion in chosen])
    finally:
        # On an interrupt (Ctrl-C, SIGTERM) the criteria not started are dropped and the others stop at their
        # next query, so the run ends after at most the requests in flight.
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
    return len(chosen)


def _evaluate(criterion: Any, context: GateContext) -> None:
    try:
        CHECKS[criterion.kind](criterion, context)
    except Exception:  # the test evaluates it again and reports whatever happens there
        return
