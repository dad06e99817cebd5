"""The success criteria as data: pydantic models for criteria/wave1.yaml and the metrics contract it names.

Each criterion has an id (`<area>.<name>`), a one-sentence description, a kind (which gate test judges it)
and that kind's fields. Models are frozen and reject unknown keys, so a typo is an error, not a default.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wavegate import promql
from wavegate.errors import CriteriaError
from wavegate.settings import Duration, describe_validation_error, read_yaml

AREAS = ("memory", "timeout", "retry", "availability", "coverage", "integration", "quality", "performance", "errors")
Severity = Literal["blocker", "critical", "major", "minor", "trivial"]


def _promql(value: str) -> str:
    """PromQL the gate can parse, scope and render; `$W` stands for the window's range."""
    try:
        return promql.check(value)
    except promql.PromQLError as exc:
        raise ValueError(f"{exc}; the gate rewrites every query with a PromQL parser, so it must parse") from None


# A PromQL expression or selector in a criteria file: parsed when the file is loaded (a configuration error,
# exit 4, names the criterion), scoped to the environment when it is sent.
PromQL = Annotated[str, AfterValidator(_promql)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- the metrics contract ---------------------------------------------------------------------------------
class MetricSpec(_Strict):
    type: Literal["counter", "gauge", "histogram", "summary"] = Field(description="The exposition TYPE.")
    labels: tuple[str, ...] = Field((), description="Label names every series must carry.")
    optional_labels: tuple[str, ...] = Field((), description="Label names allowed when the context exists.")
    buckets: tuple[float, ...] | None = Field(None, description="Finite histogram bucket bounds, in seconds.")
    detailed: bool = Field(False, description="May carry the high-cardinality labels (run_id, flow_id, step_id).")

    @model_validator(mode="after")
    def _buckets_only_on_histograms(self) -> MetricSpec:
        if self.buckets is not None and self.type != "histogram":
            raise ValueError("buckets are only for histograms")
        return self


class Contract(_Strict):
    components: dict[str, tuple[str, ...]] = Field(description="The required metrics of each component.")
    metrics: dict[str, MetricSpec] = Field(description="Type, labels and buckets of each contract metric.")
    detailed_extra: tuple[str, ...] = Field((), description="More metrics allowed high-cardinality labels.")
    provenance: dict[str, MetricSpec] = Field(
        default_factory=dict, description="The flag gauge and build info each component exports (not required).")

    @model_validator(mode="after")
    def _known_metrics(self) -> Contract:
        for component, names in self.components.items():
            unknown = [n for n in names if n not in self.metrics]
            if unknown:
                raise ValueError(f"components.{component} names {', '.join(unknown)}, not described in metrics")
        return self

    def required(self) -> list[tuple[str, str, MetricSpec]]:
        """(component, metric name, spec) for every required metric, in contract order."""
        return [(c, n, self.metrics[n]) for c, names in self.components.items() for n in names]

    def is_detailed(self, metric: str) -> bool:
        spec = self.metrics.get(metric)
        return bool(spec and spec.detailed) or metric in self.detailed_extra


# -- criteria ---------------------------------------------------------------------------------------------
class _Criterion(_Strict):
    id: str = Field(description="`<area>.<name>`; the gate test's node id ends with [<id>].")
    description: str = Field(description="One sentence saying what must hold.")
    severity: Severity = Field("critical", description="How bad a violation is (Allure severity).")
    enforce: bool = Field(True, description="false: a dry run — judged and reported in every output, never "
                          "blocks (roll a new criterion out without blocking).")
    warn_at: float | None = Field(None, gt=0, le=1, description="Warn when a passing criterion used this share "
                                  "of its allowed margin (0.8: +4 % of a +5 % limit); the verdict still passes.")

    @field_validator("id")
    @classmethod
    def _id_has_area(cls, value: str) -> str:
        area = value.split(".", 1)[0]
        if "." not in value or area not in AREAS:
            raise ValueError(f"{value!r} must be <area>.<name> with area one of {', '.join(AREAS)}")
        return value

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]


class QueueBound(_Criterion):
    kind: Literal["queue_bound"]
    metric: PromQL = Field(description="The queue depth gauge.")
    group_label: str = Field(description="The label that names a pool.")
    limits: dict[str, float] = Field(description="max_queue_size per pool.")
    default_limit: float | None = Field(
        None, description="max_queue_size of a pool not listed in limits; without it such a pool fails.")


