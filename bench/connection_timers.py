"""Where a new connection's CPU goes, part by part (bench helper for bench/new_connection.py).

`install()` wraps, in this process, the functions a new connection runs through on both ends,
with bench/hop_timers.py's exclusive CPU timers: each part is charged its own CPU time, less
that of the wrapped functions it calls, and what no wrapped function covers (trio's
scheduler, task spawns, the code in between) is the remainder. Parts: socket I/O, the Noise
handshake and its Ed25519 work, Noise messages after it, multistream-select, Yamux, the
swarm's dial / upgrade / notifees, identify (building and sending ours, reading and parsing
theirs, the peerstore update, the signed peer record), multiaddr parsing and formatting, peer
id base58, peerstore, the gossipsub hello / subscriptions / GRAFT / heartbeat, the DHT
routing-table feeder, and logging calls made with logging off.
"""

from __future__ import annotations

import hop_timers

PARTS = {
    "socket I/O": (
        ("libp2p.io.trio:TrioTCPStream", "read"),
        ("libp2p.io.trio:TrioTCPStream", "write"),
    ),
    "Noise XX handshake (DH, ChaCha, payload)": (
        ("p2p.readahead:ReadAheadNoise", "secure_inbound"),
        ("p2p.readahead:ReadAheadNoise", "secure_outbound"),
    ),
    "Ed25519 sign / verify, key decoding": (
        ("libp2p.crypto.ed25519:Ed25519PublicKey", "verify"),
        ("libp2p.crypto.ed25519:Ed25519PrivateKey", "sign"),
        ("libp2p.crypto.serialization", "deserialize_public_key"),
    ),
    "Noise messages (encrypt, decrypt, framing)": (
        ("libp2p.security.noise.io:NoiseTransportReadWriter", "encrypt"),
        ("libp2p.security.noise.io:NoiseTransportReadWriter", "decrypt"),
        ("libp2p.security.noise.io:BaseNoiseMsgReadWriter", "read_msg"),
        ("libp2p.security.noise.io:BaseNoiseMsgReadWriter", "write_msg"),
        ("libp2p.security.secure_session:SecureSession", "read"),
        ("libp2p.security.secure_session:SecureSession", "write"),
    ),
    "multistream-select": (
        ("libp2p.protocol_muxer.multiselect:Multiselect", "negotiate"),
        ("p2p.multistream:PipelinedMultiselectClient", "select_one_of"),
        ("p2p.multistream:ProposedConnection", "_check_acceptance"),
    ),
    "Yamux (frames, streams, windows)": (
        ("p2p.yamux_frames:FrameReader", "run"),
        ("p2p.yamux:SerialYamuxStream", "read"),
        ("p2p.yamux:SerialYamuxStream", "write"),
        ("p2p.yamux:SerialYamux", "_write_frame"),
        ("p2p.yamux:SerialYamux", "open_stream"),
        ("libp2p.stream_muxer.yamux.yamux:YamuxStream", "close"),
    ),
    "swarm: dial, upgrade, add_conn, notifees": (
        ("libp2p.network.swarm:Swarm", "dial_peer"),
        ("libp2p.network.swarm:Swarm", "upgrade_inbound_raw_conn"),
        ("libp2p.network.swarm:Swarm", "add_conn"),
        ("libp2p.network.swarm:Swarm", "_notify"),
        ("libp2p.network.swarm:Swarm", "new_stream"),
    ),
    "identify: build and send ours": (
        ("libp2p.identity.identify.identify", "_mk_identify_protobuf"),
    ),
    "identify: ask, read, parse theirs": (("libp2p.host.basic_host:BasicHost", "_identify_peer"),),
    "identify: peerstore update": (("libp2p.host.basic_host", "update_peerstore_from_identify"),),
    "signed peer records (verify, parse, seal)": (
        ("libp2p.identity.update", "consume_envelope"),
        ("p2p.gossip", "maybe_consume_signed_record"),
        ("libp2p.pubsub.pubsub", "env_to_send_in_RPC"),
        ("libp2p.identity.identify.identify", "env_to_send_in_RPC"),
    ),
    "multiaddr parse / format": (
        ("multiaddr:Multiaddr", "__init__"),
        ("multiaddr.multiaddr", "bytes_to_string"),  # str(addr)'s work
        ("multiaddr:Multiaddr", "protocols"),
    ),
    "peer id base58": (("libp2p.peer.id:ID", "to_base58"),),
    "peerstore": tuple(
        ("libp2p.peer.peerstore:PeerStore", name)
        for name in (
            "add_addr",
            "add_addrs",
            "addrs",
            "clear_addrs",
            "add_protocols",
            "supports_protocols",
            "consume_peer_record",
            "peer_info",
            "add_pubkey",
            "pubkey",
            "clear_protocol_data",
        )
    ),
    "gossip: new peer (hello, queue, recent messages)": (
        ("p2p.gossip:GuardedPubsub", "_handle_new_peer"),
        ("libp2p.pubsub.pubsub:Pubsub", "_handle_new_peer"),
    ),
    "gossip: read RPCs (subscriptions, GRAFT)": (
        ("p2p.gossip:GuardedPubsub", "continuously_read_stream"),
        ("libp2p.pubsub.gossipsub:GossipSub", "handle_rpc"),
        ("libp2p.pubsub.pubsub:Pubsub", "handle_subscription"),
    ),
    "gossip: heartbeat (mesh, GRAFT sends)": (("libp2p.pubsub.gossipsub:GossipSub", "heartbeat"),),
    "DHT routing-table feeder": (
        ("p2p.dht:RoutingTableFeeder", "connected"),
        ("p2p.dht:RoutingTableFeeder", "_add"),
        ("p2p.dht:RoutingTableFeeder", "_add_when_addressed"),
    ),
    "logging calls (logging off)": tuple(
        ("logging:Logger", name) for name in ("debug", "info", "isEnabledFor")
    ),
    "task spawns (anyio service)": (
        ("libp2p.tools.anyio_service.trio_manager:TrioManager", "run_task"),
    ),
}


def _owner(spec: str) -> object | None:
    """The module or class `module[:Class]`, or None if this code has no such class."""
    module_name, _, class_name = spec.partition(":")
    module = __import__(module_name, fromlist=["_"])
    return getattr(module, class_name, None) if class_name else module


def install() -> None:
    """Wrap every part's functions (those this code has) with exclusive CPU timers."""
    for part, functions in PARTS.items():
        for spec, name in functions:
            hop_timers._wrap(_owner(spec), name, part)


def snapshot() -> dict[str, float]:
    """CPU ms per part so far."""
    return dict(hop_timers.TIMERS.snapshot()["ms"])
