"""Fetching a component's /metrics: one GET with its timing, status and parsed exposition."""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests

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
    text: str
    exposition: Exposition

    @property
    def ok(self) -> bool:
        return self.status == 200


def fetch(component: str, url: str, timeout: float, session: requests.Session | None = None) -> Scrape:
    """GET `url`; raises ScrapeFailed (naming the URL) when it cannot be reached at all."""
    getter = session or requests
    shown = redact_url(url)
    started = time.perf_counter()
    try:
        response = getter.get(url, timeout=timeout, headers={"Accept": "text/plain;version=0.0.4"})
        text = response.text
    except requests.RequestException as exc:
        raise ScrapeFailed(
            f"{component} metrics endpoint {shown} is unreachable ({type(exc).__name__}); check "
            f"components.{component}.metrics_url in the environment file and that the {component} is running"
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
