"""JSON-RPC 2.0 over HTTP (aiohttp): framing, error objects, body limits, serial chain access.

Chain work is CPU-bound and not thread-safe, so every request runs in one worker thread, one at a
time; the event loop stays free to accept connections and to reject malformed requests at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from devnet.errors import InternalError, InvalidRequest, ParseError, RpcError
from devnet.rpc import RpcApi
from devnet.stages import stage

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_BATCH = 100


def _error_response(error: RpcError, request_id: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}


def _json_response(reply: Any) -> web.Response:
    with stage("json encode"):
        return web.json_response(reply)


class RpcServer:
    """Serves an `RpcApi` on POST / and /rpc; mines on a timer when `block_time` is set."""

    def __init__(self, api: RpcApi, block_time: float | None = None) -> None:
        self.api = api
        self.block_time = block_time
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devnet-chain")
        self.app = web.Application(client_max_size=MAX_BODY_BYTES)
        self.app.router.add_post("/", self.handle)
        self.app.router.add_post("/rpc", self.handle)
        self.app.router.add_get("/is_alive", self.is_alive)

    async def is_alive(self, request: web.Request) -> web.Response:
        return web.Response(text="Alive!!!")

    async def handle(self, request: web.Request) -> web.Response:
        try:
            with stage("http read"):
                body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            error = InvalidRequest(f"request body exceeds {MAX_BODY_BYTES} bytes")
            return web.json_response(_error_response(error), status=413)
        try:
            with stage("json decode"):
                payload = json.loads(body)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            return web.json_response(_error_response(ParseError(str(exc)[:200])))
        if isinstance(payload, list):
            if not payload or len(payload) > MAX_BATCH:
                error = InvalidRequest(f"a batch holds 1 to {MAX_BATCH} requests")
                return web.json_response(_error_response(error))
            replies = [await self.dispatch(item) for item in payload]
            return _json_response([r for r in replies if r is not None])
        reply = await self.dispatch(payload)
        return _json_response(reply) if reply is not None else web.Response(status=204)

    async def dispatch(self, payload: Any) -> dict[str, Any] | None:
        """Answer one JSON-RPC request object (None for a notification)."""
        if (not isinstance(payload, dict) or payload.get("jsonrpc") != "2.0"
                or not isinstance(payload.get("method"), str)):
            return _error_response(InvalidRequest("expected a JSON-RPC 2.0 request object"))
        request_id = payload.get("id")
        if request_id is not None and not isinstance(request_id, (str, int)):
            return _error_response(InvalidRequest("id must be a string, a number or null"))
        loop = asyncio.get_running_loop()
        try:
            with stage("worker round trip"):
                result = await loop.run_in_executor(
                    self.worker, self._timed_call, payload["method"], payload.get("params"))
        except RpcError as error:
            logger.info("request refused", extra={"method": payload["method"],
                                                  "code": error.code, "reason": str(error)})
            return _error_response(error, request_id)
        except Exception as exc:  # keep serving; the log has the traceback
            logger.exception("request failed", extra={"method": payload["method"]})
            return _error_response(InternalError(f"{type(exc).__name__}: {exc}"), request_id)
        if "id" not in payload:
            return None
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    def _timed_call(self, method: str, params: Any) -> Any:
        known = isinstance(method, str) and method in self.api.methods
        with stage(f"rpc {method if known else '(unknown method)'}"):
            return self.api.call(method, params)

    async def mine_periodically(self) -> None:
        """Close a block every `block_time` seconds."""
        assert self.block_time is not None
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.block_time)
            await loop.run_in_executor(self.worker, self.api.chain.mine)

    async def serve(self, host: str, port: int, on_ready: Any, stop: asyncio.Event) -> None:
        """Listen until `stop` is set; call `on_ready(port)` once listening."""
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = runner.addresses[0][1]
        miner = asyncio.create_task(self.mine_periodically()) if self.block_time else None
        on_ready(bound_port)
        try:
            await stop.wait()
        finally:
            if miner:
                miner.cancel()
            await runner.cleanup()
            self.worker.shutdown(wait=True)
