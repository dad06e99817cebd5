"""What differs between backends, for the gate: only the scraper's own signals.

Queries mean the same on Prometheus and VictoriaMetrics (the gate's window increase, raw samples and a
NaN told from a successful scrape without a finite sample; see selftests/test_backends.py). What differs is
who scrapes: Prometheus reports its targets at its own /api/v1/targets and counts scrapes dropped by a limit
in prometheus_target_* counters; in front of VictoriaMetrics, vmagent does both, with its own counters. The
integration criteria keep their ids and thresholds and read the backend's equivalent.
"""

from __future__ import annotations

# Prometheus' scrape-limit counters and vmagent's counter for the same event; None: vmagent has no such
# limit (1.79 enforces no per-scrape label limit), so no scrape can be dropped for it.
_VMAGENT_COUNTERS: dict[str, str | None] = {
    "prometheus_target_scrapes_exceeded_sample_limit_total": "vm_promscrape_scrapes_skipped_by_sample_limit_total",
    "prometheus_target_scrape_pool_exceeded_label_limits_total": None,
}


def limit_counter(backend: str, counter: str) -> tuple[str | None, str]:
    """The counter to read on `backend` for one of the criterion's limit counters, and a note saying what was
    read instead (empty when it is the same counter)."""
    if backend != "victoriametrics" or counter not in _VMAGENT_COUNTERS:
        return counter, ""
    found = _VMAGENT_COUNTERS[counter]
    if found is None:
        return None, (f"{counter}: vmagent enforces no such limit, so no scrape can be dropped for it "
                      "(prometheus.backend: victoriametrics)")
    return found, f"{counter}: read as vmagent's {found} (prometheus.backend: victoriametrics)"
