"""Every HTTP request the gate makes goes through `get`: a total deadline for the whole response (a socket
timeout alone lets a server that trickles one byte at a time hold the gate forever), an optional byte
ceiling, the run's budget, no redirects (another host would answer in the configured one's name), TLS
verified with the configured CA even when REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE are set, and every transport
failure turned into one named cause.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import requests
import urllib3

from wavegate.errors import EvaluationError
from wavegate.settings import redact_url

CHUNK = 1 << 16


class TransportFailed(EvaluationError):
    """The request got no complete, usable answer; `retryable` says whether trying again may help."""

    cause = "transport"

    def __init__(self, message: str, *, retryable: bool = False, reason: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.reason = reason or message  # the cause alone, e.g. "Connection refused"


class BudgetSpent(EvaluationError):
    """The run's time budget is used up: the remaining requests are not made."""

    cause = "budget"


@dataclass
class Budget:
    """The whole run's time budget (monotonic clock); None = unlimited."""

    seconds: float | None = None
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = self.started or time.monotonic()

    @property
    def deadline(self) -> float | None:
        return None if self.seconds is None else self.started + self.seconds

    def check(self, url: str) -> None:
        deadline = self.deadline
        if deadline is not None and time.monotonic() >= deadline:
            raise BudgetSpent(f"the run's time budget of {self.seconds:g} s (run_budget in the environment file) "
                              f"was spent before asking {redact_url(url)}; nothing more is asked")


def get(
    session: requests.Session | None,
    url: str,
    *,
    timeout: float,
    verify: bool | str = True,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    limit: int | None = None,
    budget: Budget | None = None,
    keep: bool = True,
    sink: Callable[[requests.Response], Callable[[bytes], None]] | None = None,
) -> requests.Response:
    """GET `url` and read the whole body within `timeout` seconds (and the run's budget); the body is then in
    `response.content` (empty when `keep` is false: read and discarded, e.g. to time a full response; or when
    `sink` is given: called with the response once its headers are in, it returns where each chunk of the body
    goes as it arrives, e.g. a parser chosen by Content-Type, so a large body is never held whole).
    Raises TransportFailed naming the URL and the cause."""
    shown = redact_url(url)
    if budget is not None:
        budget.check(url)
    deadline = time.monotonic() + timeout
    if budget is not None and budget.deadline is not None:
        deadline = min(deadline, budget.deadline)
    getter = session if session is not None else requests.Session()
    try:
        response = getter.get(url, params=params, headers=dict(headers or {}), timeout=timeout, verify=verify,
                              allow_redirects=False, stream=True)
    except requests.exceptions.SSLError as exc:
        raise TransportFailed(f"TLS to {shown} failed: {_short(exc)}") from None
    except requests.Timeout:
        raise TransportFailed(f"{shown} did not answer within {timeout:g} s", retryable=True,
                              reason=f"no answer within {timeout:g} s") from None
    except requests.ConnectionError as exc:
        reason = _os_reason(exc)
        raise TransportFailed(f"{shown} is unreachable ({reason})", retryable=True, reason=reason) from None
    except requests.RequestException as exc:
        raise TransportFailed(f"the request to {shown} failed ({type(exc).__name__}: {_short(exc)})") from None
    try:
        if response.is_redirect:
            target = redact_url(response.headers.get("Location", "?"))
            raise TransportFailed(f"{shown} redirected to {target} (HTTP {response.status_code}); the gate does not "
                                  "follow redirects, so that no other server answers in this one's name: configure "
                                  "the final address")
        chunks, size = [], 0
        consume = sink(response) if sink is not None else None
        while True:
            # read1: what has arrived (one receive), so the deadline is checked even when bytes trickle in
            chunk = response.raw.read1(CHUNK, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if limit is not None and size > limit:
                raise TransportFailed(f"{shown} sent more than {limit / (1 << 20):g} MiB; the body is not read "
                                      "further (raise the limit in the environment file if that size is expected)")
            if consume is not None:
                consume(chunk)
            elif keep:
                chunks.append(chunk)
            if time.monotonic() > deadline:
                raise _late(shown, timeout, budget, size)
        if time.monotonic() > deadline:
            raise _late(shown, timeout, budget, size)
    except (requests.Timeout, urllib3.exceptions.ReadTimeoutError):
        raise TransportFailed(f"{shown} stopped sending within its answer (no data for {timeout:g} s)",
                              retryable=True, reason=f"stopped sending for {timeout:g} s") from None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError,
            requests.ConnectionError, urllib3.exceptions.HTTPError, OSError) as exc:
        reason = f"a broken response ({type(exc).__name__}: {_short(exc)})"
        raise TransportFailed(f"{shown} sent {reason}", retryable=True, reason=reason) from None
    finally:
        response.close()
    response._content = b"".join(chunks)  # the body, read under the deadline; .text and .json() use it
    return response


def _late(shown: str, timeout: float, budget: Budget | None, size: int) -> EvaluationError:
    if budget is not None and budget.deadline is not None and time.monotonic() >= budget.deadline:
        return BudgetSpent(f"the run's time budget of {budget.seconds:g} s (run_budget in the environment file) "
                           f"ran out while {shown} was answering ({size} bytes so far)")
    # Not retried: a server that answers this slowly would only take as long again.
    return TransportFailed(f"{shown} did not send its whole answer within {timeout:g} s ({size} bytes so far): "
                           "too slow or trickling")


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def _os_reason(exc: BaseException) -> str:
    """The operating system's words for a connection failure ("Connection refused"), else the error's type."""
    found = _ERRNO.search(str(exc))
    if found:
        return found.group(1).strip()
    if "RemoteDisconnected" in str(exc) or "reset" in str(exc).lower():
        return "Connection reset or closed by the server"
    return type(exc).__name__


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "…"
