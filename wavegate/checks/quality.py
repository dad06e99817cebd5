"""Metrics quality: label cardinality, metric types, exposition format."""

from __future__ import annotations

from wavegate import criteria as c
from wavegate.checks.common import (
    _finite,
    _required_in_scrapes,
    conclude,
)
from wavegate.checks.coverage import _FORMAT_NAMES
from wavegate.context import GateContext
from wavegate.errors import EvaluationError
from wavegate.exposition import advice, lint
from wavegate.verdicts import Observation


def label_cardinality(criterion: c.LabelCardinality, ctx: GateContext) -> Observation:
    obs = Observation(passed=True, summary="", unit="series")
    failures: list[str] = []
    series_warnings: list[str] = []
    largest: dict[str, int] = {}
    for component in ctx.endpoints():
        scrape = ctx.scrape_ok(component)
        if scrape.not_an_exposition or not scrape.exposition.families:
            # Nothing to count is not "within limits": the component's cardinality cannot be judged.
            obs.no_data = True
            failures.append(f"no data: {scrape.not_an_exposition or f'{scrape.url} exposes no metric families'}")
            obs.measure({"component": component}, None, threshold=float(criterion.max_series), passed=False,
                        cause="no data: no metric families to count")
            continue
        biggest: tuple[str, int] | None = None
        for family in scrape.exposition.families.values():
            count = family.series_count()
            largest[f"{component}/{family.name}"] = count
            where = f"{scrape.url} {family.name}"
            problems = []
            if count > criterion.max_series:
                problems.append(f"{count} series, above {criterion.max_series}")
                failures.append(f"{where}: {count} series, above {criterion.max_series}")
            elif count > criterion.warn_series:
                series_warnings.append(f"{where}: {count} series (warning above {criterion.warn_series})")
            labels = family.label_names()
            for label in criterion.forbidden_labels:
                if label in labels:
                    problems.append(f"carries {label}")
                    failures.append(f"{where} carries {label}, which no metric may carry")
            if not _detailed(ctx, family.name):
                high = sorted(set(criterion.high_cardinality_labels) & labels)
                if high:
                    problems.append(f"aggregate metric carrying {', '.join(high)}")
                    failures.append(f"{where} is an aggregate metric but carries {', '.join(high)}")
            if problems:  # every violating family is a sub-series; of the others, only the largest
                obs.measure({"component": component, "metric": family.name}, float(count),
                            threshold=float(criterion.max_series), passed=False, cause="; ".join(problems))
            elif biggest is None or count > biggest[1]:
                biggest = (family.name, count)
        if biggest is not None:
            obs.measure({"component": component, "metric": biggest[0]}, float(biggest[1]),
                        threshold=float(criterion.max_series), passed=True)
    probe, window = ctx.probe(), ctx.environment.candidate
    stored = {}
    for _, name, spec in ctx.contract.required():
        series_name = f"{name}_bucket" if spec.type == "histogram" else name
        value = probe.over(f"count(last_over_time({series_name}[$W]))", window).scalar()
        if not _finite(value):
            # An empty or NaN answer is not "0 series": the stored cardinality cannot be judged.
            obs.no_data = True
            failures.append(f"no data: Prometheus answered {value} for the series of {series_name} in the "
                            "candidate window, so its stored cardinality cannot be judged")
            obs.measure({"metric": series_name, "source": "Prometheus"}, None,
                        threshold=float(criterion.max_series), passed=False, cause="no data")
            continue
        stored[series_name] = int(value)
        obs.measure({"metric": series_name, "source": "Prometheus"}, float(value),
                    threshold=float(criterion.max_series), passed=stored[series_name] <= criterion.max_series)
        if stored[series_name] > criterion.max_series:
            failures.append(f"Prometheus holds {stored[series_name]} series of {series_name}, above "
                            f"{criterion.max_series}")
        elif stored[series_name] > criterion.warn_series:
            series_warnings.append(f"Prometheus holds {stored[series_name]} series of {series_name}")
    try:
        head = ctx.prometheus.tsdb_status().get("seriesCountByMetricName") or []
        obs.notes.append("TSDB head, top series: " + ", ".join(f"{i.get('name')}={i.get('value')}" for i in head[:5]))
    except EvaluationError as exc:  # the head summary is evidence only, never a verdict
        obs.notes.append(f"TSDB status unavailable: {exc}")
    top = sorted(largest.items(), key=lambda item: -item[1])[:5]
    most_stored = sorted(stored.items(), key=lambda item: -item[1])[:5]
    obs.observed = {"largest scraped": ", ".join(f"{k}={v}" for k, v in top),
                    "stored in window": ", ".join(f"{k}={v}" for k, v in most_stored)}
    obs.threshold = f"<= {criterion.max_series} series per metric (warning at {criterion.warn_series}); " \
                    f"{', '.join(criterion.high_cardinality_labels)} only on detailed metrics; " \
                    f"{', '.join(criterion.forbidden_labels)} nowhere"
    # Series-count warnings are evidence for the reviewer, not Prometheus warnings that fail the criterion.
    obs.notes.extend(f"cardinality warning: {warning}" for warning in series_warnings)
    return conclude(obs, failures, "label cardinality within limits", probe)