class MemoryBound(_Criterion):
    kind: Literal["memory_bound"]
    metric: PromQL = Field(description="The resident memory gauge, per job.")
    ceiling_bytes: float = Field(gt=0, description="Highest allowed resident memory of one component.")
    max_growth: float = Field(ge=0, description="Allowed growth, last-quarter average over first-quarter average.")


class HistogramTail(_Criterion):
    kind: Literal["histogram_tail"]
    histogram: str = Field(description="Histogram base name.")
    le: float = Field(gt=0, description="Bucket bound, seconds; observations above it are counted.")
    max_above: float = Field(0, ge=0, description="Allowed observations above the bound in the window.")


class SeriesTracked(_Criterion):
    kind: Literal["series_tracked"]
    component: str = Field(description="The component that must export the metric.")
    metric: str = Field(description="Metric name as exported.")
    labels: tuple[str, ...] = Field(description="Label names the metric must carry.")


class RetrySuccessRate(_Criterion):
    kind: Literal["retry_success_rate"]
    gauge: PromQL = Field(description="Success-rate gauge (0..1) per error_code and step_type.")
    attempts: PromQL = Field(description="Retry attempts counter, used to weight the per-series rates.")
    minimum: float = Field(gt=0, le=1, description="The weighted rate must be above this.")
    beat_baseline: bool = Field(True, description="Also above the baseline's rate when the baseline has one.")


class RatioBelow(_Criterion):
    kind: Literal["ratio_below"]
    numerator: PromQL = Field(description="PromQL; $W is replaced by the window's range.")
    denominator: PromQL = Field(description="PromQL; $W is replaced by the window's range.")
    maximum: float = Field(description="numerator / denominator must be below this.")
    unit: str = Field("ratio", description="Unit shown with the values.")


class BackoffGrowth(_Criterion):
    kind: Literal["backoff_growth"]
    histogram: str = Field(description="Backoff histogram base name.")
    attempt_label: str = Field(description="Label that numbers the attempt.")
    quantile: float = Field(gt=0, lt=1, description="Quantile compared between attempts (0.5 = median).")
    min_growth: float = Field(gt=1, description="Each attempt's quantile over the previous one, at least.")
    cap_seconds: float = Field(gt=0, description="Backoff cap; growth stops being required once reached.")
    min_attempts: int = Field(2, ge=2, description="Attempts with data needed to judge growth at all.")
    min_samples: int = Field(20, ge=1, description="Between tracks (a canary against the stable track): an attempt "
                             "with fewer backoffs than this is INCONCLUSIVE, not judged on its median.")


class Uptime(_Criterion):
    kind: Literal["uptime"]
    minimum: float = Field(gt=0, le=1, description="avg_over_time(up) per component job, at least.")
    min_coverage: float = Field(gt=0, le=1, description="Share of expected scrapes that must exist.")


class NoRestarts(_Criterion):
    kind: Literal["no_restarts"]
    metric: PromQL = Field(description="Process start time gauge.")


class GracefulDegradation(_Criterion):
    kind: Literal["graceful_degradation"]
    status_metric: PromQL = Field(description="Overload status gauge per pool.")
    critical_value: float = Field(description="Status value meaning critical.")
    rejections: PromQL = Field(description="Queue rejections counter per pool.")
    restarts_metric: PromQL = Field(description="Process start time gauge.")
    vacuous: Literal["pass", "fail"] = Field(description="Verdict when no pool was ever critical.")


class EndpointsExported(_Criterion):
    kind: Literal["endpoints_exported"]


class RequiredMetrics(_Criterion):
    kind: Literal["required_metrics"]


class RequiredLabels(_Criterion):
    kind: Literal["required_labels"]


class TargetsUp(_Criterion):
    kind: Literal["targets_up"]
    jobs: tuple[str, ...] = Field(description="Jobs that must each have active targets, all up.")


class ScrapeSuccess(_Criterion):
    kind: Literal["scrape_success"]
    jobs: tuple[str, ...] = Field(description="Jobs whose up must have been 1 throughout the lookback.")
    lookback: Duration = Field(description="How far back from now to look.")
    limit_counters: tuple[str, ...] = Field(description="Prometheus' own counters of scrapes that hit a limit.")


