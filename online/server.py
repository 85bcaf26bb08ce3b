"""How the service is served: uvicorn with read deadlines on every request (issue 27 item 6).

uvicorn bounds the idle time *between* requests on a kept-alive connection, but not the time a
client takes to send one: 300 slowloris connections that trickle a header byte now and then
held their sockets (and the service's file descriptors) for as long as they liked. Here each
connection must send its first byte within ``header_timeout_s`` of opening, its headers within
``header_timeout_s`` of their first byte (a 408 and the connection closed otherwise), and its
body within ``body_timeout_s`` of the headers (the connection is closed; the route sees the
client gone). ``tandem serve`` and the tests' real servers both use :func:`uvicorn_config`.

Scale-in without dropping anyone (issue 27 item 7): on SIGTERM (or SIGINT) :class:`DrainingServer`
first turns readiness false (``/readyz`` 503 "draining") and keeps serving for ``drain_s`` so
that load balancers and proxies take the replica out; only then does uvicorn's own graceful
shutdown begin: the listener closes, idle connections close, and requests in flight (streams
too) finish within ``grace_s``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 24\r\nconnection: close\r\n\r\nrequest not sent in time"
)


class DeadlineHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines on reading each request."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._reading_headers = True

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        log.info(
            "closing a connection that did not send its request %s in time",
            "headers" if self._reading_headers else "body",
        )
        if self._reading_headers:
            self.transport.write(_408)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout_s)  # its first request must start, and arrive, in time

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_headers = True
        if self._deadline is None:  # a later request on a kept-alive connection
            self._arm(self.header_timeout_s)

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._arm(self.body_timeout_s)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()


def deadline_protocol(*, header_timeout_s: float, body_timeout_s: float) -> type[HttpToolsProtocol]:
    """The protocol class with these deadlines (uvicorn builds one instance per connection)."""
    return type(
        "DeadlineHttpProtocol",
        (DeadlineHttpProtocol,),
        {"header_timeout_s": header_timeout_s, "body_timeout_s": body_timeout_s},
    )


def uvicorn_config(
    app: Any,
    *,
    host: str,
    port: int,
    header_timeout_s: float = DeadlineHttpProtocol.header_timeout_s,
    body_timeout_s: float = DeadlineHttpProtocol.body_timeout_s,
    **kwargs: Any,
) -> uvicorn.Config:
    """uvicorn's config for ``app`` with read deadlines on every request
    (``TANDEM_HTTP_HEADER_TIMEOUT_S``, ``TANDEM_HTTP_BODY_TIMEOUT_S``)."""
    protocol = deadline_protocol(header_timeout_s=header_timeout_s, body_timeout_s=body_timeout_s)
    return uvicorn.Config(app, host=host, port=port, http=protocol, **kwargs)


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain before its graceful shutdown (see the module's doc)."""

    def __init__(
        self, config: uvicorn.Config, *, on_drain: Callable[[], None], drain_s: float
    ) -> None:
        super().__init__(config)
        self.on_drain = on_drain
        self.drain_s = drain_s
        self._drain: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain is not None or self.drain_s <= 0:  # a second signal: no more waiting
            if self._drain is not None:
                self._drain.cancel()
            super().handle_exit(sig, frame)
            return
        log.info("signal %s: draining for %.1f s, then shutting down", sig, self.drain_s)
        self.on_drain()
        self._drain = threading.Timer(self.drain_s, super().handle_exit, args=(sig, frame))
        self._drain.daemon = True
        self._drain.start()


def serve(app: Any, config: uvicorn.Config, *, drain_s: float) -> None:
    """Run ``app`` (built by ``online.app.create_app``) until a signal, draining first."""
    app.state.draining = False

    def drain() -> None:
        app.state.draining = True

    DrainingServer(config, on_drain=drain, drain_s=drain_s).run()
