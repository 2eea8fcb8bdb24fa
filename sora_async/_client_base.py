"""What every ``SoraClient`` is before its calls: read-only configuration, views, lifecycle.

``SoraClient`` (``_client``) adds its constructor and the calls users make; this base holds what
those calls stand on: the configuration as read-only properties, ``with_options`` views that share
the connections, the gate and the limiter, and the lifecycle (the request core made lazily inside
the running loop, closed by ``aclose``). Not used on its own.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, TypeVar

from ._checks import check_headers
from ._client_setup import open_core
from ._client_state import Options, Shared
from ._core import CLOSED, RequestCore
from ._dialects import Dialect
from ._errors import ConfigurationError
from ._redact import Redactor
from ._retry import OnRetry, RetryPolicy
from ._transport import Transport
from .limits import Limiter

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ClientBase"]

_Client = TypeVar("_Client", bound="ClientBase")


class ClientBase:
    """Configuration, views and lifecycle of a client; ``SoraClient`` sets these in its constructor."""

    _api_key: str | None
    _base_url: str | None
    _dialect: Dialect
    _limiter: Limiter
    _owns_limiter: bool
    _max_concurrency: int
    _allow_insecure_http: bool
    _transport: Transport
    _owns_transport: bool
    _redact: Redactor
    _options: Options
    _shared: Shared
    _parent: ClientBase | None
    _call_headers: Mapping[str, str]

    # --- configuration (read-only) ------------------------------------------------------------------

    @property
    def base_url(self) -> str | None:
        """The relay's address as given."""
        return self._base_url

    @property
    def dialect(self) -> Dialect:
        """The relay family spoken: routes and answer shapes."""
        return self._dialect

    @property
    def limiter(self) -> Limiter:
        """The rate limiter every create passes through."""
        return self._limiter

    @property
    def max_concurrency(self) -> int:
        """Requests in flight at once."""
        return self._max_concurrency

    @property
    def retry(self) -> RetryPolicy:
        """The default retry policy of this client (or view)."""
        return self._options.retry

    @property
    def timeout(self) -> float:
        """Seconds one attempt may take."""
        return self._options.timeout

    @property
    def max_response_bytes(self) -> int:
        """The largest answer body read."""
        return self._options.max_response_bytes

    @property
    def on_retry(self) -> OnRetry | None:
        """The callback told of each retry (change it with ``with_options``)."""
        return self._options.on_retry

    def with_options(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        max_response_bytes: int | None = None,
        on_retry: OnRetry | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Self:
        """A view of this client with other per-call options, sharing its connections, gate and limiter.

        Closing the view closes nothing: the client it came from owns the connections.

        Args:
            retry: Another default ``RetryPolicy``.
            timeout: Another per-attempt timeout in seconds.
            max_response_bytes: Another cap on answer bodies.
            on_retry: Another retry callback.
            headers: Extra headers, merged over this client's.

        Raises:
            ValidationError: An option of the wrong type or range.

        >>> from sora_async import RetryPolicy, SoraClient
        >>> client = SoraClient(api_key="sk-test-key", base_url="https://relay.example")
        >>> patient = client.with_options(timeout=300, retry=RetryPolicy(max_attempts=10))
        >>> patient.timeout, patient.retry.max_attempts, patient.limiter is client.limiter
        (300, 10, True)
        """
        options = self._options.changed(
            retry=retry, timeout=timeout, max_response_bytes=max_response_bytes, on_retry=on_retry
        )
        extra = check_headers(headers) if headers is not None else {}
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view._options = options
        view._parent = self._parent or self
        view._call_headers = MappingProxyType({**self._call_headers, **extra})
        return view

    # --- lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self: _Client) -> _Client:
        self._core()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel unfinished submissions and close the connections. Safe to call more than once.

        Calls still waiting in other tasks (for a slot or a rate token, in a retry's backoff, between
        the polls of ``wait_for_task``) stop waiting and send nothing more: they end in
        ``ConfigurationError`` (``AmbiguousSubmissionError`` for a create whose earlier attempt may
        have made its task). A request in flight loses its connection.

        On a ``with_options`` view this does nothing: the client it came from owns the connections.
        """
        if self._parent is not None:
            return
        shared = self._shared
        if shared.core is not None:
            shared.core.close()  # calls in a backoff or queued for a slot or token send nothing more
        await shared.cancel_tasks()
        if self._owns_transport:
            await self._transport.aclose()
        if self._owns_limiter:
            await self._limiter.aclose()
        shared.core = None

    @property
    def closed(self) -> bool:
        """True once ``aclose()`` has run (or the ``async with`` block has ended)."""
        return self._shared.closed

    def __repr__(self) -> str:
        key = "set" if self._api_key else "missing"
        return (
            f"SoraClient(base_url={self._base_url!r}, dialect={self._dialect.name!r}, api_key=<{key}>, "
            f"limiter={self._limiter!r}, max_concurrency={self._max_concurrency})"
        )

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        shared = self.__dict__.get("_shared")
        owner = self.__dict__.get("_parent") is None and self.__dict__.get("_owns_transport")
        if owner and shared is not None and shared.core is not None and not shared.closed:
            _warn(
                f"unclosed {self!r}: use 'async with' or 'await client.aclose()'",
                ResourceWarning,
                source=self,
            )

    def _core(self) -> RequestCore:
        """The shared request core, made on first use inside the running loop."""
        shared = self._shared
        if shared.closed:
            raise ConfigurationError(CLOSED)
        if shared.core is None:
            shared.core = open_core(
                transport=self._transport,
                api_key=self._api_key,
                base_url=self._base_url,
                allow_insecure_http=self._allow_insecure_http,
                headers=self._options.headers,
                limiter=self._limiter,
                max_concurrency=self._max_concurrency,
                redact=self._redact,
            )
        return shared.core
