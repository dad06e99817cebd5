"""Environment files: where Prometheus and the components are, and which windows to judge.

An environment is YAML validated by pydantic; every problem is reported as a ConfigError that names the
file and the field. Windows are resolved to absolute UTC times once, when the file is loaded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from wavegate.durations import format_duration as format_duration
from wavegate.durations import parse_duration as parse_duration
from wavegate.errors import ConfigError
from wavegate.promql import LabelMatcher, PromQLError, equality_matchers, parse_matchers

ModelT = TypeVar("ModelT", bound=BaseModel)


# In the JSON Schema (for editors): a Prometheus duration string such as "15s" or "7d", or seconds.
_DURATION_SCHEMA = {"anyOf": [{"type": "string", "pattern": r"^\s*([0-9]+(\.[0-9]+)?(ms|s|m|h|d|w|y))+\s*$"},
                              {"type": "number", "minimum": 0}],
                    "description": "A duration: 15s, 5m, 7d, 1h30m, or seconds as a number."}
Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)]


def _more_than_zero(value: float) -> float:
    if value <= 0:
        raise ValueError("must be more than zero")
    return value


PositiveDuration = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_more_than_zero),
                             WithJsonSchema(_DURATION_SCHEMA)]


def parse_time(value: object) -> datetime:
    """An RFC 3339 time with an explicit offset (`Z` or `+01:00`), as an aware UTC datetime."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            raise ValueError(f"{value!r} is not an RFC 3339 time such as 2026-11-17T00:00:00Z") from None
    else:
        raise ValueError("a time is an RFC 3339 string such as 2026-11-17T00:00:00Z")
    if parsed.tzinfo is None:
        raise ValueError(f"{value!s} has no UTC offset; add Z (UTC) or +HH:MM so the window is unambiguous")
    return parsed.astimezone(UTC)


Timestamp = Annotated[datetime, BeforeValidator(parse_time)]


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Window:
    """A resolved, absolute time window; queries over it run at `end` with range `seconds`. A track's window also
    carries the track's label matchers, added to every selector of the components' metrics."""

    name: str
    start: datetime
    end: datetime
    matchers: tuple[LabelMatcher, ...] = ()

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def range(self) -> str:
        """The window's length as a PromQL range, e.g. `7d`."""
        return format_duration(self.seconds)

    @property
    def track(self) -> str:
        """The track's matchers as written in PromQL (`track="canary"`), or "" for every series."""
        return ", ".join(m.render() for m in self.matchers)

    def describe(self) -> str:
        shown = f" {{{self.track}}}" if self.matchers else ""
        return f"{self.name}{shown} {format_time(self.start)} .. {format_time(self.end)} ({self.range})"

    def as_dict(self) -> dict[str, object]:
        found: dict[str, object] = {"start": format_time(self.start), "end": format_time(self.end),
                                    "seconds": self.seconds}
        if self.matchers:
            found["track"] = self.track
        return found


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AbsoluteWindow(_Strict):
    start: Timestamp = Field(description="Start of the window, RFC 3339 with offset.")
    end: Timestamp = Field(description="End of the window, RFC 3339 with offset; queries run at this time.")

    @model_validator(mode="after")
    def _ordered(self) -> AbsoluteWindow:
        if self.end <= self.start:
            raise ValueError(f"end ({format_time(self.end)}) must be after start ({format_time(self.start)})")
        return self

    def resolve(self, name: str, now: datetime) -> Window:
        return Window(name, self.start, self.end)


class RelativeWindow(_Strict):
    last: Duration = Field(description="Length of the window, ending `offset` before now (e.g. 7d).")
    offset: Duration = Field(0.0, description="How long before now the window ends (e.g. 7d for the week before).")

    @field_validator("last")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("the window length must be more than zero")
        return value

    def resolve(self, name: str, now: datetime) -> Window:
        end = now - timedelta(seconds=self.offset)
        return Window(name, end - timedelta(seconds=self.last), end)


WindowSpec = AbsoluteWindow | RelativeWindow


class Windows(_Strict):
    baseline: WindowSpec = Field(description="The CP1 baseline window (the week before the deployment).")
    candidate: WindowSpec = Field(description="The candidate window (the week after 100 % rollout).")


