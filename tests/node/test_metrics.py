"""Node metrics and the /metrics + /health endpoint, over real sockets on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import urllib.request

import pytest
import trio
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2
from prometheus_client.parser import text_string_to_metric_families

from node import __version__
from node.errors import UserError
from node.health import StatusService, serve
from node.metrics import STEPS, NodeMetrics
from p2p.outbound import EXPIRED, QUEUE_FULL, OutboundDrops
from p2p.traffic import Traffic
from p2p.validation import DropLog, Verdict
from tests.ports import free_port

GET_METRICS = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
GET_HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, keyed by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def start(nursery: trio.Nursery, service: StatusService, port: int = 0) -> int:
    return await nursery.start(serve, service, port)


async def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read to EOF; the status, lower-cased headers and body."""
    with trio.fail_after(5):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(raw)
            reply = await read_to_eof(stream)
    head, _, body = reply.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {name.lower(): value for name, value in (h.split(": ", 1) for h in header_lines)}
    return int(status_line.split()[1]), headers, body


async def read_to_eof(stream: trio.SocketStream) -> bytes:
    chunks = []
    while chunk := await stream.receive_some(65536):
        chunks.append(chunk)
    return b"".join(chunks)


async def assert_still_serving(port: int) -> None:
    status, _, body = await exchange(port, GET_HEALTH)
    assert status == 200
    assert json.loads(body)["status"] == "ok"


# --- metrics -------------------------------------------------------------------------------


def test_metrics_of_two_nodes_are_independent() -> None:
    first, second = NodeMetrics.create(), NodeMetrics.create()
    first.peers.set(3)
    first.jobs.labels(state="running").set(2)
    traffic = Traffic(sent=100, received=40)
    first.count_traffic(lambda: traffic.sent, lambda: traffic.received)
    first.messages_dropped.labels(topic="jobs", reason="bad_signature").inc()
    first.observe_step("prove", 1.5)

    page = samples(first.render().decode())
    assert page[("zetina_peers", ())] == 3
    assert page[("zetina_jobs", (("state", "running"),))] == 2
    assert page[("zetina_bytes_sent_total", ())] == 100
    assert page[("zetina_bytes_received_total", ())] == 40
    dropped = ("zetina_messages_dropped_total", (("reason", "bad_signature"), ("topic", "jobs")))
    assert page[dropped] == 1
    assert page[("zetina_step_duration_seconds_sum", (("step", "prove"),))] == 1.5
    assert page[("zetina_step_duration_seconds_count", (("step", "prove"),))] == 1
    assert page[("zetina_process_resident_memory_bytes", ())] > 0
    assert samples(second.render().decode())[("zetina_peers", ())] == 0


def test_every_step_is_exported_before_its_first_observation() -> None:
    page = samples(NodeMetrics.create().render().decode())
    for step in STEPS:
        assert page[("zetina_step_duration_seconds_count", (("step", step),))] == 0


@pytest.mark.parametrize(("step", "seconds"), [("compile", 1.0), ("", 1.0), ("run", -0.1)])
def test_bad_step_observation_is_refused_and_records_nothing(step: str, seconds: float) -> None:
    metrics = NodeMetrics.create()
    with pytest.raises(ValueError, match="step"):
        metrics.observe_step(step, seconds)
    page = samples(metrics.render().decode())
    assert all(page[("zetina_step_duration_seconds_count", (("step", s),))] == 0 for s in STEPS)


def test_gossip_drops_in_and_out_are_exported_as_counted_at_each_scrape() -> None:
    peer = ID(b"peer")
    inbound, outbound = DropLog(), OutboundDrops()
    metrics = NodeMetrics.create()
    metrics.count_gossip_drops(lambda: inbound.counts)
    metrics.count_outbound_drops(lambda: outbound.counts)
    assert not any(name.startswith("zetina_gossip") for name, _ in samples(
        metrics.render().decode()))  # no reason counted yet: no sample

    inbound.record(peer, "jobs", Verdict.reject("bad signature"))
    outbound.record(peer, EXPIRED, rpc_pb2.RPC(), count=3)
    outbound.record(peer, QUEUE_FULL, rpc_pb2.RPC())
    page = samples(metrics.render().decode())
    assert page[("zetina_gossip_messages_dropped_total", (("reason", "bad signature"),))] == 1
    assert page[("zetina_gossip_outbound_dropped_total", (("reason", EXPIRED),))] == 3
    assert page[("zetina_gossip_outbound_dropped_total", (("reason", QUEUE_FULL),))] == 1

    outbound.record(peer, EXPIRED, rpc_pb2.RPC())
    page = samples(metrics.render().decode())
    assert page[("zetina_gossip_outbound_dropped_total", (("reason", EXPIRED),))] == 4