class RolloutProvenance(_Criterion):
    kind: Literal["rollout_provenance"]
    metric: PromQL = Field("cp2_feature_flag_enabled", description="Flag gauge: 1 on, 0 off, one series per flag.")
    flag_label: str = Field("flag", description="The label that names the flag.")
    wave_flags: tuple[str, ...] = Field(description="Off through the baseline, on through the candidate.")
    always_on: tuple[str, ...] = Field((), description="On through both windows.")
    baseline_without_flags: Literal["no_data", "off"] = Field(
        "no_data", description="A baseline job with no flag series at all (a CP1 binary that does not export "
        "the gauge): no data (fails), or `off` (its Wave 1 flags count as off, said in the evidence).")
    build_info: str = Field("{component}_build_info", description="Build info gauge per component (evidence).")

    @model_validator(mode="after")
    def _flags_named_once(self) -> RolloutProvenance:
        if not self.wave_flags:
            raise ValueError("wave_flags must name at least one flag")
        both = set(self.wave_flags) & set(self.always_on)
        if both:
            raise ValueError(f"{', '.join(sorted(both))} cannot be in both wave_flags and always_on")
        return self


class LabelCardinality(_Criterion):
    kind: Literal["label_cardinality"]
    warn_series: int = Field(gt=0, description="Series per metric that earns a warning.")
    max_series: int = Field(gt=0, description="Series per metric above which the criterion fails.")
    high_cardinality_labels: tuple[str, ...] = Field(description="Allowed only on detailed metrics.")
    forbidden_labels: tuple[str, ...] = Field(description="Allowed on no metric.")


class MetricTypes(_Criterion):
    kind: Literal["metric_types"]


class ExpositionFormat(_Criterion):
    kind: Literal["exposition_format"]
    accepted_lint: tuple[str, ...] = Field(
        (), description="promtool lint rules (e.g. not-snake-case) whose findings are listed as notes, not "
        "violations: for an exporter whose names mirror the kernel's; parse problems are never accepted.")


class LatencyIncrease(_Criterion):
    kind: Literal["latency_increase"]
    histograms: tuple[str, ...] = Field(description="Latency histograms, base names.")
    quantiles: tuple[float, ...] = Field(description="Quantiles compared, e.g. 0.5, 0.95, 0.99.")
    max_increase: float = Field(description="candidate / baseline - 1 must be below this.")
    min_samples: int = Field(200, ge=1, description="Between tracks (a canary against the stable track): fewer "
                             "observations than this on either track is INCONCLUSIVE, whatever the interval says.")


class Throughput(_Criterion):
    kind: Literal["throughput"]
    counters: tuple[str, ...] = Field(description="Counters whose per-second increase is compared.")
    tolerance: float = Field(0.02, ge=0, lt=1, description="Allowed drop below the baseline.")
    min_samples: int = Field(200, ge=1, description="Between tracks (a canary against the stable track): fewer "
                             "observations than this on either track is INCONCLUSIVE, whatever the interval says.")


class EndpointLatency(_Criterion):
    kind: Literal["endpoint_latency"]
    requests: int = Field(5, ge=1, le=50, description="Requests per endpoint; their median is judged.")
    maximum_seconds: float = Field(gt=0, description="The median must be below this.")


class RatioQuery(_Strict):
    numerator: PromQL = Field(description="PromQL; $W is replaced by the window's range.")
    denominator: PromQL = Field(description="PromQL; $W is replaced by the window's range.")


class ErrorRatio(_Criterion):
    kind: Literal["error_ratio"]
    tolerance: float = Field(0.05, ge=0, description="Allowed relative rise over the baseline's ratio.")
    ratios: dict[str, RatioQuery] = Field(description="Error ratio per component.")
    absolute_tolerance: float = Field(0.001, ge=0, lt=1, description="Between tracks: also allowed, in absolute "
                                      "terms (0.001 = 0.1 percentage points), so that a stable track without "
                                      "errors does not make a single canary error a proven violation.")
    min_samples: int = Field(200, ge=1, description="Between tracks (a canary against the stable track): fewer "
                             "observations than this on either track is INCONCLUSIVE, whatever the interval says.")


class PromQLRule(_Criterion):
    """Your own rule: any instant query over the window, judged per series against an absolute bound and/or
    the same series over the baseline window."""

    kind: Literal["promql"]
    query: PromQL = Field(description="PromQL evaluated at the window's end; $W is the window's range "
                          "(e.g. max by (instance) (rate(node_cpu_seconds_total{mode=\"iowait\"}[$W]))).")
    max: float | None = Field(None, description="Every series' value must be at most this.")
    min: float | None = Field(None, description="Every series' value must be at least this.")
    compare: Literal["not_higher", "not_lower"] | None = Field(
        None, description="Also compare each series with the same series over the baseline window: not_higher "
        "(at most baseline × (1 + tolerance)) or not_lower (at least baseline × (1 − tolerance)).")
    tolerance: float = Field(0.0, ge=0, description="Relative tolerance of `compare` (0.05 = 5 %).")
    unit: str = Field("", description="Unit of the values: ratio, seconds, bytes, or any word.")
    expect_labels: tuple[str, ...] = Field((), description="Label names every answered series must carry.")
    min_series: int = Field(1, ge=1, description="Fewer answered series than this is no data: a failure.")

    @model_validator(mode="after")
    def _has_a_rule(self) -> PromQLRule:
        if self.max is None and self.min is None and self.compare is None:
            raise ValueError("give max, min or compare: a promql criterion without a rule could never fail")
        return self


