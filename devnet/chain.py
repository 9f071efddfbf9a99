"""The devnet chain: genesis with predeployed contracts, blocks, receipts, events, dump and load.

Blocks are mined at once after each transaction, or every `block_time` seconds (transactions then
wait in the pre-confirmed block). Receipts keep the values each transaction overwrote, so the
state after any block can be rebuilt for queries.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starkware.cairo.lang.vm.crypto import poseidon_hash_many
from starkware.crypto.signature.signature import EC_ORDER, private_to_stark_key
from starkware.starknet.business_logic.state.state_api import SyncStateReader
from starkware.starknet.business_logic.state.state_api_objects import BlockInfo, ResourcePrice
from starkware.starknet.core.os.contract_address.contract_address import (
    calculate_contract_address_from_hash,
)
from starkware.starknet.definitions.chain_ids import StarknetChainId
from starkware.starknet.definitions.general_config import StarknetGeneralConfig
from starkware.starknet.services.api.contract_class.contract_class import EntryPointType

from devnet import fees
from devnet.classes import builtin_class
from devnet.errors import DuplicateTx, RpcError
from devnet.execution import run_entry_point
from devnet.history import HistoricalState
from devnet.sequencer import CONSTRUCTOR_SELECTOR, Outcome, Sequencer
from devnet.stages import stage
from devnet.state import ChainState
from devnet.state_diff import StateDiff
from devnet.traces import transaction_trace
from devnet.transactions import Transaction

if TYPE_CHECKING:
    from devnet.speculation import ValidateWorker

logger = logging.getLogger(__name__)

FEE_TOKEN_ADDRESS = 0x04718F5A0FC34CC1AF16A1CDEE98FFB20C31F5CD61D6AB07201858F4287C938D
# The universal deployer at the address starknet-py uses by default, and at the legacy one.
UDC_ADDRESS = 0x02CEED65A4BD731034C01113685C831B01C15D7D432F71AFB1CF1634B53A2125
LEGACY_UDC_ADDRESS = 0x041A78E741E5AF2FEC34B695679BC6891742439F7AFB8484ECD7766661AD02BF
SEQUENCER_ADDRESS = 0x1000
ACCOUNT_SALT = 20
STARKNET_VERSION = "0.14.0"
DUMP_FORMAT = 1


@dataclass(frozen=True)
class DevnetConfig:
    """Everything that shapes a devnet's genesis and block production."""

    seed: int = 0
    accounts: int = 10
    initial_balance: int = 10**21
    chain_id: StarknetChainId = StarknetChainId.TESTNET_SEPOLIA
    block_time: float | None = None
    casm_cache: Path | None = None


class SimulationRejected(Exception):
    """Transaction `index` of a simulated batch was rejected with `error`."""

    def __init__(self, index: int, error: RpcError) -> None:
        super().__init__(f"transaction {index}: {error}")
        self.index = index
        self.error = error


@dataclass(frozen=True)
class PredeployedAccount:
    address: int
    private_key: int
    public_key: int


@dataclass
class Block:
    number: int
    hash: int
    parent_hash: int
    timestamp: int
    tx_hashes: list[int] = field(default_factory=list)


@dataclass
class Receipt:
    """What a transaction did; `block_number` is None until its block is mined."""

    tx_hash: int
    tx_type: str
    fee: int
    gas: fees.GasUsage
    events: list[Any]
    revert_reason: str | None
    contract_address: int | None = None
    block_number: int | None = None
    state_diff: StateDiff = field(default_factory=StateDiff)
    previous_values: StateDiff = field(default_factory=StateDiff)


def account_keys(seed: int, index: int) -> tuple[int, int]:
    """The (private, public) key pair of predeployed account `index` for `seed`."""
    digest = hashlib.sha256(f"devnet-account:{seed}:{index}".encode()).digest()
    private = int.from_bytes(digest, "big") % (EC_ORDER - 1) + 1
    return private, private_to_stark_key(private)


