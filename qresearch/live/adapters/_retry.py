"""What the venue adapters share: pacing, retries, keys from the environment, redaction.

:class:`CallRunner` runs every request of an adapter: it keeps a minimum interval
between calls (the venue's rate limit, measured on an injected clock) and retries
transient failures (timeouts, network errors, rate-limit answers) with exponential
backoff (``backoff * 2**attempt`` seconds, slept through an injected ``sleep``). After
``max_retries`` retries it raises :class:`~qresearch.exceptions.TransientBrokerError`
naming the venue, the request and the client order id.

Keys are read from environment variables only (:func:`read_env`), and every text built
from a library's error goes through a :class:`Redactor`, which replaces the key values
and URL query strings (they may carry signatures or keys) with ``***``.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from qresearch.exceptions import AuthenticationError, ParameterError, TransientBrokerError

__all__ = [
    "REDACTED",
    "CallRunner",
    "Redactor",
    "check_retry_settings",
    "missing_keys_error",
    "read_env",
    "redact",
]

log = logging.getLogger("qresearch.live.adapters")

T = TypeVar("T")

REDACTED = "***"
# The query string of a URL (signatures, timestamps, sometimes a key) is never shown.
_URL_QUERY = re.compile(r"(https?://[^\s?\"'<>]+)\?[^\s\"'<>]*")
# A reason quoted from a library is cut to this many characters.
_MAX_REASON = 300


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Return ``text`` with every secret value and URL query string replaced by ``***``.

    Parameters
    ----------
    text : str
        A message, typically built from a library's exception.
    secrets : iterable of str or None
        Values to hide (API keys, secrets, passphrases); None and empty ones are skipped.

    Returns
    -------
    str
        The redacted text.

    Examples
    --------
    >>> redact("key=abc123 at https://x.io/v1/order?sig=ff&key=abc123", ["abc123"])
    'key=*** at https://x.io/v1/order?***'
    """
    out = str(text)
    # Longest first, so a secret containing another one is hidden whole.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        out = out.replace(secret, REDACTED)
    return _URL_QUERY.sub(lambda m: f"{m.group(1)}?{REDACTED}", out)


class Redactor:
    """Hide a fixed set of secret values in texts; its ``repr`` never shows them.

    Parameters
    ----------
    secrets : iterable of str or None
        The values to hide; None and empty ones are skipped.
    """

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str | None]) -> None:
        self._secrets = tuple(s for s in secrets if s)

    def __call__(self, text: str) -> str:
        """Return ``text`` redacted (see :func:`redact`)."""
        return redact(text, self._secrets)

    def reason(self, exc: BaseException) -> str:
        """Return ``"<ExceptionClass>: <message>"`` redacted and cut to 300 characters.

        Parameters
        ----------
        exc : BaseException
            A library's exception.

        Returns
        -------
        str
            A text safe to put in a message or a log record.
        """
        message = " ".join(str(exc).split())
        text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
        text = self(text)
        return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} hidden values>)"


def read_env(names: Sequence[str]) -> dict[str, str | None]:
    """Return the value of each environment variable in ``names`` (None when unset or empty).

    Parameters
    ----------
    names : sequence of str
        Environment variable names.

    Returns
    -------
    dict
        ``{name: value or None}``.
    """
    return {name: (os.environ.get(name) or None) for name in names}


def missing_keys_error(venue: str, missing: Sequence[str], all_names: Sequence[str]) -> Exception:
    """Return the :class:`AuthenticationError` for unset key variables (names, never values).

    Parameters
    ----------
    venue : str
        The adapter's name, e.g. ``"ccxt:binance"``.
    missing : sequence of str
        The variables that are unset or empty.
    all_names : sequence of str
        Every variable the adapter reads.

    Returns
    -------
    AuthenticationError
        Raise it.
    """
    return AuthenticationError(
        f"{venue}: the environment variable(s) {', '.join(missing)} are not set. Keys are "
        f"read from the environment only: set {', '.join(all_names)} (for example in a "
        f".env file your shell loads; never in code or a config file), or pass a ready "
        f"client object."
    )