class BasicAuth(_Strict):
    username: str = Field(description="User name for HTTP basic authentication.")
    password_env: str = Field(description="Name of the environment variable that holds the password.")


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL such as http://127.0.0.1:9090")
    return value


def _selector(value: object) -> tuple[LabelMatcher, ...]:
    """Label matchers from a mapping (`{env: prod}`, equality) or a PromQL matcher string."""
    if value is None:
        return ()
    try:
        if isinstance(value, dict):
            matchers = equality_matchers(value)
        elif isinstance(value, str):
            matchers = parse_matchers(value)
        else:
            raise ValueError("write label matchers as a mapping ({env: prod}) or a string ('env=\"prod\"')")
    except PromQLError as exc:
        raise ValueError(str(exc)) from None
    for matcher in matchers:
        if matcher.op in ("=~", "!~"):
            try:
                re.compile(matcher.value)
            except re.error as exc:
                raise ValueError(f"{matcher.render()}: not a regular expression ({exc})") from None
        if matcher.name in ("job", "__name__"):
            raise ValueError(f"{matcher.render()}: the gate chooses {matcher.name} itself (a component's job comes "
                             "from components.<name>.job, Prometheus' own from prometheus.job); leave it out")
    return matchers


_SELECTOR_SCHEMA = {"anyOf": [{"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
                              {"type": "string"}],
                    "description": "Label matchers: a mapping ({env: prod}, equality) or PromQL matchers as a string "
                                   "('env=\"prod\", cluster=~\"eu-.*\"')."}
Selector = Annotated[tuple[LabelMatcher, ...], BeforeValidator(_selector), WithJsonSchema(_SELECTOR_SCHEMA)]


def _path_prefix(value: str) -> str:
    """A path prepended to every API path: starts with "/", no query string, no trailing "/"."""
    if value in ("", "/"):
        return ""
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must start with / (e.g. /select/0/prometheus or /prometheus)")
    if "?" in value or "#" in value:
        raise ValueError(f"{value!r}: a path prefix has no query string or fragment; write only the path")
    prefix = value.rstrip("/")
    if prefix.endswith("/api/v1"):
        raise ValueError(f"{value!r}: leave /api/v1 out, the gate adds /api/v1/query etc. itself "
                         f"(write {prefix.removesuffix('/api/v1') or '/'!r})")
    return prefix


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _header_name(value: str) -> str:
    if not _HEADER_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not an HTTP header name (letters, digits and - such as X-Scope-OrgID)")
    return value


class ThanosSettings(_Strict):
    """Query parameters of a Thanos querier, sent with every query and range query only when this section is
    present (a plain Prometheus or VictoriaMetrics gets the requests it always got)."""

    partial_response: bool = Field(
        False, description="Sent as partial_response: false (the default) makes the querier answer an error when a "
        "store does not answer, instead of a partial result; true accepts partial results, which still fail the "
        "criteria that read them on their warnings unless prometheus.allow_warnings is true.")
    dedup: bool | None = Field(
        None, description="Sent as dedup when set: true merges the replicas of an HA pair (by the querier's "
        "--query.replica-label), false keeps them apart; unset (null) leaves the querier's default.")


class PrometheusSettings(_Strict):
    url: str = Field(description="Base URL of any Prometheus-compatible HTTP API.")
    path_prefix: Annotated[str, AfterValidator(_path_prefix)] = Field(
        "", description="Path prepended to every API path (/api/v1/query, /api/v1/targets, ...), e.g. "
        "/select/0/prometheus for a VictoriaMetrics cluster's vmselect or /prometheus for Mimir; starts with /, "
        "no query string. A url that already ends in that path works as well.")
    tenant: str | None = Field(
        None, min_length=1, description="Tenant (organisation) id of a multi-tenant backend (Mimir, Cortex, Thanos "
        "receive, VictoriaMetrics behind vmauth), sent as the tenant_header on every request; not a secret, shown "
        "in the report header.")
    tenant_header: Annotated[str, AfterValidator(_header_name)] = Field(
        "X-Scope-OrgID", description="The HTTP header that carries prometheus.tenant.")
    thanos: ThanosSettings | None = Field(
        None, description="Set when the API is a Thanos querier: its partial_response and dedup query parameters "
        "(partial_response=false by default), e.g. thanos: {dedup: true}; leave out for any other backend.")
    backend: Literal["prometheus", "victoriametrics"] = Field(
        "prometheus", description="Which scraper's own signals the integration criteria read: prometheus (its "
        "/api/v1/targets and prometheus_target_* counters), or victoriametrics (vmagent's /api/v1/targets at "
        "targets_url and its vm_promscrape_* counters; set job to vmagent's scrape job). Queries mean the same "
        "on either; the same criteria ids and thresholds apply.")
    targets_url: str | None = Field(
        None, description="Base URL of the scraper whose /api/v1/targets lists the targets, when it is not the "
        "query API: vmagent's, e.g. http://127.0.0.1:8429. Default: url (plus path_prefix).")
    job: str = Field("prometheus", description="The scrape job of Prometheus itself (of vmagent, with backend: "
                     "victoriametrics).")
    selector: Selector = Field(
        (), description="Label matchers of this environment in a shared Prometheus, added to every selector of "
        "the components' metrics, e.g. {env: prod} or 'env=\"prod\", cluster=~\"eu-.*\"'.")
    self_selector: Selector = Field(
        (), description="Label matchers added to Prometheus' own series (its job's `up`, prometheus_*).")
    scrape_interval: PositiveDuration = Field(15.0, description="Interval the history was scraped at.")
    timeout: PositiveDuration = Field(30.0, description="Deadline of one whole HTTP request to Prometheus.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers sent with every request "
                                    "(a tenant id is better set as prometheus.tenant).")
    bearer_token_env: str | None = Field(None, description="Environment variable holding a bearer token.")
    basic_auth: BasicAuth | None = Field(None, description="HTTP basic authentication, password from the env.")
    ca_file: Path | None = Field(None, description="CA bundle for TLS verification (verified by default).")
    allow_warnings: bool = Field(False, description="Accept answers that carry Prometheus warnings, including "
                                 "partial answers (warnings, or VictoriaMetrics' isPartial: true); they still "
                                 "show in the evidence.")
    retries: int = Field(3, ge=0, le=10, description="Retries of a transport error (reset, 502/503/504, timeout).")
    max_concurrency: int = Field(
        4, ge=1, le=32, description="Requests to Prometheus in flight at once: the criteria's queries are sent "
        "concurrently up to this bound, so a shared backend is never flooded; 1 sends them one at a time.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _check_http_url(value)

    @field_validator("targets_url")
    @classmethod
    def _targets_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_http_url(value).rstrip("/")

    @model_validator(mode="after")
    def _one_tenant(self) -> PrometheusSettings:
        # headers: {X-Scope-OrgID: a} and tenant: b would send one of them silently; refuse to guess.
        if self.tenant is None:
            return self
        for name, value in self.headers.items():
            if name.lower() == self.tenant_header.lower() and value != self.tenant:
                raise ValueError(
                    f"prometheus.tenant ({self.tenant!r}) and prometheus.headers.{name} ({value!r}) name different "
                    f"tenants in the same {self.tenant_header} header; keep only prometheus.tenant")
        return self

    @property
    def api_base(self) -> str:
        """The URL the API paths are appended to: url plus path_prefix (a url already ending in the prefix kept)."""
        parts = urlsplit(self.url)
        path = parts.path.rstrip("/")
        if self.path_prefix and not path.endswith(self.path_prefix):
            path += self.path_prefix
        return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))

    def describe_backend(self) -> str:
        """The cluster conventions in use, e.g. `tenant team-a (X-Scope-OrgID); thanos partial_response=false`."""
        parts = []
        if self.tenant is not None:
            parts.append(f"tenant {self.tenant} ({self.tenant_header})")
        if self.thanos is not None:
            params = ", ".join(f"{k}={v}" for k, v in thanos_params(self.thanos).items())
            parts.append(f"thanos {params}")
        return "; ".join(parts)


