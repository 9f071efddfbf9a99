"""The cached runner (`devnet.runner`) gives the call infos of cairo-lang's own runner.

Each case runs the same entry point on the same state twice, with the devnet's cached set-up and
with cairo-lang's runner, and compares the whole `CallInfo`: return data, gas, events, storage
reads, nested calls and execution resources (steps, memory holes, builtin instances).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starkware.cairo.lang.vm.memory_dict import MemoryDict
from starkware.cairo.lang.vm.memory_segments import MemorySegmentManager
from starkware.cairo.lang.vm.relocatable import RelocatableValue
from starkware.cairo.lang.vm.vm_exceptions import SecurityError
from starkware.crypto.signature.signature import EC_ORDER, sign
from starkware.starknet.business_logic.execution.objects import CallInfo
from starkware.starknet.definitions.execution_mode import ExecutionMode
from starkware.starknet.public.abi import get_selector_from_name

from devnet import runner
from devnet.chain import FEE_TOKEN_ADDRESS, Chain, DevnetConfig
from devnet.execution import DevnetEntryPoint, ExecutionFailed, TxContext, run_entry_point

U128 = 2**128
TRANSFER = get_selector_from_name("transfer")


@pytest.fixture(scope="module")
def chain() -> Chain:
    chain = Chain(DevnetConfig(accounts=2, initial_balance=10**20))
    chain.create_genesis()
    return chain


def both_ways(chain: Chain, **call: object) -> tuple[object, object]:
    """(cached, stock) outcome of one entry point: its CallInfo, or the failure reason."""
    outcomes = []
    for cached in (True, False):
        DevnetEntryPoint.cached_setup = cached
        try:
            view = chain.state.begin(chain.block_info())
            outcomes.append(run_entry_point(view, chain.general_config, **call))  # type: ignore[arg-type]
        except ExecutionFailed as exc:
            outcomes.append((exc.reason, exc.call_info))
        finally:
            DevnetEntryPoint.cached_setup = True
    return outcomes[0], outcomes[1]


@settings(max_examples=8, deadline=None)
@given(recipient=st.integers(1, 2**251), amount=st.integers(0, 2**256 - 1))
def test_token_transfer_matches(chain: Chain, recipient: int, amount: int) -> None:
    """Transfers within the balance succeed, larger ones panic; both runners agree."""
    cached, stock = both_ways(
        chain, contract=FEE_TOKEN_ADDRESS, selector=TRANSFER, caller=chain.accounts[0].address,
        calldata=[recipient, amount % U128, amount // U128])
    assert cached == stock


@settings(max_examples=4, deadline=None)
@given(amount=st.integers(0, 10**18), forged=st.booleans())
def test_account_validate_and_execute_match(chain: Chain, amount: int, forged: bool) -> None:
    """`__validate__` (ECDSA, EC-op builtin) and `__execute__` (a nested call) agree."""
    account = chain.accounts[1]
    calldata = [1, FEE_TOKEN_ADDRESS, TRANSFER, 3, 0x1234, amount, 0]
    tx_hash = amount + 1
    key = account.private_key if not forged else (account.private_key + 1) % EC_ORDER
    context = TxContext(account=account.address, tx_hash=tx_hash,
                        signature=list(sign(tx_hash, key)))
    for name, mode in (("__validate__", ExecutionMode.VALIDATE),
                       ("__execute__", ExecutionMode.EXECUTE)):
        cached, stock = both_ways(chain, contract=account.address,
                                  selector=get_selector_from_name(name), calldata=calldata,
                                  context=context, mode=mode)
        assert cached == stock
    if isinstance(cached, CallInfo):
        assert cached.internal_calls, "the transfer ran as a nested call"


def test_programs_and_hints_are_cached(chain: Chain) -> None:
    balance_of = dict(contract=FEE_TOKEN_ADDRESS, selector=get_selector_from_name("balance_of"),
                      calldata=[chain.accounts[0].address])
    both_ways(chain, **balance_of)
    programs, hints = dict(runner._programs), dict(runner._hints)
    cached, stock = both_ways(chain, **balance_of)
    assert cached == stock
    assert runner._programs == programs and runner._hints.keys() == hints.keys()
    assert all(runner._hints[key] is code for key, code in hints.items())



def segments_with_memory(cells: dict[object, int]) -> MemorySegmentManager:
    """Three segments (one finalized at size 6) holding `cells`, sizes computed."""
    segments = MemorySegmentManager(MemoryDict(cells), prime=2**251 + 17 * 2**192 + 1)
    for _ in range(3):
        segments.add()
    segments.finalize(2, size=6)
    segments.memory.freeze()
    segments.compute_effective_sizes()
    return segments


def test_memory_holes_and_sizes_match_cairo_lang() -> None:
    cells = {RelocatableValue(0, offset): 1 for offset in (0, 1, 4)}
    cells |= {RelocatableValue(1, 2): 7, RelocatableValue(2, 0): 3}
    segments = segments_with_memory(cells)
    assert runner.used_sizes(cells, range(3)) == segments._segment_used_sizes
    for accessed in ({RelocatableValue(0, 0), RelocatableValue(0, 4), RelocatableValue(2, 5)},
                     set(cells), set()):
        assert runner.memory_holes(segments, accessed) == segments.get_memory_holes(accessed)


@pytest.mark.parametrize("address", [5, RelocatableValue(0, -1), RelocatableValue(0, 9),
                                     RelocatableValue(7, 0)])
def test_memory_holes_of_a_bad_address_raise_cairo_langs_error(address: object) -> None:
    segments = segments_with_memory({RelocatableValue(0, 3): 1})
    accessed = {RelocatableValue(0, 0), address}
    with pytest.raises((AssertionError, KeyError)) as stock:
        segments.get_memory_holes(accessed)
    with pytest.raises(stock.type, match=re.escape(str(stock.value))):
        runner.memory_holes(segments, accessed)


def test_sizes_of_a_memory_with_a_bad_address_raise_cairo_langs_error() -> None:
    with pytest.raises(SecurityError, match="Expected memory address to be relocatable"):
        runner.used_sizes([RelocatableValue(0, 1), 5], range(2))
    with pytest.raises(KeyError):  # a segment that was never added
        runner.used_sizes([RelocatableValue(4, 0)], range(2))