def check_retry_settings(max_retries: Any, backoff: Any, sleep: Any, clock: Any) -> None:
    """Raise :class:`ParameterError` unless the retry settings are usable.

    Parameters
    ----------
    max_retries : int
        Retries after the first attempt, >= 0.
    backoff : float
        First backoff delay in seconds, finite and >= 0.
    sleep, clock : callable
        ``sleep(seconds)`` and ``clock() -> seconds``.
    """
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ParameterError(f"max_retries must be an int >= 0; got {max_retries!r}.")
    if (
        isinstance(backoff, bool)
        or not isinstance(backoff, int | float)
        or not math.isfinite(backoff)
        or backoff < 0
    ):
        raise ParameterError(f"backoff must be a finite number of seconds >= 0; got {backoff!r}.")
    for name, value in (("sleep", sleep), ("clock", clock)):
        if not callable(value):
            raise ParameterError(f"{name} must be callable (like time.{name}); got {value!r}.")


class CallRunner:
    """Run a venue's requests with a minimum interval between calls and retries.

    Parameters
    ----------
    venue : str
        The adapter's name, used in messages.
    max_retries : int
        Retries after the first attempt of a request.
    backoff : float
        Delay before the first retry, in seconds; it doubles with every retry.
    sleep : callable
        ``sleep(seconds)``; tests inject a fake.
    clock : callable
        ``clock() -> seconds`` (monotonic); tests inject a fake.
    min_interval : float
        Seconds between the starts of two calls (the venue's rate limit).
    is_transient : callable
        ``is_transient(exc) -> bool``: True for errors worth retrying.
    redactor : Redactor
        Hides the keys in the reasons quoted in messages and logs.
    """

    def __init__(
        self,
        venue: str,
        *,
        max_retries: int,
        backoff: float,
        sleep: Callable[[float], Any],
        clock: Callable[[], float],
        min_interval: float,
        is_transient: Callable[[BaseException], bool],
        redactor: Redactor,
    ) -> None:
        check_retry_settings(max_retries, backoff, sleep, clock)
        self.venue = venue
        self.max_retries = max_retries
        self.backoff = float(backoff)
        self.min_interval = max(0.0, float(min_interval))
        self._sleep = sleep
        self._clock = clock
        self._is_transient = is_transient
        self._redactor = redactor
        self._last_start: float | None = None

    def pace(self) -> None:
        """Sleep until ``min_interval`` has passed since the previous call started."""
        now = float(self._clock())
        if self._last_start is not None and self.min_interval > 0:
            due = self._last_start + self.min_interval
            if now < due:
                self._sleep(due - now)
                now = max(float(self._clock()), due)
        self._last_start = now

    def call(
        self,
        request: str,
        fn: Callable[[], T],
        *,
        client_order_id: str | None = None,
        before_retry: Callable[[], T | None] | None = None,
    ) -> T:
        """Return ``fn()``, retrying transient errors with exponential backoff.

        Parameters
        ----------
        request : str
            What is being asked, e.g. ``"create_order BTC/USDT"`` (for messages).
        fn : callable
            The request, without arguments.
        client_order_id : str, optional
            The order concerned (for messages).
        before_retry : callable, optional
            Called after each backoff sleep, before the request is sent again; a result
            other than None is returned instead of retrying (``submit`` looks its client
            order id up here, so an order whose response was lost is never sent twice).

        Returns
        -------
        object
            What ``fn`` (or ``before_retry``) returned.

        Raises
        ------
        TransientBrokerError
            When the request still failed transiently after ``max_retries`` retries.
        Exception
            A non-transient error of ``fn`` propagates unchanged (the adapter maps it).
        """
        attempt = 0
        while True:
            self.pace()
            try:
                return fn()
            except Exception as exc:
                if not self._is_transient(exc):
                    raise
                reason = self._redactor.reason(exc)
            where = f" for client order id {client_order_id!r}" if client_order_id else ""
            if attempt >= self.max_retries:
                raise TransientBrokerError(
                    f"{self.venue}: {request}{where} failed {attempt + 1} time(s) with a "
                    f"transient error, the last one {reason}. Check the network and the "
                    f"venue's status, then try again"
                    + (
                        " with the same order: its client order id makes a resubmission "
                        "safe (an order the venue already has is not sent twice)."
                        if client_order_id
                        else "."
                    )
                )
            delay = self.backoff * 2**attempt
            attempt += 1
            log.warning(
                "%s: %s%s failed (%s); retry %d of %d in %.3g s",
                self.venue,
                request,
                where,
                reason,
                attempt,
                self.max_retries,
                delay,
            )
            if delay > 0:
                self._sleep(delay)
            if before_retry is not None:
                found = before_retry()
                if found is not None:
                    return found
