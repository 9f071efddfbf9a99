"""One RPC object and one encoding per forwarded message, whichever peers it goes to.

py-libp2p 0.8.1 forwards a message to each mesh peer by copying its RPC (`CopyFrom`), splitting
the copy into size-limited parts (a new RPC), measuring each part, and, when the peer's writer
takes it, serialising it and copying the bytes twice more: ~0.46 ms of CPU per header a node
forwards (to ~2.7 peers at 16 nodes).
A publish-only RPC (messages, no control, no subscriptions) is the same for every peer, so
`SharedRPCs.share` makes one copy for all of them (without our signed peer record: the
stream's hello carries it) and `SharedRPCs.frame` encodes it, varint-prefixed, once, when the
first peer's writer takes it (for RPCs up to MAX_KEPT_FRAME bytes: job headers, bids, notices).
"""

from __future__ import annotations

from libp2p.pubsub.pb import rpc_pb2
from libp2p.utils import encode_varint_prefixed

# Shared RPCs whose encoding is kept; one that falls out is encoded again by its next writer.
REMEMBERED = 128
# Larger RPCs are shared but their encoding is not kept (at most REMEMBERED x this in memory;
# encoding costs little beside sending that much).
MAX_KEPT_FRAME = 64 * 1024


def publish_only(rpc: rpc_pb2.RPC) -> bool:
    """Whether `rpc` carries messages and nothing else that is per peer."""
    return bool(rpc.publish) and not rpc.subscriptions and not rpc.HasField("control")


class SharedRPCs:
    """The publish-only RPCs handed to several peers' outbound queues, each encoded once."""

    def __init__(self, remembered: int = REMEMBERED) -> None:
        self.remembered = remembered
        self._last: tuple[rpc_pb2.RPC, rpc_pb2.RPC, int] | None = None
        # id(shared RPC) -> (that RPC, its frame once encoded); the RPC is held, so its id is
        # not reused while it is here.
        self._frames: dict[int, tuple[rpc_pb2.RPC, bytes | None]] = {}

    def share(self, rpc: rpc_pb2.RPC) -> tuple[rpc_pb2.RPC, int]:
        """The shared copy of publish-only `rpc` and its encoded size: the same copy for
        consecutive calls with the same `rpc` (one per peer it is forwarded to)."""
        if self._last is not None and self._last[0] is rpc:
            return self._last[1], self._last[2]
        shared = rpc_pb2.RPC(publish=rpc.publish)
        size = shared.ByteSize()
        self._last = (rpc, shared, size)
        if size <= MAX_KEPT_FRAME:
            self._frames[id(shared)] = (shared, None)
            if len(self._frames) > self.remembered:
                del self._frames[next(iter(self._frames))]
        return shared, size

    def frame(self, rpc: rpc_pb2.RPC) -> bytes:
        """`rpc` serialised with its varint length prefix; encoded once if it is shared."""
        entry = self._frames.get(id(rpc))
        if entry is None or entry[0] is not rpc:
            return encode_varint_prefixed(rpc.SerializeToString())
        frame = entry[1]
        if frame is None:
            frame = encode_varint_prefixed(rpc.SerializeToString())
            self._frames[id(rpc)] = (rpc, frame)
        return frame