class Chain:
    """The chain state, its blocks and transactions, and the sequencer that extends them."""

    def __init__(self, config: DevnetConfig) -> None:
        self.config = config
        self.general_config = StarknetGeneralConfig()
        self.general_config.starknet_os_config.chain_id = config.chain_id
        self.state = ChainState()
        self.sequencer = Sequencer(self.state, self.general_config, FEE_TOKEN_ADDRESS,
                                   config.casm_cache)
        self.blocks: list[Block] = []
        self.pending: list[int] = []
        self.pending_timestamp = int(time.time())
        self.transactions: dict[int, dict[str, Any]] = {}
        self.receipts: dict[int, Receipt] = {}
        self.traces: dict[int, dict[str, Any]] = {}
        self.accounts: list[PredeployedAccount] = []

    @property
    def chain_id(self) -> int:
        return self.config.chain_id.value

    # Genesis.
    def create_genesis(self) -> None:
        """Declare the built-in classes, predeploy token, deployer and funded accounts."""
        for name in ("erc20", "account", "udc"):
            declared = builtin_class(name)
            self.state.add_class(declared.class_hash, declared.compiled_class_hash,
                                 declared.sierra, declared.casm)
        strk = int.from_bytes(b"STRK", "big")
        token_name = int.from_bytes(b"Starknet Token", "big")
        self._predeploy(FEE_TOKEN_ADDRESS, "erc20", [token_name, strk, 18, 0, 0, SEQUENCER_ADDRESS])
        self._predeploy(UDC_ADDRESS, "udc", [])
        self._predeploy(LEGACY_UDC_ADDRESS, "udc", [])
        account_class = builtin_class("account").class_hash
        for index in range(self.config.accounts):
            private, public = account_keys(self.config.seed, index)
            address = calculate_contract_address_from_hash(
                salt=ACCOUNT_SALT, class_hash=account_class, constructor_calldata=[public],
                deployer_address=0)
            self._predeploy(address, "account", [public])
            self.mint(address, self.config.initial_balance)
            self.accounts.append(PredeployedAccount(address, private, public))
        self.mine()

    def _predeploy(self, address: int, class_name: str, calldata: list[int]) -> None:
        declared = builtin_class(class_name)
        view = self.state.begin(self.block_info())
        view.deploy_contract(address, declared.class_hash)
        if declared.casm["entry_points_by_type"]["CONSTRUCTOR"]:
            run_entry_point(view, self.general_config, contract=address,
                            selector=CONSTRUCTOR_SELECTOR, calldata=calldata,
                            entry_point_type=EntryPointType.CONSTRUCTOR)
        self.state.commit(view.cache)

    def mint(self, address: int, amount: int) -> int:
        """Credit `amount` fee tokens to `address` (devnet only); return the new balance."""
        view = self.state.begin(self.block_info())
        balance = self.sequencer.fee_token.mint(view, address, amount)
        self.state.commit(view.cache)
        return balance

    # Blocks.
    @property
    def latest(self) -> Block:
        return self.blocks[-1]

    def block_info(self) -> BlockInfo:
        """The block the next transaction runs in."""
        def price(value: int) -> ResourcePrice:
            return ResourcePrice(price_in_wei=value, price_in_fri=value)

        return BlockInfo(
            block_number=len(self.blocks), block_timestamp=self.pending_timestamp,
            l1_gas_price=price(fees.L1_GAS_PRICE), l1_data_gas_price=price(fees.L1_DATA_GAS_PRICE),
            l2_gas_price=price(fees.L2_GAS_PRICE), sequencer_address=SEQUENCER_ADDRESS,
            starknet_version=STARKNET_VERSION, use_kzg_da=True)

    def mine(self) -> Block:
        """Close the pre-confirmed block (even if empty) and open the next one."""
        number = len(self.blocks)
        parent = self.blocks[-1].hash if self.blocks else 0
        block_hash = poseidon_hash_many([number, parent, self.pending_timestamp, *self.pending])
        block = Block(number, block_hash, parent, self.pending_timestamp, self.pending)
        self.blocks.append(block)
        for tx_hash in block.tx_hashes:
            self.receipts[tx_hash].block_number = number
        self.pending = []
        self.pending_timestamp = max(int(time.time()), block.timestamp)
        logger.info("block mined", extra={"block_number": number, "txs": len(block.tx_hashes)})
        return block

    # Transactions.
    def simulate(self, txs: list[Transaction], *, validate: bool = True,
                 charge_fee: bool = True) -> list[Outcome]:
        """Run `txs` one after the other on the newest state without committing anything.

        A rejected transaction raises `SimulationRejected` naming its index.
        """
        outcomes: list[Outcome] = []
        for index, tx in enumerate(txs):
            after = outcomes[-1].view if outcomes else None
            try:
                outcomes.append(self.sequencer.run(
                    tx, self.block_info(), validate=validate,
                    charge_fee=charge_fee and not tx.is_query, after=after))
            except RpcError as exc:
                raise SimulationRejected(index, exc) from exc
        return outcomes

    def add(self, tx: Transaction) -> int:
        """Check, execute and include `tx`; mine at once unless a block time is set."""
        if tx.hash in self.transactions:
            raise DuplicateTx(hex(tx.hash))
        started = time.perf_counter()
        outcome = self.sequencer.run(tx, self.block_info(), speculate=True)
        with stage("state diff and commit"):
            state_diff = StateDiff.from_cache(outcome.view.cache)
            previous_values = state_diff.previous_values(self.state)
            declared = () if outcome.declared is None else (outcome.declared,)
            self.state.apply(state_diff, declared)
        with stage("receipt and trace"):
            self.transactions[tx.hash] = tx.to_rpc()
            self.receipts[tx.hash] = Receipt(
                tx.hash, tx.type, outcome.fee, outcome.gas, [e.to_rpc() for e in outcome.events],
                outcome.revert_reason, tx.sender if tx.type == "DEPLOY_ACCOUNT" else None,
                state_diff=state_diff, previous_values=previous_values)
            self.traces[tx.hash] = transaction_trace(outcome)
        self.pending.append(tx.hash)
        logger.info("transaction accepted", extra={
            "tx_hash": hex(tx.hash), "type": tx.type, "reverted": outcome.revert_reason is not None,
            "ms": round((time.perf_counter() - started) * 1000)})
        if self.config.block_time is None:
            with stage("block mining"):
                self.mine()
        return tx.hash

    def state_diff(self, tx_hashes: list[int]) -> StateDiff:
        """The combined state diff of `tx_hashes`, in order."""
        combined = StateDiff()
        for tx_hash in tx_hashes:
            combined = combined.merge(self.receipts[tx_hash].state_diff)
        return combined

    def state_after(self, block: Block | None) -> SyncStateReader:
        """The state after `block` was mined; the newest state (pending included) for None."""
        if block is None:
            return self.state
        later = [tx for b in self.blocks[block.number + 1:] for tx in b.tx_hashes] + self.pending
        if not later:
            return self.state
        return HistoricalState(self.state, [self.receipts[t].previous_values for t in later])

    def speculate_with(self, worker: ValidateWorker) -> None:
        """Run invokes' `__validate__` on `worker` (started on this chain's state if it
        serves another one)."""
        if worker.state is not self.state:
            worker.attach(self.state)
        self.sequencer.worker = worker

    # Dump and load.
    def dump(self, path: Path) -> None:
        """Write the whole chain to `path` (JSON), atomically."""
        data = {
            "format": DUMP_FORMAT,
            "config": {"seed": self.config.seed, "accounts": self.config.accounts,
                       "chain_id": self.config.chain_id.name},
            "accounts": [[hex(a.address), hex(a.private_key), hex(a.public_key)]
                         for a in self.accounts],
            "state": self.state.to_json(),
            "blocks": [[b.number, hex(b.hash), hex(b.parent_hash), b.timestamp,
                        [hex(t) for t in b.tx_hashes]] for b in self.blocks],
            "pending": [hex(t) for t in self.pending],
            "transactions": list(self.transactions.values()),
            "receipts": [_receipt_to_json(r) for r in self.receipts.values()],
        }
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, config: DevnetConfig) -> Chain:
        """Rebuild a chain written by `dump`; ValueError if the file is not a devnet dump."""
        try:
            data = json.loads(path.read_text())
            if data.get("format") != DUMP_FORMAT:
                raise ValueError(f"unknown dump format {data.get('format')!r}")
            chain = cls(config)
            chain.state = ChainState.from_json(data["state"])
            chain.sequencer.state = chain.state
            chain.accounts = [PredeployedAccount(*(int(v, 16) for v in a))
                              for a in data["accounts"]]
            chain.blocks = [Block(n, int(h, 16), int(p, 16), ts, [int(t, 16) for t in txs])
                            for n, h, p, ts, txs in data["blocks"]]
            chain.pending = [int(t, 16) for t in data["pending"]]
            chain.transactions = {int(t["transaction_hash"], 16): t
                                  for t in data["transactions"]}
            chain.receipts = {r.tx_hash: r for r in map(_receipt_from_json, data["receipts"])}
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path} is not a devnet dump: {exc!r}") from exc
        return chain


def _receipt_to_json(receipt: Receipt) -> dict[str, Any]:
    return {"tx_hash": hex(receipt.tx_hash), "type": receipt.tx_type, "fee": hex(receipt.fee),
            "gas": receipt.gas.to_resources(), "events": receipt.events,
            "revert_reason": receipt.revert_reason,
            "contract_address": None if receipt.contract_address is None
            else hex(receipt.contract_address),
            "block_number": receipt.block_number, "state_diff": receipt.state_diff.to_json(),
            "previous_values": receipt.previous_values.to_json()}


def _receipt_from_json(data: dict[str, Any]) -> Receipt:
    address = data["contract_address"]
    return Receipt(int(data["tx_hash"], 16), data["type"], int(data["fee"], 16),
                   fees.GasUsage(**data["gas"]), data["events"], data["revert_reason"],
                   None if address is None else int(address, 16), data["block_number"],
                   StateDiff.from_json(data["state_diff"]),
                   StateDiff.from_json(data["previous_values"]))