def thanos_params(thanos: ThanosSettings | None) -> dict[str, str]:
    """The query parameters a Thanos querier is sent with each query (none for another backend)."""
    if thanos is None:
        return {}
    params = {"partial_response": str(thanos.partial_response).lower()}
    if thanos.dedup is not None:
        params["dedup"] = str(thanos.dedup).lower()
    return params


class ComponentSettings(_Strict):
    metrics_url: str | dict[str, str] = Field(
        description="The component's Prometheus /metrics URL, or several by name (one per track or instance, e.g. "
        "{stable: http://…/metrics, canary: http://…/metrics}): each one is checked.")
    job: str = Field(description="The Prometheus scrape job of the component.")
    timeout: Duration = Field(10.0, description="Deadline of one whole scrape of metrics_url.")
    max_bytes: int = Field(128 << 20, gt=0, description="Largest /metrics body read (bytes); a bigger one fails "
                                                        "the criteria that read it, naming the size.")

    @field_validator("metrics_url")
    @classmethod
    def _http_url(cls, value: str | dict[str, str]) -> str | dict[str, str]:
        if isinstance(value, dict):
            if not value:
                raise ValueError("name at least one URL")
            for name, url in value.items():
                if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
                    raise ValueError(f"{name!r}: name each URL with letters, digits, _ . or - (e.g. stable, canary)")
                _check_http_url(url)
            return value
        return _check_http_url(value)

    @property
    def urls(self) -> dict[str, str]:
        """The /metrics URLs by name; one unnamed URL is named ""."""
        return dict(self.metrics_url) if isinstance(self.metrics_url, dict) else {"": self.metrics_url}


