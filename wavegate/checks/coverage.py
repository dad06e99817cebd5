"""Metrics coverage: endpoints export, required metrics and labels are present."""

from __future__ import annotations

from wavegate import criteria as c
from wavegate.checks.common import (
    _finite,
    _raise_unreachable_unless_violated,
    _required_in_scrapes,
    conclude,
)
from wavegate.context import GateContext
from wavegate.errors import ScrapeFailed
from wavegate.verdicts import Observation

_FORMAT_NAMES = {"text": "text format 0.0.4", "openmetrics": "OpenMetrics 1.0"}


def endpoints_exported(criterion: c.EndpointsExported, ctx: GateContext) -> Observation:
    obs = Observation(passed=True, summary="")
    failures, unreachable, observed = [], [], {}
    for component in ctx.endpoints():
        try:
            scrape = ctx.scrape(component)
        except ScrapeFailed as exc:
            unreachable.append(str(exc))
            observed[component] = "unreachable"
            continue
        observed[component] = (f"HTTP {scrape.status}, {len(scrape.exposition.families)} families "
                               f"({_FORMAT_NAMES[scrape.format]})")
        obs.measure({"component": component}, float(scrape.status), unit="HTTP status", threshold=200.0,
                    passed=scrape.ok and not scrape.exposition.problems and bool(scrape.exposition.families))
        if not scrape.ok:
            failures.append(f"{scrape.url} answered HTTP {scrape.status}, not 200")
        elif scrape.not_an_exposition:
            failures.append(scrape.not_an_exposition)
        elif scrape.exposition.problems:
            first = scrape.exposition.problems[0]
            failures.append(f"{scrape.url} is not a parseable exposition: {first} "
                            f"({len(scrape.exposition.problems)} problem(s))")
        elif not scrape.exposition.families:
            failures.append(f"{scrape.url} answered 200 with no metrics at all")
    # An endpoint that answers wrongly is a violation; one that cannot be reached at all may be the gate's
    # configuration as much as the component, so alone it is an ERROR (a violation elsewhere still wins).
    _raise_unreachable_unless_violated(unreachable, failures)
    obs.observed, obs.threshold = observed, "HTTP 200 and a parseable exposition (text 0.0.4 or OpenMetrics)"
    return conclude(obs, failures + unreachable, "every component exports its metrics")


def required_metrics(criterion: c.RequiredMetrics, ctx: GateContext) -> Observation:
    rows = _required_in_scrapes(ctx)
    probe, window = ctx.probe(), ctx.environment.candidate
    obs = Observation(passed=True, summary="", window=window)
    failures, present = [], {}
    for component, name, spec, scrape in rows:
        exported = scrape.exposition.find(name) is not None
        series_name = f"{name}_count" if spec.type == "histogram" else name
        in_prometheus = probe.over(f"count(last_over_time({series_name}[$W]))", window).scalar()
        stored = _finite(in_prometheus) and (in_prometheus or 0) > 0
        present[name] = f"{'exported' if exported else 'NOT exported'}, " \
                        f"{'in Prometheus' if stored else 'NOT in Prometheus'}"
        missing = [where for where, found in (("not exported", exported), ("not in Prometheus", stored)) if not found]
        obs.measure({"component": component, "metric": name}, float(len(missing)), unit="places missing",
                    threshold=0.0, passed=not missing, cause="; ".join(missing) or None)
        if not exported:
            failures.append(f"{component} ({scrape.url}) does not export {name}")
        if not stored:
            failures.append(f"Prometheus has no {series_name} series in the candidate window")
    obs.observed = present
    obs.threshold = f"all {len(rows)} required metrics exported and stored"
    return conclude(obs, failures, f"all {len(rows)} required metrics present", probe)


def required_labels(criterion: c.RequiredLabels, ctx: GateContext) -> Observation:
    obs = Observation(passed=True, summary="")
    failures, observed = [], {}
    for component, name, spec, scrape in _required_in_scrapes(ctx):
        family = scrape.exposition.find(name)
        key = {"component": component, "metric": name}
        if family is None or not family.sample_count:
            cause = "not exported" if family is None else "exported without any series"
            obs.measure(key, None, unit="required labels missing", threshold=0.0, passed=False, cause=cause)
            failures.append(f"{component} {'does not export' if family is None else 'exports'} {name}"
                            f"{'' if family is None else ' without any series'}, so its labels cannot be checked")
            continue
        observed[name] = sorted(family.label_names())
        lacking = family.first_without(tuple(spec.labels))
        line, absent = lacking if lacking is not None else (0, ())
        obs.measure(key, float(len(absent)), unit="required labels missing", threshold=0.0, passed=not absent,
                    cause=f"line {line} lacks {', '.join(absent)}" if absent else None)
        if absent:
            failures.append(f"{scrape.url} line {line}: {name} lacks {', '.join(absent)}")
        extra = family.label_names() - set(spec.labels) - set(spec.optional_labels)
        if extra:
            obs.notes.append(f"{name} also carries {', '.join(sorted(extra))} (not in the contract)")
    obs.observed = {name: ", ".join(labels) or "(none)" for name, labels in observed.items()}
    obs.threshold = "the contract's required label names on every series"
    return conclude(obs, failures, "every required metric carries its required labels")