def test_bytes_are_read_from_the_host_at_each_scrape() -> None:
    traffic = Traffic()
    metrics = NodeMetrics.create()
    metrics.count_traffic(lambda: traffic.sent, lambda: traffic.received)
    page = samples(metrics.render().decode())
    assert page[("zetina_bytes_sent_total", ())] == 0
    assert page[("zetina_bytes_received_total", ())] == 0
    traffic.sent += 1500
    traffic.received += 70
    page = samples(metrics.render().decode())
    assert page[("zetina_bytes_sent_total", ())] == 1500
    assert page[("zetina_bytes_received_total", ())] == 70


# --- endpoint: good requests ---------------------------------------------------------------


async def test_metrics_endpoint_serves_the_nodes_figures(nursery: trio.Nursery) -> None:
    metrics = NodeMetrics.create()
    metrics.peers.set(7)
    metrics.jobs.labels(state="proving").set(1)
    port = await start(nursery, StatusService(metrics))

    status, headers, body = await exchange(port, GET_METRICS)

    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=")
    assert int(headers["content-length"]) == len(body)
    page = samples(body.decode())
    assert page[("zetina_peers", ())] == 7
    assert page[("zetina_jobs", (("state", "proving"),))] == 1


async def test_a_standard_http_client_reads_both_endpoints(nursery: trio.Nursery) -> None:
    port = await start(nursery, StatusService(NodeMetrics.create()))

    def fetch(path: str) -> tuple[int, bytes]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()

    status, body = await trio.to_thread.run_sync(fetch, "/metrics")
    assert status == 200
    assert b"zetina_peers 0.0" in body
    status, body = await trio.to_thread.run_sync(fetch, "/health")
    assert status == 200
    assert json.loads(body)["status"] == "ok"


async def test_metrics_endpoint_ignores_a_query_string(nursery: trio.Nursery) -> None:
    port = await start(nursery, StatusService(NodeMetrics.create()))
    status, _, body = await exchange(port, b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
    assert status == 200
    assert b"zetina_peers" in body


async def test_health_is_ok_when_every_check_passes(nursery: trio.Nursery) -> None:
    checks = {"store": lambda: (True, "12 jobs"), "chain": lambda: (True, "block 40")}
    port = await start(nursery, StatusService(NodeMetrics.create(), checks, version="9.9.9"))

    status, headers, body = await exchange(port, GET_HEALTH)

    assert status == 200
    assert headers["content-type"] == "application/json"
    report = json.loads(body)
    assert report["status"] == "ok"
    assert report["version"] == "9.9.9"
    assert report["uptime_seconds"] >= 0
    assert report["checks"] == {
        "store": {"ok": True, "detail": "12 jobs"},
        "chain": {"ok": True, "detail": "block 40"},
    }


async def test_health_is_degraded_when_a_check_fails_or_raises(nursery: trio.Nursery) -> None:
    def broken() -> tuple[bool, str]:
        raise RuntimeError("database locked")

    checks = {"peers": lambda: (False, "0 peers"), "store": broken, "keys": lambda: (True, "")}
    port = await start(nursery, StatusService(NodeMetrics.create(), checks))

    status, _, body = await exchange(port, GET_HEALTH)

    assert status == 503
    report = json.loads(body)
    assert report["status"] == "degraded"
    assert report["version"] == __version__
    assert report["checks"]["peers"] == {"ok": False, "detail": "0 peers"}
    assert report["checks"]["store"]["ok"] is False
    assert "database locked" in report["checks"]["store"]["detail"]
    assert report["checks"]["keys"]["ok"] is True


async def test_head_sends_headers_without_a_body(nursery: trio.Nursery) -> None:
    port = await start(nursery, StatusService(NodeMetrics.create()))
    status, headers, body = await exchange(port, b"HEAD /health HTTP/1.1\r\nHost: a\r\n\r\n")
    assert status == 200
    assert int(headers["content-length"]) > 0
    assert body == b""


async def test_serves_on_the_port_the_caller_chose(nursery: trio.Nursery) -> None:
    free = free_port()
    port = await start(nursery, StatusService(NodeMetrics.create()), free)
    assert port == free
    await assert_still_serving(port)


async def test_a_stopped_endpoint_frees_its_port() -> None:
    async with trio.open_nursery() as nursery:
        port = await start(nursery, StatusService(NodeMetrics.create()))
        await assert_still_serving(port)
        nursery.cancel_scope.cancel()
    with pytest.raises(OSError):
        await trio.open_tcp_stream("127.0.0.1", port)
    async with trio.open_nursery() as nursery:  # and a new node can take it
        assert await start(nursery, StatusService(NodeMetrics.create()), port) == port
        nursery.cancel_scope.cancel()


async def test_a_port_in_use_is_a_clear_error(nursery: trio.Nursery) -> None:
    taken = await start(nursery, StatusService(NodeMetrics.create()))
    with pytest.raises(UserError, match="choose another port"):
        await serve(StatusService(NodeMetrics.create()), taken)
    await assert_still_serving(taken)


# --- endpoint: bad requests ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", 404),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 404),
        (b"POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi", 405),
        (b"DELETE /health HTTP/1.1\r\nHost: a\r\n\r\n", 405),
        (b"\x00\xff garbage \x16\x03\r\n\r\n", 400),
        (b"GET /health HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"GET /health HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 without Host
    ],
    ids=["unknown-path", "root", "post", "delete", "binary-garbage", "bad-header", "no-host"],
)
async def test_bad_requests_get_an_error_status_and_the_server_keeps_serving(
    nursery: trio.Nursery, raw: bytes, expected: int
) -> None:
    port = await start(nursery, StatusService(NodeMetrics.create()))
    status, headers, body = await exchange(port, raw)
    assert status == expected
    assert body  # says what went wrong
    if expected == 405:
        assert headers["allow"] == "GET, HEAD"
    await assert_still_serving(port)


