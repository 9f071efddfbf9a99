"""`/metrics` and `/health` over HTTP/1.1 on 127.0.0.1, as a trio service.

One request per connection (answered with `Connection: close`). Every connection has a deadline,
headers have a size cap and connections a count cap, so garbage, slow or huge clients get an error
status or a closed socket while the server keeps serving others.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus

import h11
import trio

from node import __version__
from node.errors import UserError
from node.metrics import METRICS_CONTENT_TYPE, NodeMetrics

log = logging.getLogger(__name__)

Check = Callable[[], tuple[bool, str]]
"""A named health check: returns (ok, detail) quickly, without I/O; raising counts as failed."""

JSON_CONTENT_TYPE = "application/json"
ALLOWED_METHODS = (b"GET", b"HEAD")
# After replying, unread input is drained (at most this much, this long) so closing does not reset.
LINGER_BYTES = 1024 * 1024
LINGER_SECONDS = 1.0
_Reply = tuple[int, list[tuple[str, str]], bytes]


@dataclass
class StatusService:
    """What the endpoint serves, and the limits that keep it alive under bad clients."""

    metrics: NodeMetrics
    checks: Mapping[str, Check] = field(default_factory=dict)
    version: str = __version__
    request_timeout: float = 10.0
    max_header_bytes: int = 16 * 1024
    max_connections: int = 64
    started: float = field(default_factory=time.monotonic)

    def health(self) -> dict[str, object]:
        """Run every check; status is "ok" when all pass, else "degraded"."""
        results = {name: _run_check(check) for name, check in self.checks.items()}
        healthy = all(result["ok"] for result in results.values())
        return {
            "status": "ok" if healthy else "degraded",
            "uptime_seconds": round(time.monotonic() - self.started, 3),
            "version": self.version,
            "checks": results,
        }

    def reply(self, method: bytes, target: bytes) -> _Reply:
        """The status, headers and body for one well-formed request."""
        path = target.split(b"?", 1)[0]
        if path not in (b"/metrics", b"/health"):
            return _text_reply(HTTPStatus.NOT_FOUND, "unknown path: use /metrics or /health\n")
        if method not in ALLOWED_METHODS:
            reply = _text_reply(HTTPStatus.METHOD_NOT_ALLOWED, "use GET or HEAD\n")
            reply[1].append(("Allow", "GET, HEAD"))
            return reply
        if path == b"/metrics":
            return HTTPStatus.OK, [("Content-Type", METRICS_CONTENT_TYPE)], self.metrics.render()
        report = self.health()
        status = HTTPStatus.OK if report["status"] == "ok" else HTTPStatus.SERVICE_UNAVAILABLE
        return status, [("Content-Type", JSON_CONTENT_TYPE)], json.dumps(report).encode()


async def serve(
    service: StatusService, port: int = 0, *, task_status=trio.TASK_STATUS_IGNORED
) -> None:
    """Serve `service` on 127.0.0.1:`port` (0 = any free port) until cancelled, then free the port.

    Start it with `port = await nursery.start(serve, service, port)` to learn the bound port.
    """
    try:
        listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    except OSError as exc:
        raise UserError(
            f"cannot listen on 127.0.0.1:{port} ({exc.strerror}): choose another port, or 0 for any"
        ) from exc
    bound = listeners[0].socket.getsockname()[1]
    log.info("status endpoint listening", extra={"host": "127.0.0.1", "port": bound})
    limiter = trio.CapacityLimiter(service.max_connections)
    task_status.started(bound)
    try:
        await trio.serve_listeners(lambda stream: _handle(service, limiter, stream), listeners)
    finally:
        for listener in listeners:
            await trio.aclose_forcefully(listener)


async def _handle(
    service: StatusService, limiter: trio.CapacityLimiter, stream: trio.SocketStream
) -> None:
    """Answer one connection; never raises, so one bad client cannot stop the server."""
    try:
        limiter.acquire_nowait()
    except trio.WouldBlock:
        log.warning("connection refused: too many open", extra={"limit": limiter.total_tokens})
        await trio.aclose_forcefully(stream)
        return
    try:
        await _converse(service, stream)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
        log.debug("client went away", extra={"error": repr(exc)})
    except Exception:
        log.exception("status request failed; the server keeps serving")
    finally:
        limiter.release()
        await trio.aclose_forcefully(stream)


async def _converse(service: StatusService, stream: trio.SocketStream) -> None:
    """Read one request within the deadline, then send the reply within another."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=service.max_header_bytes)
    method = b"GET"
    with trio.move_on_after(service.request_timeout) as reading:
        try:
            request = await _read_request(conn, stream)
        except h11.RemoteProtocolError as exc:
            log.info("bad request", extra={"error": str(exc), "status": exc.error_status_hint})
            reply = _text_reply(HTTPStatus(exc.error_status_hint), f"bad request: {exc}\n")
        else:
            if request is None:
                return
            method = request.method
            reply = _reply_safely(service, request)
    if reading.cancelled_caught:
        log.info("client too slow", extra={"timeout_s": service.request_timeout})
        reply = _text_reply(HTTPStatus.REQUEST_TIMEOUT, "request not received in time\n")
    with trio.move_on_after(service.request_timeout):
        await _send_reply(conn, stream, reply, head_only=method == b"HEAD")
    with trio.move_on_after(LINGER_SECONDS):
        await _drain(stream)


def _reply_safely(service: StatusService, request: h11.Request) -> _Reply:
    try:
        return service.reply(request.method, request.target)
    except Exception:
        log.exception("status page failed", extra={"target": request.target.decode("latin-1")})
        return _text_reply(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error: see the node's log\n")


async def _read_request(conn: h11.Connection, stream: trio.SocketStream) -> h11.Request | None:
    """The request line and headers, or None if the client closed before sending any."""
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Request):
            return event
        if isinstance(event, h11.ConnectionClosed):
            return None
        data = await stream.receive_some(4096)
        conn.receive_data(data)


async def _send_reply(
    conn: h11.Connection, stream: trio.SocketStream, reply: _Reply, *, head_only: bool
) -> None:
    status, headers, body = reply
    headers = [*headers, ("Content-Length", str(len(body))), ("Connection", "close")]
    phrase = HTTPStatus(status).phrase.encode()
    out = conn.send(h11.Response(status_code=status, headers=headers, reason=phrase))
    if not head_only:
        out += conn.send(h11.Data(data=body))
    await stream.send_all(out)


async def _drain(stream: trio.SocketStream) -> None:
    """Half-close, then read what the client still sends (bounded): a close with unread data
    would make the kernel reset the connection and the client could lose the reply."""
    await stream.send_eof()
    drained = 0
    while drained < LINGER_BYTES and (chunk := await stream.receive_some(65536)):
        drained += len(chunk)


def _run_check(check: Check) -> dict[str, object]:
    try:
        ok, detail = check()
    except Exception as exc:
        log.warning("health check raised", extra={"error": repr(exc)})
        return {"ok": False, "detail": f"check raised {exc!r}"}
    return {"ok": bool(ok), "detail": str(detail)}


def _text_reply(status: HTTPStatus, text: str) -> _Reply:
    return status, [("Content-Type", "text/plain; charset=utf-8")], text.encode()
