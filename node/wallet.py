"""The node's Starknet identity from its config: chain id, account and contract addresses.

Everything here is plain data or starknet-py objects built without I/O; they are used on the
asyncio side of `node.chain.ChainBridge` (`check_chain` is the one coroutine, run there).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starknet_py.cairo.felt import decode_shortstring, encode_shortstring
from starknet_py.net.account.account import Account
from starknet_py.net.client_errors import ClientError
from starknet_py.net.client_models import SentTransactionResponse
from starknet_py.net.full_node_client import FullNodeClient
from starknet_py.net.models.transaction import AccountTransaction
from starknet_py.net.signer.key_pair import KeyPair
from starknet_py.net.signer.stark_curve_signer import StarkCurveSigner
from starknet_py.utils.typed_data import TypedData

from node.config import Config, ConfigError, env_name
from node.errors import UserError
from node.keys import read_keystore
from node.passwords import keystore_password
from p2p.stark import STARK_PRIME, StarkKeyPair

log = logging.getLogger(__name__)

CONTRACTS = ("token", "registry", "fact_registry")

INVALID_NONCE_CODE = 52
"""The JSON-RPC error of a transaction whose nonce is not the account's next one."""



def chain_id(config: Config) -> int:
    """`chain.chain_id` as a felt: a short string (SN_SEPOLIA) or a 0x-prefixed number."""
    text = config.chain.chain_id.strip()
    try:
        value = int(text, 16) if text.startswith("0x") else encode_shortstring(text)
    except ValueError:
        value = -1
    if not 0 < value < STARK_PRIME:
        raise ConfigError(
            f"chain.chain_id {text!r} is neither a short string like SN_SEPOLIA nor a hex felt"
        )
    return value


def _address(config: Config, setting: str, hint: str) -> int:
    text = str(config.get(setting)).strip()
    if not text:
        raise ConfigError(f"{setting} is not set; {hint} (or set {env_name(setting)})")
    try:
        value = int(text, 16)
    except ValueError:
        value = -1
    if not 0 < value < STARK_PRIME:
        raise ConfigError(f"{setting} = {text!r} is not a Starknet address (0x-prefixed hex)")
    return value


def contract_address(config: Config, name: str) -> int:
    """The address of a deployed contract (`contracts.<name>`)."""
    if name not in CONTRACTS:
        raise ValueError(f"unknown contract {name!r}; one of {', '.join(CONTRACTS)}")
    hint = "run scripts/deploy-registry --config FILE to deploy and record it"
    return _address(config, f"contracts.{name}", hint)


def account_address(config: Config) -> int:
    """This node's Starknet account (`chain.account`)."""
    return _address(config, "chain.account", "put your account's address under [chain] account")


@dataclass(frozen=True)
class Wallet:
    """This node's account on one chain and the Stark key that signs for it."""

    address: int
    key: StarkKeyPair
    chain_id: int

    def account(self, rpc_url: str, estimate_ttl_s: float = 0.0) -> NumberingAccount:
        """A starknet-py account on the node at `rpc_url` (use it on the asyncio side) that
        reuses fee estimates for `estimate_ttl_s` seconds (`chain.fee_estimate_ttl`)."""
        client = FullNodeClient(node_url=rpc_url)
        signer = FastSigner(self.address, self.key, self.chain_id)
        return NumberingAccount(client=client, address=self.address, signer=signer,
                                estimate_ttl_s=estimate_ttl_s)