class Comparison(_Strict):
    """What is compared with what: two time windows (the default), or two tracks in one window."""

    mode: Literal["windows", "concurrent"] = Field(
        "windows", description="windows: the baseline window against the candidate window (every series of the "
        "environment in each). concurrent: one window, the baseline track (stable) against the candidate track "
        "(canary), told apart by the label matchers below.")
    baseline: Selector = Field((), description="Label matchers of the baseline (stable) track, e.g. {track: stable}.")
    candidate: Selector = Field((), description="Label matchers of the candidate (canary) track, e.g. {track: canary}.")
    confidence: float = Field(0.95, ge=0.5, lt=1.0, description="Confidence of the intervals that judge the "
                                                                 "relative criteria between tracks.")

    @model_validator(mode="after")
    def _tracks(self) -> Comparison:
        if self.mode == "concurrent" and (not self.baseline or not self.candidate):
            raise ValueError("mode concurrent needs the label matchers of both tracks: baseline: {track: stable} "
                             "and candidate: {track: canary}")
        if self.baseline and self.baseline == self.candidate:
            raise ValueError("baseline and candidate name the same series; the canary would be compared with itself")
        return self


class ReportSettings(_Strict):
    """Inputs of the deployment report that only the environment knows: where the CP1 profile ran, its logs."""

    run_cp1_profile_log: Path | None = Field(
        None, description="run_cp1_profile.sh's log, where it ran for this environment (relative: to this file).")
    validate_metrics_log: Path | None = Field(
        None, description="validate_metrics.sh's log, where it ran for this environment (relative: to this file).")


class EnvironmentModel(_Strict):
    prometheus: PrometheusSettings = Field(description="Where to query history.")
    components: dict[str, ComponentSettings] = Field(description="router, gateway and worker endpoints.")
    windows: Windows | None = Field(None, description="Baseline and candidate windows.")
    comparison: Comparison = Field(default_factory=lambda: Comparison.model_validate({}),
                                   description="Two windows (default) or two tracks in one window (a canary).")
    windows_file: Path | None = Field(
        None, description="JSON state file with `windows` (written by run_cp1_profile.sh); overrides `windows`."
    )
    run_budget: PositiveDuration = Field(
        300.0, description="The whole run's time budget: past it no more requests are made and the remaining "
        "criteria are ERROR, naming it; the run still writes its results.")
    report: ReportSettings = Field(ReportSettings(run_cp1_profile_log=None, validate_metrics_log=None),
                                   description="Inputs of the deployment report (the CP1 profile's logs).")

    @field_validator("components")
    @classmethod
    def _some_components(cls, value: dict[str, ComponentSettings]) -> dict[str, ComponentSettings]:
        # Which components are required is the contract's to say (router, gateway and worker for CP2 Wave 1);
        # the gate checks that once both files are loaded.
        if not value:
            raise ValueError("name at least one component (the contract's components: router, gateway and worker "
                             "for CP2 Wave 1)")
        return value


