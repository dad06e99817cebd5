"""The gate's error hierarchy: configuration problems, and reasons a criterion could not be evaluated."""

from __future__ import annotations


class GateError(Exception):
    """Base of everything the gate raises on purpose; `cause` names the kind for gate-results.json."""

    cause = "gate_error"


class ConfigError(GateError):
    """An environment, criteria or command-line setting is wrong; the run stops before any query (exit 4)."""

    cause = "configuration"


class CriteriaError(ConfigError):
    """The criteria file is malformed or names something the gate does not know."""

    cause = "criteria"


class EvaluationError(GateError):
    """A criterion could not be evaluated: the verdict is ERROR, never a pass."""

    cause = "evaluation"


class PrometheusUnavailable(EvaluationError):
    """Prometheus could not be reached, or answered with a transport-level failure after retries."""

    cause = "prometheus_unavailable"


class QueryFailed(EvaluationError):
    """Prometheus answered, but rejected the query or returned something that is not a valid API response."""

    cause = "query_failed"


class PartialAnswer(QueryFailed):
    """The backend answered only part of the data (a store, a vmstorage node or a replica did not answer), or
    refused to answer because it could only have answered partially."""

    cause = "partial_answer"


class ScrapeFailed(EvaluationError):
    """A component's /metrics endpoint could not be fetched."""

    cause = "scrape_failed"
