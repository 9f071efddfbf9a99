"""A forwarded message: one RPC for all the peers it goes to, encoded once, byte for byte what
py-libp2p would have written (less our signed peer record)."""

from __future__ import annotations

from libp2p.pubsub.pb import rpc_pb2
from libp2p.utils import encode_varint_prefixed

from p2p.rpc_frames import MAX_KEPT_FRAME, SharedRPCs, publish_only


def message(n: int, size: int = 400) -> rpc_pb2.Message:
    return rpc_pb2.Message(
        from_id=b"peer", data=bytes([n % 256]) * size, seqno=n.to_bytes(8, "big"),
        topicIDs=["/zetina/1/jobs"],
    )


def forwarded(n: int) -> rpc_pb2.RPC:
    return rpc_pb2.RPC(publish=[message(n)], senderRecord=b"signed peer record")


def test_one_rpc_for_every_peer_a_message_goes_to():
    shared = SharedRPCs()
    rpc = forwarded(1)
    copies = [shared.share(rpc) for _ in range(5)]  # the router's loop over mesh peers
    assert all(copy is copies[0][0] for copy, _ in copies)
    copy, size = copies[0]
    assert copy == rpc_pb2.RPC(publish=rpc.publish)  # the hello carried the peer record
    assert size == copy.ByteSize()
    assert shared.share(forwarded(2))[0] is not copy  # the next message: its own RPC


def test_a_shared_rpc_is_encoded_once_as_py_libp2p_would():
    shared = SharedRPCs()
    copy, _ = shared.share(forwarded(1))
    frames = [shared.frame(copy) for _ in range(5)]  # each peer's writer
    assert all(frame is frames[0] for frame in frames)
    assert frames[0] == encode_varint_prefixed(copy.SerializeToString())


def test_other_rpcs_are_encoded_each_time_and_forgotten_ones_again():
    shared = SharedRPCs(remembered=2)
    control = rpc_pb2.RPC(control=rpc_pb2.ControlMessage(graft=[rpc_pb2.ControlGraft(topicID="t")]))
    assert shared.frame(control) == encode_varint_prefixed(control.SerializeToString())
    copies = [shared.share(forwarded(n))[0] for n in range(4)]
    for copy in copies:  # the first two fell out: encoded again, still right
        assert shared.frame(copy) == encode_varint_prefixed(copy.SerializeToString())


def test_large_rpcs_are_shared_but_their_encoding_is_not_kept():
    shared = SharedRPCs()
    large = rpc_pb2.RPC(publish=[message(1, size=MAX_KEPT_FRAME)])
    copy, size = shared.share(large)
    assert shared.share(large)[0] is copy and size > MAX_KEPT_FRAME
    first, second = shared.frame(copy), shared.frame(copy)
    assert first == second == encode_varint_prefixed(copy.SerializeToString())
    assert first is not second  # encoded per writer: never hundreds of large frames held


def test_only_messages_without_control_or_subscriptions_are_shared():
    assert publish_only(forwarded(1))
    assert not publish_only(rpc_pb2.RPC())
    assert not publish_only(
        rpc_pb2.RPC(publish=[message(1)], subscriptions=[rpc_pb2.RPC.SubOpts(subscribe=True)])
    )
    assert not publish_only(
        rpc_pb2.RPC(publish=[message(1)], control=rpc_pb2.ControlMessage(iwant=[]))
    )