@dataclass(frozen=True)
class Environment:
    """A loaded environment: the validated settings plus its name, file and resolved windows."""

    name: str
    path: Path
    model: EnvironmentModel
    baseline: Window
    candidate: Window
    phases: dict[str, Any] | None = None  # what the windows_file says ran in each window (flags, regression)
    mode: str = "windows"  # windows, or concurrent: both tracks in the candidate window
    stage: float | None = None  # the rollout stage (percent of traffic on the candidate), when one is named

    @property
    def concurrent(self) -> bool:
        return self.mode == "concurrent"

    @property
    def tracks(self) -> bool:
        """Whether baseline and candidate are told apart by label matchers (a canary and a stable track)."""
        return bool(self.candidate.matchers)

    @property
    def fleet(self) -> Window:
        """The candidate window with every series of the environment (both tracks): absolute criteria judge the
        canary and the whole fleet."""
        return Window("fleet", self.candidate.start, self.candidate.end)

    @property
    def confidence(self) -> float:
        return self.model.comparison.confidence

    def describe_stage(self) -> str:
        return f"stage {self.stage:g} %" if self.stage is not None else ""

    @property
    def prometheus(self) -> PrometheusSettings:
        return self.model.prometheus

    @property
    def components(self) -> dict[str, ComponentSettings]:
        return self.model.components

    @property
    def redacted_url(self) -> str:
        return redact_url(self.model.prometheus.api_base)


def redact_url(url: str) -> str:
    """The URL with any user:password part and every query value replaced by ***, safe for reports and logs."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.username is not None or parts.password is not None:
        host = parts.hostname or ""
        netloc = f"***@{host}:{parts.port}" if parts.port else f"***@{host}"
    query = "&".join(f"{pair.split('=', 1)[0]}=***" if "=" in pair else pair
                     for pair in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")


def redact_text(text: str) -> str:
    """`text` with every URL in it redacted as redact_url does (error texts from Prometheus quote the URLs
    they scraped, query tokens and all)."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


def describe_validation_error(source: str, error: ValidationError) -> str:
    lines = [f"{source} is invalid:"]
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (check its spelling and indentation)"
        lines.append(f"  {field}: {message}")
    return "\n".join(lines)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key written twice in one mapping (YAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is written twice (lines {seen[key]} and {line}); YAML would "
                    "keep only the last one: remove one", key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None


def read_model(path: Path, what: str, model: type[ModelT], keys: str) -> ModelT:
    """A YAML file validated by `model`; any problem is a ConfigError naming the file and the field."""
    raw = read_yaml(path, what)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a YAML mapping with {keys}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(str(path), exc)) from None


def parse_window_option(name: str, text: str) -> WindowSpec:
    """A window from the command line: `START/END` (RFC 3339) or `last=7d[,offset=7d]`."""
    try:
        if "/" in text:
            start, end = text.split("/", 1)
            return AbsoluteWindow(start=start, end=end)  # type: ignore[arg-type]
        fields = dict(part.split("=", 1) for part in text.split(",") if part)
        return RelativeWindow(**fields)  # type: ignore[arg-type]
    except (ValidationError, ValueError) as exc:
        detail = describe_validation_error(f"--{name}", exc) if isinstance(exc, ValidationError) else str(exc)
        raise ConfigError(
            f"--{name}={text!r}: {detail}\n  write START/END (2026-11-17T00:00:00Z/2026-11-24T00:00:00Z) "
            "or last=7d[,offset=7d]"
        ) from None


