"""Secrets never reach an output: the values the environment makes secret, and a log-record filter that
blanks them in every log line before any handler (pytest's captured logs in gate.html and Allure included)
sees it. URLs the gate did not build itself (Prometheus' scrape URLs and errors) are redacted by
settings.redact_text where they are shown.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from wavegate.settings import Environment

MASK = "***"


def secret_values(environment: Environment) -> list[str]:
    """Every value the environment file makes secret: the bearer token and the password (from their
    variables), header values, and the user:password and query values of every configured URL."""
    settings = environment.prometheus
    values: list[str | None] = []
    if settings.bearer_token_env:
        values.append(os.environ.get(settings.bearer_token_env))
    if settings.basic_auth:
        values.append(os.environ.get(settings.basic_auth.password_env))
    values += list(settings.headers.values())
    for url in [settings.url, *(url for c in environment.components.values() for url in c.urls.values())]:
        parts = urlsplit(url)
        values += [parts.password, unquote(parts.password or "") or None]
        values += [value for _, value in parse_qsl(parts.query)]
    # Short values would blank ordinary words; a secret of fewer than 4 characters is no secret.
    return sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True)


def mask(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


class LogRedaction:
    """While installed, every log record is created with the secrets already masked in its message."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = secrets
        self._previous: Callable[..., logging.LogRecord] | None = None

    def install(self) -> None:
        if not self.secrets or self._previous is not None:
            return
        previous = logging.getLogRecordFactory()
        secrets = self.secrets

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a malformed log call is logging's to report, not ours
                return record
            masked = mask(message, secrets)
            if masked != message:
                record.msg, record.args = masked, None
            return record

        self._previous = previous
        logging.setLogRecordFactory(factory)

    def uninstall(self) -> None:
        if self._previous is not None:
            logging.setLogRecordFactory(self._previous)
            self._previous = None