Criterion = Annotated[
    QueueBound | MemoryBound | HistogramTail | SeriesTracked | RetrySuccessRate | RatioBelow | BackoffGrowth
    | Uptime | NoRestarts | GracefulDegradation | EndpointsExported | RequiredMetrics | RequiredLabels
    | TargetsUp | ScrapeSuccess | RolloutProvenance | LabelCardinality | MetricTypes | ExpositionFormat
    | LatencyIncrease | Throughput | EndpointLatency | ErrorRatio | PromQLRule,
    Field(discriminator="kind"),
]
KINDS = tuple(
    model.model_fields["kind"].annotation.__args__[0]  # type: ignore[union-attr]
    for model in _Criterion.__subclasses__()
)


class CriteriaFile(_Strict):
    contract: Path = Field(description="The metrics contract file, relative to this file.")
    criteria: tuple[Criterion, ...] = Field(description="The success criteria.")

    @field_validator("criteria")
    @classmethod
    def _unique_ids(cls, value: tuple[Criterion, ...]) -> tuple[Criterion, ...]:
        seen: set[str] = set()
        for criterion in value:
            if criterion.id in seen:
                raise ValueError(f"criterion id {criterion.id!r} appears twice")
            seen.add(criterion.id)
        return value


class Criteria:
    """The loaded criteria file and its contract."""

    def __init__(self, path: Path, items: Iterable[Criterion], contract: Contract, contract_path: Path):
        self.path = path
        self.items: tuple[Criterion, ...] = tuple(items)
        self.contract = contract
        self.contract_path = contract_path

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.items)

    def of(self, area: str, kind: str) -> list[Criterion]:
        return [c for c in self.items if c.area == area and c.kind == kind]

    def get(self, criterion_id: str) -> Criterion:
        for criterion in self.items:
            if criterion.id == criterion_id:
                return criterion
        raise KeyError(criterion_id)


BUNDLED = Path(__file__).resolve().parent / "bundled" / "wave1.yaml"  # in the wheel: criteria/ as package data


def default_criteria_path(rootdir: Path) -> Path:
    """criteria/wave1.yaml under the rootdir when there is one (a repository laid out like wavegate's); else the
    CP2 Wave 1 criteria shipped with wavegate (package data in a wheel, criteria/ in a source checkout)."""
    beside_package = Path(__file__).resolve().parent.parent / "criteria" / "wave1.yaml"
    for candidate in (rootdir / "criteria" / "wave1.yaml", BUNDLED, beside_package):
        if candidate.is_file():
            return candidate
    raise CriteriaError(f"no criteria/wave1.yaml under {rootdir} and none shipped with wavegate (a broken "
                        "installation?); pass --criteria=PATH")


def load_criteria(path: Path) -> Criteria:
    raw = read_yaml(path, "criteria file")
    if not isinstance(raw, dict):
        raise CriteriaError(f"{path} must be a YAML mapping with `contract` and `criteria`")
    try:
        parsed = CriteriaFile.model_validate(raw)
    except ValidationError as exc:
        raise CriteriaError(_describe_criteria_error(path, raw, exc)) from None
    contract_path = parsed.contract if parsed.contract.is_absolute() else path.parent / parsed.contract
    contract_raw = read_yaml(contract_path, "metrics contract")
    try:
        contract = Contract.model_validate(contract_raw)
    except ValidationError as exc:
        raise CriteriaError(describe_validation_error(str(contract_path), exc)) from None
    return Criteria(path, parsed.criteria, contract, contract_path)


def _describe_criteria_error(path: Path, raw: dict[str, object], error: ValidationError) -> str:
    # pydantic's location is criteria.<index>.<kind>.<field>; show the criterion id a person can find.
    text = describe_validation_error(str(path), error)
    entries = raw.get("criteria")
    if isinstance(entries, list):
        for index, entry in enumerate(entries):
            if isinstance(entry, dict) and "id" in entry:
                for tail in (".", ":"):
                    text = text.replace(f"  criteria.{index}{tail}", f"  criteria[{entry['id']}]{tail}")
    return text