def load_environment(
    path: Path,
    *,
    name: str | None = None,
    now: datetime | None = None,
    baseline: WindowSpec | None = None,
    candidate: WindowSpec | None = None,
    mode: str | None = None,
    stage: float | None = None,
    confidence: float | None = None,
) -> Environment:
    """Load and validate an environment file; command-line windows (and comparison mode) override the file's."""
    model = read_model(path, "environment file", EnvironmentModel, "prometheus, components and windows")
    windows, phases = model.windows, None
    if model.windows_file is not None:
        windows, phases = _windows_from_state(path, model.windows_file)
    now = now or datetime.now(UTC)
    if confidence is not None:
        model = model.model_copy(update={"comparison": model.comparison.model_copy(update={"confidence": confidence})})
    comparison = model.comparison
    mode = mode or comparison.mode
    if mode == "concurrent" and not comparison.candidate:
        raise ConfigError(f"{path}: comparison: --comparison=concurrent needs the label matchers of both tracks in "
                          "the environment file: comparison: {baseline: {track: stable}, candidate: {track: canary}}")
    chosen_candidate = candidate or (windows.candidate if windows else None)
    chosen_baseline = chosen_candidate if mode == "concurrent" else baseline or (windows.baseline if windows else None)
    if chosen_baseline is None or chosen_candidate is None:
        needed = "--candidate (concurrent mode judges both tracks in it)" if mode == "concurrent" else \
            "--baseline and --candidate"
        raise ConfigError(f"{path}: windows: no baseline/candidate window; add `windows:` to the file or pass {needed}")
    if mode == "concurrent" and baseline is not None:
        raise ConfigError("--baseline: the concurrent comparison judges both tracks in the candidate window; leave "
                          "--baseline out, or pass --comparison=windows to compare the stable track's window "
                          "with the canary's")
    resolved_baseline = chosen_baseline.resolve("baseline", now)
    resolved_candidate = chosen_candidate.resolve("candidate", now)
    resolved_baseline = Window("baseline", resolved_baseline.start, resolved_baseline.end, comparison.baseline)
    resolved_candidate = Window("candidate", resolved_candidate.start, resolved_candidate.end, comparison.candidate)
    _check_windows(path, resolved_baseline, resolved_candidate, now, concurrent=mode == "concurrent")
    if stage is not None and not 0 < stage <= 100:
        raise ConfigError(f"--stage={stage:g}: the stage is the canary's share of the traffic in percent, "
                          "more than 0 and at most 100")
    return Environment(
        name=name or path.stem,
        path=path,
        model=model,
        baseline=resolved_baseline,
        candidate=resolved_candidate,
        # Recorded phases describe the recorded windows only; an overridden window drops them.
        phases=phases if baseline is None and candidate is None else None,
        mode=mode,
        stage=stage,
    )


def _check_windows(path: Path, baseline: Window, candidate: Window, now: datetime, *,
                   concurrent: bool = False) -> None:
    # Overlapping or swapped windows would compare the candidate with itself and pass every comparison (two
    # tracks in one window are told apart by their matchers instead); a window that has not ended yet would
    # judge data that is still coming in.
    if not concurrent and baseline.end > candidate.start:
        raise ConfigError(
            f"{path}: windows: the baseline ({baseline.describe()}) must end before the candidate starts "
            f"({candidate.describe()}); for relative windows give the baseline an offset, e.g. "
            "baseline: {last: 7d, offset: 7d}"
        )
    for window in (baseline, candidate):
        if window.end > now + timedelta(seconds=1):
            raise ConfigError(
                f"{path}: windows.{window.name}: {window.describe()} ends in the future (now is "
                f"{format_time(now)}); judge a window only once it is over"
            )


def _windows_from_state(env_path: Path, state: Path) -> tuple[Windows, dict[str, Any] | None]:
    state_path = state if state.is_absolute() else (env_path.parent / state).resolve()
    try:
        raw = json.loads(state_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{env_path}: windows_file: {state_path} does not exist; run scripts/run_cp1_profile.sh first "
            "(it records the baseline and candidate windows there)"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{env_path}: windows_file: cannot read {state_path}: {exc}") from None
    phases = raw.get("phases") if isinstance(raw, dict) and isinstance(raw.get("phases"), dict) else None
    try:
        return Windows.model_validate(raw.get("windows") if isinstance(raw, dict) else None), phases
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(f"{state_path} (windows_file of {env_path})", exc)) from None