class FailingCollector:
    """A metrics source that breaks while collecting: a fault no real request can cause."""

    def collect(self) -> list[object]:
        raise RuntimeError("sensor gone")


async def test_a_failing_metrics_source_gives_500_and_the_server_keeps_serving(
    nursery: trio.Nursery,
) -> None:
    metrics = NodeMetrics.create()
    port = await start(nursery, StatusService(metrics))
    metrics.registry.register(FailingCollector())

    status, _, body = await exchange(port, GET_METRICS)

    assert status == 500
    assert b"see the node's log" in body
    await assert_still_serving(port)


async def test_huge_headers_get_431_and_the_server_keeps_serving(nursery: trio.Nursery) -> None:
    port = await start(nursery, StatusService(NodeMetrics.create(), max_header_bytes=4096))
    huge = b"GET /health HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    with trio.fail_after(5):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            # the server may stop reading before taking all of it; its reply is still readable
            with contextlib.suppress(trio.BrokenResourceError):
                await stream.send_all(huge)
            reply = await read_to_eof(stream)
    assert reply.startswith(b"HTTP/1.1 431 ")
    await assert_still_serving(port)


async def test_slow_client_times_out_while_others_are_served(nursery: trio.Nursery) -> None:
    port = await start(nursery, StatusService(NodeMetrics.create(), request_timeout=0.5))
    with trio.fail_after(5):
        slow = await trio.open_tcp_stream("127.0.0.1", port)
        async with slow:
            await slow.send_all(b"GET /health HTTP/1.1\r\nHo")  # and then nothing more
            await assert_still_serving(port)
            reply = await read_to_eof(slow)
    assert reply.startswith(b"HTTP/1.1 408 ")
    await assert_still_serving(port)


async def test_trickling_client_is_cut_off_at_the_request_deadline(
    nursery: trio.Nursery,
) -> None:
    port = await start(nursery, StatusService(NodeMetrics.create(), request_timeout=0.5))
    trickle = GET_HEALTH[:-2] + b"X-Pad: " + b"a" * 150  # one byte every 20 ms: about 4 s
    sent = 0
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            with contextlib.suppress(trio.BrokenResourceError):
                for byte in trickle:
                    await stream.send_all(bytes([byte]))
                    sent += 1
                    await trio.sleep(0.02)
            reply = await read_to_eof(stream)
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert sent < len(trickle)  # the deadline is per request, not per read: it never got to finish
    await assert_still_serving(port)


async def test_client_that_closes_at_once_or_mid_request_does_no_harm(
    nursery: trio.Nursery,
) -> None:
    port = await start(nursery, StatusService(NodeMetrics.create()))
    for raw in (b"", b"GET /hea", b"GET /health HTTP/1.1\r\nHost: a\r\n"):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(raw)
        await stream.aclose()
    await assert_still_serving(port)


async def test_connections_beyond_the_cap_are_closed_until_slots_free(
    nursery: trio.Nursery,
) -> None:
    service = StatusService(NodeMetrics.create(), request_timeout=0.5, max_connections=2)
    port = await start(nursery, service)
    with trio.fail_after(5):
        idle = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(2)]
        await trio.sleep(0.1)  # let the server accept both
        extra = await trio.open_tcp_stream("127.0.0.1", port)
        async with extra:
            await extra.send_all(GET_HEALTH)
            assert await read_to_eof(extra) == b""  # closed without an answer
        for stream in idle:
            assert (await read_to_eof(stream)).startswith(b"HTTP/1.1 408 ")
            await stream.aclose()
    await assert_still_serving(port)