class NumberingAccount(Account):
    """An account that numbers its own invokes and reuses fee estimates, so that several
    invokes can be in flight and most skip the node's fee estimation.

    Building, signing and sending one invoke is serialised (an asyncio lock); waiting for its
    inclusion is not. The next nonce is read from the node at first, after a send whose fate is
    unknown and after `resync`; an invoke refused for its nonce is retried once with the node's
    nonce (another program may use the same account). An invoke the node refused for another
    reason did not use its nonce. An estimated invoke's resource bounds are reused for the same
    calls (contract, function, calldata length) for `estimate_ttl_s`: such an invoke is not
    checked before it is sent, so a contract's refusal reverts on chain (and costs its fee).
    """

    def __init__(self, *, estimate_ttl_s: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.estimate_ttl_s = estimate_ttl_s
        self._next_nonce: int | None = None
        self._estimates: dict[tuple[tuple[int, int, int], ...], tuple[float, Any]] = {}
        self._sending = asyncio.Lock()

    async def execute_v3(self, calls: Any, **kwargs: Any) -> SentTransactionResponse:
        if kwargs.get("nonce") is not None:
            return await super().execute_v3(calls, **kwargs)
        async with self._sending:
            try:
                return await self._send_next(calls, kwargs)
            except ClientError as error:
                if not _is_nonce_refusal(error):
                    raise
                log.warning("nonce refused; reading it from the node and sending again",
                            extra={"account": hex(self.address), "error": error.message})
                self._next_nonce = None
                return await self._send_next(calls, kwargs)

    async def _send_next(self, calls: Any, kwargs: dict[str, Any]) -> SentTransactionResponse:
        if self._next_nonce is None:
            self._next_nonce = await self.get_nonce()
        key = _calls_key(calls)
        known = self._known_bounds(key) if kwargs.get("auto_estimate") else None
        if known is not None:
            kwargs = {**kwargs, "auto_estimate": False, "resource_bounds": known}
        estimate = bool(kwargs.get("auto_estimate"))
        try:
            signed = await self.sign_invoke_v3(calls, nonce=self._next_nonce, **kwargs)
            sent = await self.client.send_transaction(signed)
        except ClientError:
            self._estimates.pop(key, None)
            raise  # the node answered: nothing was accepted, the nonce is still free
        except BaseException:
            self._estimates.pop(key, None)
            self._next_nonce = None  # sent or not: ask the node next time
            raise
        if estimate:
            self._estimates[key] = (time.monotonic(), signed.resource_bounds)
        self._next_nonce += 1
        return sent

    def _known_bounds(self, key: tuple[tuple[int, int, int], ...]) -> Any:
        estimated_at, bounds = self._estimates.get(key, (-math.inf, None))
        return bounds if time.monotonic() - estimated_at < self.estimate_ttl_s else None

    async def resync(self) -> None:
        """Read the nonce and estimate fees afresh from the next invoke on (one sent failed
        or was lost)."""
        async with self._sending:
            self._next_nonce = None
            self._estimates.clear()


def _calls_key(calls: Any) -> tuple[tuple[int, int, int], ...]:
    """What makes two invokes cost the same: each call's contract, function, calldata length."""
    listed = calls if isinstance(calls, list) else [calls]
    return tuple((call.to_addr, call.selector, len(call.calldata)) for call in listed)


def _is_nonce_refusal(error: ClientError) -> bool:
    return error.code == INVALID_NONCE_CODE or "nonce" in f"{error.message} {error.data}".lower()


class FastSigner(StarkCurveSigner):
    """starknet-py's account signer, signing with `p2p.stark` (compiled, about 0.5 ms) instead
    of starknet-py's pure-Python ECDSA (250-330 ms a signature, twice per estimated
    transaction)."""

    def __init__(self, address: int, key: StarkKeyPair, chain_id: int) -> None:
        super().__init__(address, KeyPair.from_private_key(key.private_key), chain_id)
        self._key = key

    def sign_transaction(self, transaction: AccountTransaction) -> list[int]:
        return list(self._key.sign(transaction.calculate_hash(self.chain_id)))

    def sign_message(self, typed_data: TypedData, account_address: int) -> list[int]:
        return list(self._key.sign(typed_data.message_hash(account_address)))


def load_wallet(config: Config, environ: Mapping[str, str] | None = None) -> Wallet:
    """`chain.account` with the key from its keystore.

    Reads the keystore password from `keys.password_file`, $ZETINA_KEYSTORE_PASSWORD or a prompt.
    """
    address = account_address(config)
    if not config.keystore_path.exists():
        raise UserError(
            f"no keystore at {config.keystore_path}; create one with `node keys new` or "
            "`node keys import --private-key-file F`"
        )
    password = keystore_password(
        config.keys.password_file, os.environ if environ is None else environ, confirm=False
    )
    return Wallet(address, read_keystore(config.keystore_path, password), chain_id(config))


async def check_chain(client: FullNodeClient, expected_chain_id: int) -> None:
    """Fail with a clear error when the node at the RPC URL serves another chain (asyncio)."""
    served = int(await client.get_chain_id(), 16)
    if served != expected_chain_id:
        raise ConfigError(
            f"the node at {client.url} serves chain {_readable(served)}, but chain.chain_id is "
            f"{_readable(expected_chain_id)}; fix chain.rpc_url or chain.chain_id"
        )


def _readable(chain: int) -> str:
    try:
        return decode_shortstring(chain)
    except ValueError:
        return hex(chain)
