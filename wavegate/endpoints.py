"""Fetching a component's /metrics: one GET with its timing, status and parsed exposition. The body is asked
for as Prometheus asks (OpenMetrics first, then the text format), parsed by the format its Content-Type names,
and parsed while it arrives, so a large body is never held whole."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from wavegate import transport
from wavegate.errors import ScrapeFailed
from wavegate.exposition import ACCEPT, Exposition, format_of, parser_for
from wavegate.settings import redact_url

_HEAD = 512


@dataclass(frozen=True)
class Scrape:
    """One fetch of a /metrics endpoint."""

    component: str
    url: str  # for display: any user:password in it replaced by ***
    status: int
    seconds: float
    content_type: str
    head: str = field(repr=False)  # the body's first bytes, to recognise an HTML page
    exposition: Exposition = field(repr=False)
    size: int = 0

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def format(self) -> str:
        """The format the server chose to send: "openmetrics" or "text" (0.0.4)."""
        return format_of(self.content_type)

    @property
    def not_an_exposition(self) -> str | None:
        """Why the body is something else than a metrics exposition (an HTML page: a login page, a proxy's
        error page, a dashboard), or None."""
        head = self.head.lstrip().lower()
        if "html" in self.content_type.lower() or head.startswith(("<!doctype html", "<html")):
            return (f"{self.url} answered an HTML page (Content-Type {self.content_type or 'none'}), not a "
                    "metrics exposition: is metrics_url the metrics endpoint, and not a login or proxy page?")
        return None


class _Reader:
    """Where the body goes while it arrives: the first bytes kept, the rest straight into the parser."""

    def __init__(self) -> None:
        self.head = b""
        self.size = 0
        self.content_type = ""
        self.parser = parser_for(None)

    def start(self, response: requests.Response) -> Callable[[bytes], None]:
        self.content_type = response.headers.get("Content-Type", "")
        self.parser = parser_for(self.content_type)
        return self.feed

    def feed(self, chunk: bytes) -> None:
        if len(self.head) < _HEAD:
            self.head += chunk[:_HEAD - len(self.head)]
        self.size += len(chunk)
        self.parser.feed(chunk)


def fetch(component: str, url: str, timeout: float, session: requests.Session | None = None, *,
          limit: int | None = None, budget: transport.Budget | None = None) -> Scrape:
    """GET `url`, the whole body within `timeout` and at most `limit` bytes; raises ScrapeFailed (naming the
    URL and the cause) when no complete answer comes."""
    shown = redact_url(url)
    started = time.perf_counter()
    reader = _Reader()
    try:
        response = transport.get(session, url, timeout=timeout, headers={"Accept": ACCEPT}, limit=limit,
                                 budget=budget, sink=reader.start)
    except transport.BudgetSpent:
        raise
    except transport.TransportFailed as exc:
        raise ScrapeFailed(
            f"{component} metrics endpoint: {exc}; check components.{component}.metrics_url in the environment "
            f"file and that the {component} is running"
        ) from None
    seconds = time.perf_counter() - started
    return Scrape(
        component=component,
        url=shown,
        status=response.status_code,
        seconds=seconds,
        content_type=reader.content_type,
        head=reader.head.decode("utf-8", "replace"),
        exposition=reader.parser.close(),
        size=reader.size,
    )
