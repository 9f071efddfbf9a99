"""A network notifee that ignores every event; subclasses override the ones they need."""

from __future__ import annotations

from libp2p.abc import INetConn, INetStream, INetwork, INotifee
from multiaddr import Multiaddr


class Notifee(INotifee):
    """Does nothing on any network event (py-libp2p's INotifee has no defaults)."""

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        """A connection to a peer is up."""

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        """A connection to a peer is closed."""

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        """A stream was opened (either way)."""

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        """A stream was closed."""

    async def listen(self, network: INetwork, multiaddr: Multiaddr) -> None:
        """The network listens on `multiaddr`."""

    async def listen_close(self, network: INetwork, multiaddr: Multiaddr) -> None:
        """The network stopped listening on `multiaddr`."""
