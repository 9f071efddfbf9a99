"""CPU per Noise transport message: py-libp2p's SecureSession beside p2p.noise_session.

Both ends of one Noise session run in this process over a real TCP connection on 127.0.0.1,
after a real XX handshake (py-libp2p's as the initiator, ours as the responder, which hands the
finished session to NoiseSession or, for "stock", keeps py-libp2p's). Prints, per variant, the
process CPU per message (a gossip header's size by default) for the responder reading what
the initiator writes and for the responder writing what the initiator reads: each figure holds
both ends' work, so the difference between variants is the responder's. Variants alternate
run by run; medians and the ratio ours / stock are printed last.

    .venv/bin/python bench/noise_session.py --messages 3000 --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import trio
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519
from libp2p.io.trio import TrioTCPStream
from libp2p.network.connection.raw_connection import RawConnection
from libp2p.peer.id import ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.security.secure_session import SecureSession

from p2p import readahead


async def session_pair(lean: bool) -> tuple[SecureSession, SecureSession]:
    """(py-libp2p's initiator, our responder) over one TCP connection on 127.0.0.1."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    client = RawConnection(TrioTCPStream(await trio.open_tcp_stream("127.0.0.1", port)), True)
    server = RawConnection(TrioTCPStream(await listeners[0].accept()), False)
    await listeners[0].aclose()
    client_keys, server_keys = create_new_key_pair(), create_new_key_pair()
    stock = NoiseTransport(client_keys, create_x25519().private_key)
    ours = readahead.ReadAheadNoise(server_keys, noise_privkey=create_x25519().private_key)
    sessions: list[SecureSession] = []

    async def initiate() -> None:
        peer = ID.from_pubkey(server_keys.public_key)
        sessions.append(await stock.secure_outbound(client, peer))  # type: ignore[arg-type]

    lean_session = readahead._lean
    if not lean:
        readahead._lean = lambda session, conn, ahead: session  # type: ignore[assignment]
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(initiate)
            responder = await ours.secure_inbound(server)
    finally:
        readahead._lean = lean_session
    return sessions[0], responder  # type: ignore[return-value]


async def drain(session: SecureSession, size: int) -> None:
    received = 0
    while received < size:
        received += len(await session.read())


async def one_way(writer: SecureSession, reader: SecureSession, count: int, size: int) -> float:
    """CPU µs per message for `count` messages of `size` bytes, each its own write."""
    message = os.urandom(size)
    start = time.process_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(drain, reader, count * size)
        for _ in range(count):
            await writer.write(message)
            await trio.sleep(0)  # the reader takes each message as it comes, as gossip does
    return (time.process_time() - start) / count * 1e6


async def main(args: argparse.Namespace) -> None:
    rows: dict[str, list[tuple[float, float]]] = {"stock": [], "ours": []}
    print(f"{'variant':>8} {'read us/msg':>12} {'write us/msg':>13}")
    for _ in range(args.runs):
        for variant in ("stock", "ours"):
            initiator, responder = await session_pair(lean=variant == "ours")
            read = await one_way(initiator, responder, args.messages, args.size)
            write = await one_way(responder, initiator, args.messages, args.size)
            rows[variant].append((read, write))
            print(f"{variant:>8} {read:12.1f} {write:13.1f}")
            await initiator.close()
            await responder.close()
    medians = {v: [statistics.median(col) for col in zip(*r, strict=True)] for v, r in rows.items()}
    print(f"medians of {args.runs} runs, {args.size}-byte messages")
    for variant, (read, write) in medians.items():
        print(f"{variant:>8} {read:12.1f} {write:13.1f}")
    ratios = [o / s for o, s in zip(medians["ours"], medians["stock"], strict=True)]
    print(f"ours/stock: read x{ratios[0]:.2f}  write x{ratios[1]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=3000, help="messages per run and way")
    parser.add_argument("--size", type=int, default=540, help="bytes per message")
    parser.add_argument("--runs", type=int, default=5, help="runs per variant (alternating)")
    trio.run(main, parser.parse_args())
