"""A small Prometheus HTTP API client: instant queries, targets, TSDB status; bounded retries on transport errors.

Transport errors (connection refused or reset, timeouts, 502/503/504) are retried with backoff; a 4xx, a
query error or a malformed answer never is. The first unreachable answer makes the client "down", so every
later call fails at once instead of waiting for its own timeout.

One client serves one gate run: each distinct request (path and parameters, e.g. a query and its time) is
sent once and its answer, or its failure, shared by every criterion that asks it, from any thread; at most
`prometheus.max_concurrency` requests are in flight at a time. Raw samples (a week of them can be hundreds of
MB once parsed) are parsed one answer at a time while the next is fetched, packed straight from their JSON, and
kept up to RAW_KEPT_BYTES.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from array import array
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from wavegate import transport
from wavegate.errors import ConfigError, EvaluationError, PartialAnswer, PrometheusUnavailable, QueryFailed
from wavegate.samples import Samples, increasing
from wavegate.settings import PrometheusSettings, format_duration, format_time, redact_url, thanos_params

_RETRY_STATUS = {502, 503, 504}
# A file to which every request actually sent is appended, one JSON line each (path, params): lets a benchmark
# replay exactly the gate's requests. Unset = nothing is written.
REQUEST_LOG_ENV = "WAVEGATE_REQUEST_LOG"
_Key = tuple[str, str, tuple[tuple[str, str], ...]]
# Raw samples kept for the run, packed at 16 bytes a sample (a week of a series at 15 s is 0.6 MB): enough for
# the raw reads of a gate run, which two criteria may share; beyond it, a raw read asked again is sent again.
RAW_KEPT_BYTES = 96 << 20


@dataclass(frozen=True)
class Series:
    """One element of an instant vector: its labels and value (NaN and ±Inf kept as floats)."""

    labels: Mapping[str, str]
    value: float

    def describe(self) -> str:
        name = self.labels.get("__name__", "")
        inner = ", ".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()) if k != "__name__")
        return f"{name}{{{inner}}}"


@dataclass(frozen=True)
class QueryResult:
    """The answer to one instant query, with what is needed to show it as evidence."""

    query: str
    time: datetime
    series: tuple[Series, ...]
    warnings: tuple[str, ...] = ()
    raw: Any = field(default=None, repr=False, compare=False)

    def scalar(self) -> float | None:
        """The single value of a one-element vector or scalar; None when the result is empty."""
        if not self.series:
            return None
        if len(self.series) > 1:
            raise QueryFailed(
                f"expected one value from `{self.query}` at {format_time(self.time)}, got {len(self.series)} "
                "series; aggregate the expression (e.g. sum(...))"
            )
        return self.series[0].value

    def by(self, label: str) -> dict[str, float]:
        return {s.labels.get(label, ""): s.value for s in self.series}

    def evidence(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "time": format_time(self.time),
            "result": [{"labels": dict(s.labels), "value": _json_float(s.value)} for s in self.series],
            "warnings": list(self.warnings),
        }


def _json_float(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def _time_mismatch(query: str, answered: float, asked: datetime) -> str:
    def exact(moment: datetime) -> str:  # milliseconds: a dropped `time` is often less than a second off
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    return (f"Prometheus answered `{query}` for {exact(datetime.fromtimestamp(answered, UTC))}, not for the "
            f"requested {exact(asked)}: something between the gate and Prometheus (a proxy, a gateway) drops "
            "or rewrites the `time` parameter, so the windows cannot be told apart; check prometheus.url in the "
            "environment file")


def _check_time(raw: Any, asked: datetime, query: str) -> None:
    """Every instant-query sample carries the evaluation time: it must be the time asked for."""
    try:
        answered = float(raw[0])
    except (TypeError, ValueError, IndexError):
        raise QueryFailed(f"Prometheus returned a malformed sample {raw!r} for `{query}`") from None
    if abs(answered - round(asked.timestamp(), 3)) > 0.0015:
        raise QueryFailed(_time_mismatch(query, answered, asked))


def _parse_value(raw: Any, query: str) -> float:
    try:
        return float(raw[1])
    except (TypeError, ValueError, IndexError):
        raise QueryFailed(f"Prometheus returned a malformed sample {raw!r} for `{query}`") from None


@dataclass(frozen=True)
class RangeSeries:
    """One series of a range query: its labels and (unix seconds, value) points in time order (raw samples as a
    Samples view of their arrays)."""

    labels: Mapping[str, str]
    points: Sequence[tuple[float, float]]

    def label_text(self, keys: tuple[str, ...] = ()) -> str:
        shown = keys or tuple(sorted(k for k in self.labels if k != "__name__"))
        return ", ".join(self.labels.get(k, "") for k in shown) or "all"


@dataclass(frozen=True)
class _Packed:
    """A raw-sample answer packed: per series its labels and two arrays of float64 (times, values)."""

    series: tuple[tuple[Mapping[str, str], array[float], array[float]], ...]
    warnings: tuple[str, ...]
    # Per series whether its times are finite and strictly increase (as a backend returns them), found once for
    # every reader.
    rising: tuple[bool, ...]

    @property
    def size(self) -> int:
        return sum(16 * len(times) for _, times, _ in self.series)

    def unpack(self) -> tuple[list[RangeSeries], tuple[str, ...]]:
        return [RangeSeries(labels, Samples(times, values, rising=known))
                for (labels, times, values), known in zip(self.series, self.rising, strict=True)], self.warnings


class PrometheusClient:
    """Talks to one Prometheus-compatible API as configured in the environment's `prometheus:` section."""

    def __init__(
        self,
        settings: PrometheusSettings,
        *,
        session: requests.Session | None = None,
        backoff: float = 0.5,
        source: str = "the environment file",
    ) -> None:
        self.settings = settings
        self.base = settings.api_base
        self.backoff = backoff
        self.session = session or requests.Session()
        self.session.headers.update(settings.headers)
        if settings.tenant is not None:
            self.session.headers[settings.tenant_header] = settings.tenant
        # Sent with queries only: Thanos' partial_response/dedup; nothing for any other backend.
        self._query_params = thanos_params(settings.thanos)
        # Passed with each request: a session-wide setting would lose to REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE.
        self._verify: bool | str = str(settings.ca_file) if settings.ca_file else True
        self.budget: transport.Budget | None = None  # the run's time budget, set by the gate's context
        self._down: PrometheusUnavailable | None = None
        # The run's answers by request, as futures: a second asker waits for the first one's answer.
        self._answers: dict[_Key, Future[Any]] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(settings.max_concurrency)
        # Raw-sample answers: one parsed at a time, so memory stays bounded, while the next one is fetched.
        self._raw_ahead = threading.BoundedSemaphore(2)
        self._raw_reads = threading.Lock()
        self._raw_kept = 0  # bytes of raw samples read so far, packed
        self._log = os.environ.get(REQUEST_LOG_ENV) or None
        if settings.bearer_token_env:
            token = os.environ.get(settings.bearer_token_env)
            if not token:
                raise ConfigError(
                    f"prometheus.bearer_token_env in {source} names {settings.bearer_token_env}, which is not "
                    "set; export it with the token before running the gate"
                )
            self.session.headers["Authorization"] = f"Bearer {token}"
        if settings.basic_auth:
            password = os.environ.get(settings.basic_auth.password_env)
            if not password:  # like the token: an empty secret is a mistake, not a password
                raise ConfigError(
                    f"prometheus.basic_auth.password_env in {source} names {settings.basic_auth.password_env}, "
                    "which is not set or empty; export it with the password before running the gate"
                )
            self.session.auth = (settings.basic_auth.username, password)

    @property
    def display_url(self) -> str:
        return redact_url(self.base)

    @property
    def verify(self) -> bool | str:
        """TLS verification for a request to Prometheus: the configured CA file, else the system's."""
        return self._verify

    # -- once per run ----------------------------------------------------------------------------------
    def _once(self, kind: str, path: str, params: Mapping[str, str] | None, compute: Callable[[], Any], *,
              keep: bool = True) -> Any:
        """`compute()` for the first asker of this request (`kind` names what is made of the answer); every later
        asker, in any thread, gets the same result or the same failure (EvaluationError) without a request;
        unless `keep` is false: then only those who asked before the answer came share it."""
        key = (kind, path, tuple(sorted((params or {}).items())))
        with self._lock:
            answer = self._answers.get(key)
            first = answer is None
            if answer is None:
                answer = self._answers[key] = Future()
        if first:
            try:
                answer.set_result(compute())
            except EvaluationError as exc:
                answer.set_exception(exc)
                # Unreachable or out of budget is the run's state, not this request's answer: later askers
                # fail at once on it (see _get, transport.Budget), each with its own words.
                keep = keep and not isinstance(exc, PrometheusUnavailable | transport.BudgetSpent)
            except BaseException:
                # Not an answer (a bug, an interrupt): forget it, so that the next asker tries for itself.
                with self._lock:
                    del self._answers[key]
                answer.set_exception(QueryFailed(f"the request for {path} was interrupted"))
                raise
            if not keep:
                with self._lock:
                    del self._answers[key]
        return answer.result()

    def _record(self, path: str, params: Mapping[str, str] | None) -> None:
        """Append one request actually sent to the request log (see REQUEST_LOG_ENV)."""
        if self._log is None:
            return
        line = json.dumps({"path": path, "params": dict(params or {})}, sort_keys=True)
        with self._lock, open(self._log, "a", encoding="utf-8") as log:
            log.write(line + "\n")

    # -- transport -------------------------------------------------------------------------------------
    def _get(self, path: str, params: Mapping[str, str] | None = None, *, base: str | None = None) -> Any:
        return self._decode(self._response(path, params, base=base), path)

    def _response(self, path: str, params: Mapping[str, str] | None = None, *,
                  base: str | None = None) -> requests.Response:
        """The answer to a GET, its whole body read, after the retries; decoded by _decode."""
        if self._down is not None:
            raise PrometheusUnavailable(f"{self._down} (not retried: Prometheus was already unreachable)")
        url = f"{base or self.base}{path}"
        attempts = self.settings.retries + 1
        last = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
                if self._down is not None:  # another thread found it unreachable meanwhile
                    raise PrometheusUnavailable(f"{self._down} (not retried: Prometheus was already unreachable)")
            try:
                with self._slots:  # a small bounded number in flight: a shared backend is never flooded
                    self._record(path, params)
                    response = transport.get(self.session, url, params=params, timeout=self.settings.timeout,
                                             verify=self._verify, budget=self.budget)
            except transport.BudgetSpent:
                raise
            except transport.TransportFailed as exc:
                if exc.retryable:
                    last = exc.reason
                    continue
                raise PrometheusUnavailable(f"{exc}{self._hint(str(exc))}") from None
            if response.status_code in _RETRY_STATUS:
                # A querier that refuses a partial answer may say so with a 503: that is no outage to wait out.
                _refuse_partial(_api_error(response), response.status_code, f"{self.display_url}{path}")
                last = f"HTTP {response.status_code}"
                continue
            return response
        if base is not None:  # the scraper (vmagent) is down, not the query API: later queries still go
            raise PrometheusUnavailable(f"the scraper's API at {redact_url(base)} is unreachable ({last} after "
                                        f"{attempts} attempts); check prometheus.targets_url in the environment file "
                                        "and that vmagent is running")
        self._down = self._down or PrometheusUnavailable(
            f"Prometheus at {self.display_url} is unreachable ({last} after {attempts} attempts); check "
            "prometheus.url in the environment file and that Prometheus is running"
        )
        raise self._down

    def _hint(self, message: str) -> str:
        if message.startswith("TLS"):
            if self.settings.ca_file:
                return f"; the CA bundle in prometheus.ca_file ({self.settings.ca_file}) does not verify it"
            return "; set prometheus.ca_file to the CA bundle that signed its certificate"
        return "; check prometheus.url in the environment file"

    def _decode(self, response: requests.Response, path: str) -> Any:
        where = f"{self.display_url}{path}"
        if response.status_code in (401, 403) or _refused_credentials(response):
            raise QueryFailed(f"{where} answered HTTP {response.status_code}{_quoted(response)}: "
                              f"{self._access_hint(response)}")
        if response.status_code == 404:
            raise QueryFailed(f"{where} answered HTTP 404{_quoted(response)}: there is no Prometheus API at this "
                              f"path; {self._path_hint()}")
        try:
            body = response.json()
        except ValueError:
            snippet = _without_credentials(response.text[:200].replace("\n", " "))
            raise QueryFailed(
                f"{where} answered HTTP {response.status_code} with something that is not JSON: {snippet!r}; "
                "is prometheus.url the API base of a Prometheus server?"
            ) from None
        if not isinstance(body, dict) or "status" not in body:
            raise QueryFailed(f"{where} answered JSON without a status field; is it a Prometheus API?")
        if body["status"] != "success":
            _refuse_partial(body, response.status_code, where)
            raise QueryFailed(
                f"{where} answered HTTP {response.status_code} {body.get('errorType', 'error')}: "
                f"{body.get('error', 'no error text')}"
            )
        return body

    def _access_hint(self, response: requests.Response) -> str:
        settings = self.settings
        if "org id" in response.text.lower() or "tenant" in response.text.lower():
            if settings.tenant is None:
                return (f"the backend is multi-tenant and needs a tenant id: set prometheus.tenant (sent as "
                        f"{settings.tenant_header}) in the environment file")
            return (f"check prometheus.tenant ({settings.tenant!r}, sent as {settings.tenant_header}) and "
                    "prometheus.tenant_header")
        tenant = (f" and prometheus.tenant ({settings.tenant!r}, sent as {settings.tenant_header})"
                  if settings.tenant is not None else
                  " (a multi-tenant backend such as Mimir or Cortex also needs prometheus.tenant)")
        return f"check prometheus.bearer_token_env / basic_auth{tenant}"

    def _path_hint(self) -> str:
        prefix = self.settings.path_prefix
        if prefix:
            return (f"check prometheus.path_prefix ({prefix!r}) and prometheus.url in the environment file (the "
                    "gate asks url + path_prefix + /api/v1/...)")
        return ("check prometheus.url in the environment file; a backend that serves the API under a prefix "
                "needs prometheus.path_prefix (e.g. /select/0/prometheus for vmselect, /prometheus for Mimir)")

    def _warnings(self, body: Any, where: str) -> tuple[str, ...]:
        """The answer's warnings, plus one for VictoriaMetrics' `isPartial: true` (a vmstorage node did not
        answer): both say the data may be incomplete."""
        warnings = [str(w) for w in body.get("warnings") or ()]
        if body.get("isPartial") is True:
            warnings.append(f"partial answer: {where} answered with isPartial: true (a storage node did not "
                            "answer), so the data is incomplete")
        return tuple(warnings)

    def _whole(self, body: Any, where: str) -> Any:
        """The body of an answer the gate reads outside a criterion's queries (targets, TSDB status): a partial
        one is an error unless prometheus.allow_warnings accepts it."""
        self._refuse_incomplete(self._warnings(body, where), where)
        return body

    def _refuse_incomplete(self, warnings: tuple[str, ...], where: str) -> None:
        if warnings and not self.settings.allow_warnings:
            raise PartialAnswer(f"{where} answered partially or with warnings: {'; '.join(warnings)}; the answer "
                                "may be incomplete, so it is not used: bring back the part that did not answer, or "
                                "set prometheus.allow_warnings: true in the environment file if that is acceptable")

    # -- API ---------------------------------------------------------------------------------------------
    def check_ready(self) -> None:
        """Fail fast if Prometheus is not answering its API (one cheap query)."""
        self.query("vector(1)", datetime.now().astimezone())

    def query(self, promql: str, at: datetime) -> QueryResult:
        """Run an instant query at time `at` and return its vector (or scalar as a one-element vector)."""
        params = {"query": promql, "time": f"{at.timestamp():.3f}", **self._query_params}
        result: QueryResult = self._once("vector", "/api/v1/query", params,
                                         lambda: self._vector(self._get("/api/v1/query", params), promql, at))
        return result

    def _vector(self, body: Any, promql: str, at: datetime) -> QueryResult:
        data = body.get("data")
        if not isinstance(data, dict) or "resultType" not in data:
            raise QueryFailed(f"Prometheus answered `{promql}` without data.resultType")
        kind, result = data["resultType"], data.get("result")
        series: list[Series] = []
        if kind == "vector" and isinstance(result, list):
            for item in result:
                labels = item.get("metric", {}) if isinstance(item, dict) else None
                if not isinstance(labels, dict):
                    raise QueryFailed(f"Prometheus returned a malformed vector element for `{promql}`")
                _check_time(item.get("value"), at, promql)
                series.append(Series(labels, _parse_value(item.get("value"), promql)))
        elif kind == "scalar":
            _check_time(result, at, promql)
            series.append(Series({}, _parse_value(result, promql)))
        else:
            raise QueryFailed(f"`{promql}` returned a {kind}; the gate expects an instant vector or scalar")
        warnings = self._warnings(body, f"{self.display_url}/api/v1/query")
        return QueryResult(promql, at, tuple(series), warnings, raw=body)

    def samples(self, selector: str, range_seconds: float, at: datetime) -> tuple[list[RangeSeries], tuple[str, ...]]:
        """The raw samples of `selector` in [at - range, at] (a range-vector instant query: the real sample
        timestamps, staleness markers left out, ordinary NaN kept), and Prometheus' warnings."""
        promql = f"{selector}[{format_duration(range_seconds)}]"
        params = {"query": promql, "time": f"{at.timestamp():.3f}", **self._query_params}

        def read() -> _Packed:
            with self._raw_ahead:  # Prometheus evaluates the next raw read while this process parses one
                response = self._response("/api/v1/query", params)
                with self._raw_reads:
                    body = self._decode(response, "/api/v1/query")
                    del response  # the bytes, before the samples are packed
                    packed = self._raw(body, promql, at)
            with self._lock:
                self._raw_kept += packed.size
            return packed

        found: _Packed = self._once("matrix", "/api/v1/query", params, read, keep=self._room_for_raw())
        return found.unpack()

    def _room_for_raw(self) -> bool:
        """Whether one more raw-sample answer is kept for the run: up to RAW_KEPT_BYTES of them, packed."""
        with self._lock:
            return self._raw_kept < RAW_KEPT_BYTES

    def _raw(self, body: Any, promql: str, at: datetime) -> _Packed:
        """A raw-sample answer packed straight from its JSON (no pair of Python floats per sample on the way)."""
        series = [(labels, *_arrays(values, promql)) for labels, values in _elements(body, promql)]
        latest = max((times[-1] for _, times, _ in series if times), default=None)
        if latest is not None and latest > at.timestamp() + 0.0015:
            raise QueryFailed(_time_mismatch(promql, latest, at))
        return _Packed(tuple(series), self._warnings(body, f"{self.display_url}/api/v1/query"),
                       tuple(increasing(times) for _, times, _ in series))

    def query_range(self, promql: str, start: datetime, end: datetime, step: float) -> list[RangeSeries]:
        """Evaluate `promql` every `step` seconds from `start` to `end`; NaN and ±Inf samples are kept. A partial
        answer is an error unless prometheus.allow_warnings accepts it (the report's graphs and tables)."""
        body = self._get(
            "/api/v1/query_range",
            {
                "query": promql,
                "start": f"{start.timestamp():.3f}",
                "end": f"{end.timestamp():.3f}",
                "step": f"{step:g}",
                **self._query_params,
            },
        )
        return self._matrix(self._whole(body, f"{self.display_url}/api/v1/query_range"), promql)

    def _matrix(self, body: Any, promql: str) -> list[RangeSeries]:
        return [RangeSeries(labels, _points(values, promql)) for labels, values in _elements(body, promql)]

    def targets(self) -> list[dict[str, Any]]:
        """The active targets; a partial answer is an error unless prometheus.allow_warnings accepts it."""
        found, warnings = self.targets_answer()
        self._refuse_incomplete(warnings, f"{self.display_url}/api/v1/targets")
        return found

    def targets_answer(self) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        """The active targets and the answer's warnings (a partial answer among them), for a check to judge."""
        # The scraper's targets: Prometheus' own, or vmagent's (prometheus.targets_url) in front of VictoriaMetrics.
        base = self.settings.targets_url
        where = f"{redact_url(base) if base else self.display_url}/api/v1/targets"
        params = {"state": "active"}
        body = self._once("json", f"{base or ''}/api/v1/targets", params,
                          lambda: self._get("/api/v1/targets", params, base=base))
        active = (body.get("data") or {}).get("activeTargets")
        if not isinstance(active, list):
            raise QueryFailed(f"{where} answered without data.activeTargets")
        return [t for t in active if isinstance(t, dict)], self._warnings(body, where)

    def tsdb_status(self) -> dict[str, Any]:
        where = f"{self.display_url}/api/v1/status/tsdb"
        body = self._once("json", "/api/v1/status/tsdb", None,
                          lambda: self._whole(self._get("/api/v1/status/tsdb"), where))
        data = body.get("data")
        return data if isinstance(data, dict) else {}