def _detailed(ctx: GateContext, family: str) -> bool:
    # prometheus_client exports `x_created` as a gauge family of its own beside counter `x_total` and
    # histogram `x`: it carries the parent's labels, so it is as detailed as its parent.
    base = family.removesuffix("_created")
    return any(ctx.contract.is_detailed(name) for name in (family, base, f"{base}_total"))


def metric_types(criterion: c.MetricTypes, ctx: GateContext) -> Observation:
    obs = Observation(passed=True, summary="")
    failures, observed = [], {}
    for component, name, spec, scrape in _required_in_scrapes(ctx):
        family = scrape.exposition.find(name)
        key = {"component": component, "metric": name}
        if family is None:
            obs.measure(key, None, unit="contract mismatches", threshold=0.0, passed=False, cause="not exported")
            failures.append(f"{component} does not export {name} (expected {spec.type})")
            continue
        observed[name] = family.type
        mismatches = []
        if family.type != spec.type:
            mismatches.append(f"TYPE {family.type}, the contract says {spec.type}")
            failures.append(f"{scrape.url} line {family.type_line}: {name} has TYPE {family.type}, "
                            f"the contract says {spec.type}")
        if spec.buckets is not None and family.type == "histogram":
            actual = tuple(family.bucket_bounds())
            if [round(b, 9) for b in actual] != [round(b, 9) for b in spec.buckets]:
                mismatches.append("buckets differ from the contract's")
                failures.append(f"{name} buckets are {', '.join(f'{b:g}' for b in actual)}; the contract says "
                                f"{', '.join(f'{b:g}' for b in spec.buckets)}")
        obs.measure(key, float(len(mismatches)), unit="contract mismatches", threshold=0.0, passed=not mismatches,
                    cause="; ".join(mismatches) or None)
    obs.observed, obs.threshold = observed, "TYPE and buckets as in the contract"
    return conclude(obs, failures, "every required metric has the contract's type")


def exposition_format(criterion: c.ExpositionFormat, ctx: GateContext) -> Observation:
    obs = Observation(passed=True, summary="")
    failures, observed = [], {}
    for component in ctx.endpoints():
        scrape = ctx.scrape_ok(component)
        exposition = scrape.exposition
        findings = lint(exposition)
        accepted = [f for f in findings if f.rule in criterion.accepted_lint]
        problems: list[object] = [*exposition.problems, *(f for f in findings if f.rule not in criterion.accepted_lint)]
        if accepted:
            obs.notes.append(f"{scrape.url}: {len(accepted)} finding(s) of accepted lint rule(s) "
                             f"{', '.join(sorted({f.rule for f in accepted}))}, e.g. {accepted[0]}")
        if scrape.not_an_exposition:
            problems = [scrape.not_an_exposition.removeprefix(f"{scrape.url} ")]
        format_name = _FORMAT_NAMES[scrape.format]
        observed[component] = f"{len(problems)} problem(s) in {format_name}"
        obs.measure({"component": component, "format": scrape.format}, float(len(problems)), unit="problems",
                    threshold=0.0, passed=not problems)
        failures += [f"{scrape.url} ({format_name}) {problem}" for problem in problems]
        # Advice beyond promtool's rules is evidence for the reviewer, never part of the verdict.
        obs.notes.extend(f"advice, not a promtool rule: {scrape.url} {tip}" for tip in advice(exposition)[:20])
    obs.observed = observed
    obs.threshold = "0 parse problems in the format the server sent, 0 promtool lint findings"
    return conclude(obs, failures, "every exposition is valid and lint-clean")
