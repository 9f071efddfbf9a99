"""Public keys for the gossip validators: answered at once, looked up on chain when unknown."""

from __future__ import annotations

import logging

import trio

from node.chain import AccountKeys, ChainError

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5.0
"""How long an account whose lookup failed or found no key is not looked up again."""


class KeyDirectory:
    """`lookup(account)` for `p2p.topic_checks`: the account's Stark public key if known.

    An unknown account's key is fetched in the background (one fetch per account at a time, at
    most every RETRY_AFTER_S), so that its next message is judged; senders re-publish until they
    see an answer, so a first message that was ignored is not lost.
    """

    def __init__(self, keys: AccountKeys, nursery: trio.Nursery) -> None:
        self._keys = keys
        self._nursery = nursery
        self._not_before: dict[int, float] = {}

    def lookup(self, account: int) -> int | None:
        key = self._keys.public_key(account)
        if key is None and trio.current_time() >= self._not_before.get(account, 0.0):
            self._not_before[account] = trio.current_time() + RETRY_AFTER_S
            self._nursery.start_soon(self._fetch, account)
        return key

    async def ensure(self, account: int) -> int | None:
        """The account's key, fetched now if it is not known yet."""
        return self._keys.public_key(account) or await self._fetch(account)

    async def _fetch(self, account: int) -> int | None:
        try:
            key = await self._keys.fetch(account)
        except ChainError as error:
            log.warning("public key lookup failed", extra={"account": hex(account),
                                                           "error": str(error)})
            return None
        if key is None:
            log.info("account has no public key", extra={"account": hex(account)})
        else:
            log.info("public key learned", extra={"account": hex(account)})
            self._not_before.pop(account, None)
        return key
