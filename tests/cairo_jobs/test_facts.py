"""The fact function against cairo-lang's own Poseidon (an independent implementation)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starkware.cairo.lang.vm.crypto import poseidon_hash_many

from cairo_jobs.facts import STARK_PRIME, fact_hash

felts = st.integers(min_value=0, max_value=STARK_PRIME - 1)


@given(program_hash=felts, output=st.lists(felts, max_size=8))
def test_fact_is_poseidon_of_program_hash_and_poseidon_of_output(program_hash, output):
    expected = poseidon_hash_many([program_hash, poseidon_hash_many(output)])
    assert fact_hash(program_hash, output) == expected


def test_fact_depends_on_every_part():
    base = fact_hash(1, [2, 3])
    assert len({base, fact_hash(2, [2, 3]), fact_hash(1, [3, 2]), fact_hash(1, [2, 3, 0])}) == 4


@pytest.mark.parametrize("bad", [-1, STARK_PRIME, 2**256, "7", 1.0])
def test_non_felts_are_refused(bad):
    with pytest.raises(ValueError, match="not a felt"):
        fact_hash(1, [bad])
    with pytest.raises(ValueError, match="not a felt"):
        fact_hash(bad, [])
