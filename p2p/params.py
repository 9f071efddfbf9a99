"""Every protocol id, topic name and tunable of the transport layer, in one place.

py-libp2p 0.8.1 defaults that are unsafe or slow for this network are overridden here; each
override names the default it replaces.
"""

from __future__ import annotations

from typing import Final

from p2p import limits

# Gossip topics (versioned; a breaking change to a message layout bumps the number).
TOPIC_JOBS: Final = "/zetina/1/jobs"
TOPIC_BIDS: Final = "/zetina/1/bids"
TOPIC_ASSIGNMENTS: Final = "/zetina/1/assignments"
TOPIC_DONE: Final = "/zetina/1/done"
TOPIC_SCORES: Final = "/zetina/1/scores"
ALL_TOPICS: Final = (TOPIC_JOBS, TOPIC_BIDS, TOPIC_ASSIGNMENTS, TOPIC_DONE, TOPIC_SCORES)

# Standard libp2p protocol ids, so go-, rust- and js-libp2p peers interoperate.
GOSSIPSUB_PROTOCOLS: Final = ("/meshsub/1.2.0", "/meshsub/1.1.0", "/meshsub/1.0.0")
# Our own request/response protocol: fetch a DHT value straight from the peer that published it.
FETCH_PROTOCOL: Final = "/zetina/fetch/1.0.0"
# Our own streaming protocol: a client's requests straight to a streaming job's executor.
STREAM_PROTOCOL: Final = "/zetina/stream/1.0.0"

# DHT namespaces: keys are /<namespace>/<hex sha256(value)>.
NS_BODY: Final = "zetina-body"
NS_WITNESS: Final = "zetina-witness"
NS_VOLUME: Final = "zetina-volume"
DHT_NAMESPACES: Final = (NS_BODY, NS_WITNESS, NS_VOLUME)

# Size limits.
MAX_GOSSIP_MESSAGE: Final = 1 * 1024 * 1024  # one pubsub RPC; headers are a few hundred bytes
# A value stored in DHT records. py-libp2p (like go-libp2p) refuses DHT messages above 4 MiB
# and records above 1 MiB, so larger values are announced with a provider record only and
# fetched over FETCH_PROTOCOL.
MAX_DHT_RECORD: Final = 1024 * 1024 - 4096
MAX_VALUE: Final = max(  # fetched directly
    limits.MAX_BODY_BYTES, limits.MAX_WITNESS_BYTES, limits.MAX_VOLUME_BYTES
)
MAX_FETCH_KEY: Final = 256  # a fetch request is one namespaced key
LOCAL_STORE_BYTES: Final = 512 * 1024 * 1024  # values kept to serve others (oldest evicted)

# Connections. max_connections_per_peer=1: the default 3 makes every outgoing dial wait for
# the 250 ms "happy eyeballs" fallback timer.
MAX_CONNECTIONS: Final = 200
MAX_CONNECTIONS_PER_PEER: Final = 1
DIAL_TIMEOUT: Final = 5.0
ADDRS_CACHE_SECONDS: Final = 1.0  # how long our advertised address list is reused
STREAM_WRITE_TIMEOUT: Final = 30.0  # seconds one payload or frame write may take once begun
CLOSE_TIMEOUT: Final = 5.0  # seconds allowed for hanging up all connections on shutdown
# A new connection's identify and gossipsub streams wait while a request on it is in flight
# (p2p.housekeeping): on a connection the peer dialed, this long first (for the request it
# dialed for to arrive), and never longer than the limit.
HOUSEKEEPING_GRACE: Final = 0.05
HOUSEKEEPING_MAX_DELAY: Final = 0.5
MULTIADDR_CACHE: Final = 4096  # entries in each of p2p.addrcache's caches (parses, texts)
PEER_RECORD_CACHE: Final = 4096  # valid signed peer records remembered (p2p.peer_records)
CONNECT_RETRIES: Final = 5
CONNECT_BACKOFF_INITIAL: Final = 0.2  # seconds, doubled after each failure
CONNECT_BACKOFF_MAX: Final = 5.0

