"""Fetching a component's /metrics: one GET with its timing, status and parsed exposition."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import requests

from wavegate import transport
from wavegate.errors import ScrapeFailed
from wavegate.exposition import Exposition, parse
from wavegate.settings import redact_url


@dataclass(frozen=True)
class Scrape:
    """One fetch of a /metrics endpoint."""

    component: str
    url: str  # for display: any user:password in it replaced by ***
    status: int
    seconds: float
    content_type: str
    text: str = field(repr=False)  # a whole body: never in a repr
    exposition: Exposition = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def not_an_exposition(self) -> str | None:
        """Why the body is something else than a metrics exposition (an HTML page: a login page, a proxy's
        error page, a dashboard), or None."""
        head = self.text[:512].lstrip().lower()
        if "html" in self.content_type.lower() or head.startswith(("<!doctype html", "<html")):
            return (f"{self.url} answered an HTML page (Content-Type {self.content_type or 'none'}), not a "
                    "metrics exposition: is metrics_url the metrics endpoint, and not a login or proxy page?")
        return None


def fetch(component: str, url: str, timeout: float, session: requests.Session | None = None, *,
          limit: int | None = None, budget: transport.Budget | None = None) -> Scrape:
    """GET `url`, the whole body within `timeout` and at most `limit` bytes; raises ScrapeFailed (naming the
    URL and the cause) when no complete answer comes."""
    shown = redact_url(url)
    started = time.perf_counter()
    try:
        response = transport.get(session, url, timeout=timeout, headers={"Accept": "text/plain;version=0.0.4"},
                                 limit=limit, budget=budget)
        text = response.text
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
        content_type=response.headers.get("Content-Type", ""),
        text=text,
        exposition=parse(text),
    )