# What a Thanos querier says when partial_response=false and a store did not answer, or when no store
# matched; any error text that names a partial response.
_PARTIAL_ERROR = re.compile(r"partial[ _]response|receive series from|fetch series for|no storeapis matched|"
                            r"store(api)? .{0,40}unavailable|unavailable store", re.IGNORECASE)


def _api_error(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _refuse_partial(body: Any, status: int, where: str) -> None:
    """Raise PartialAnswer when an error answer says the backend could only have answered partially."""
    if not isinstance(body, dict) or body.get("status") != "error":
        return
    text = str(body.get("error", ""))
    if _PARTIAL_ERROR.search(text):
        raise PartialAnswer(
            f"{where} refused a partial answer (HTTP {status} {body.get('errorType', 'error')}: {text}): a store "
            "behind the querier (sidecar, store gateway, receiver) did not answer, so the data would be "
            "incomplete and the criterion cannot be judged; bring the store back (check the querier's stores "
            "page), or set prometheus.thanos.partial_response: true to accept partial answers, which then fail "
            "the criteria on their warnings unless prometheus.allow_warnings is true")


# An authentication scheme and its credentials, as a front end may quote them back.
_CREDENTIALS = re.compile(r"\b(Basic|Bearer)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def _refused_credentials(response: requests.Response) -> bool:
    """A 400 from an authenticating front end: vmauth answers an unknown user or token that way."""
    return response.status_code == 400 and "auth token" in response.text.lower()


def _quoted(response: requests.Response) -> str:
    """A short quote of an error answer's text, e.g. ` ("no org id")`, any credentials in it replaced by ***."""
    text = _without_credentials(" ".join(response.text.split()))[:160]
    return f" ({text!r})" if text else ""


def _without_credentials(text: str) -> str:
    return _CREDENTIALS.sub(lambda found: f"{found.group(1)} ***", text)


def _elements(body: Any, promql: str) -> list[tuple[dict[str, str], list[Any]]]:
    """A matrix answer's elements as (labels, [time, "value"] pairs); a malformed one is named."""
    data = body.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
        raise QueryFailed(f"Prometheus answered `{promql}` without a matrix")
    elements = []
    for item in data["result"]:
        labels = item.get("metric") if isinstance(item, dict) else None
        values = item.get("values") if isinstance(item, dict) else None
        if not isinstance(labels, dict) or not isinstance(values, list):
            raise QueryFailed(f"Prometheus returned a malformed matrix element for `{promql}`")
        elements.append((labels, values))
    return elements


def _arrays(values: list[Any], promql: str) -> tuple[array[float], array[float]]:
    """A matrix element's [time, "value"] pairs as two arrays of float64, times and values: as _points reads
    them (a malformed pair named), without making a Python float pair of each sample on the way."""
    try:
        return array("d", [t for t, _ in values]), array("d", [float(v) for _, v in values])
    except (TypeError, ValueError, OverflowError):
        points = _points(values, promql)  # a pair that is not [number, "number"]: read as _points reads it
        return array("d", [t for t, _ in points]), array("d", [v for _, v in points])


def _points(values: list[Any], promql: str) -> tuple[tuple[float, float], ...]:
    """A matrix element's [time, "value"] pairs as floats: a week of raw samples is hundreds of thousands of
    pairs, so the common case is one comprehension; otherwise each pair is read, and a malformed one named."""
    try:
        return tuple([(float(t), float(v)) for t, v in values])
    except (TypeError, ValueError, OverflowError):
        pass  # a malformed pair somewhere: read pair by pair, as Prometheus' pairs are read below
    points = []
    for pair in values:
        try:
            points.append((float(pair[0]), float(pair[1])))
        except (TypeError, ValueError, IndexError, KeyError, OverflowError):  # a number beyond float64 too
            raise QueryFailed(f"Prometheus returned a malformed sample {pair!r} for `{promql}`") from None
    return tuple(points)


def _short(exc: Exception) -> str:
    text = str(exc)
    # urllib3 nests the useful reason ("[Errno 111] Connection refused") deep inside a long repr.
    reason = re.search(r"\[Errno -?\d+\] [^'\")\]]+", text)
    if reason:
        return reason.group(0)
    return text if len(text) < 160 else "…" + text[-160:]