# GossipSub mesh (spec defaults D=6, Dlo=4, Dhi=12).
MESH_DEGREE: Final = 6
MESH_DEGREE_LOW: Final = 4
MESH_DEGREE_HIGH: Final = 12
# py-libp2p default heartbeat is 120 s; the gossipsub spec says 1 s.
HEARTBEAT_INTERVAL: Final = 1
HEARTBEAT_INITIAL_DELAY: Final = 0.1
# Per remote peer and topic. py-libp2p defaults to 10/s and applies it to our own publishes too.
MAX_MESSAGES_PER_PEER_PER_SECOND: Final = 2000.0
# py-libp2p's subscription queue holds 32 messages and drops the rest silently.
SUBSCRIPTION_QUEUE: Final = 4096
SEEN_TTL: Final = 120  # seconds a message id is remembered (duplicate suppression)

# Peer scoring. py-libp2p's thresholds default to -inf, i.e. scoring never acts.
INVALID_MESSAGE_PENALTY: Final = 10.0  # score lost per rejected message
GARBAGE_STREAM_PENALTY: Final = 50.0  # score lost per stream carrying bytes that are no RPC
PENALTY_DECAY_PER_SECOND: Final = 0.99  # half-life about 70 s
GOSSIP_THRESHOLD: Final = -10.0  # below: no gossip to or from the peer
PUBLISH_THRESHOLD: Final = -20.0  # below: we do not forward its messages nor publish to it
GRAYLIST_THRESHOLD: Final = -40.0  # below: its GRAFTs are refused as well

# Kad-DHT.
REPUBLISH_INTERVAL: Final = 3600.0  # seconds between re-puts of the values we published
DHT_GET_TIMEOUT: Final = 10.0
DHT_ALPHA: Final = 3  # DHT queries in flight per lookup (the Kademlia paper's alpha)
DHT_QUERY_TIMEOUT: Final = 3.0  # seconds one peer has to answer one DHT request
# A provider named by a DHT answer is fetched from alone for this long (or while it sends the
# value): no other query dials and competes with its new connection; then the walk goes on.
PROVIDER_HEAD_START: Final = 1.0
WALK_BUSY_RECHECK: Final = 0.05  # seconds between looks at whether the walk may go on
FETCH_TIMEOUT: Final = 10.0
# A get whose sources ran out of time tries again (pausing 0.5 s, then twice as long each
# time, at most 4 s) until this many seconds have passed; below the 20 s its callers allow.
GET_PATIENCE: Final = 18.0
GET_RETRY_INITIAL: Final = 0.5
GET_RETRY_MAX: Final = 4.0

# Streaming sessions (p2p/stream.py).
MAX_STREAM_REQUEST_FELTS: Final = 1024  # felts in one request
MAX_STREAM_FRAME: Final = (limits.MAX_OUTPUT_FELTS + MAX_STREAM_REQUEST_FELTS) * 34 + 4096
STREAM_OPEN_TIMEOUT: Final = 10.0  # seconds for a stream's first frame and for a refusal
# How long an executor holds a client's open for a session that is starting (body fetch).
STREAM_SESSION_WAIT: Final = 20.0
# A get that knows the publisher fetches from it alone for this long before DHT lookups start.
PUBLISHER_HEAD_START: Final = 1.0
PEER_ADDR_TTL: Final = 600  # seconds a provider's addresses stay in the peerstore
PEER_ADDRS_WAIT: Final = 30.0  # seconds a new peer's addresses (identify) may take to arrive
# ADD_PROVIDER requests a DHT server takes from one peer per 10 s window; py-libp2p's 10 drops
# the announcements of a delegator that publishes (or republishes) more values at once.
PROVIDER_ANNOUNCES_PER_PEER: Final = 1000
# py-libp2p's per-peer outbound RPC queue holds 32 RPCs and drops the rest.
OUTBOUND_QUEUE: Final = 4096
# Seconds an RPC may wait in a peer's outbound queue; older ones are dropped, not sent late
# (py-libp2p keeps them for as long as the peer takes). A burst of 500 headers through 5
# nodes in one process waited up to 17 s at load 7, so a busy but live link loses nothing.
# Messages with a lifetime (job headers: their deadline) are dropped as soon as it ends.
OUTBOUND_MAX_AGE: Final = 60.0
IDONTWANT_THRESHOLD: Final = 1024  # bytes; go-libp2p's IDontWantMessageThreshold
