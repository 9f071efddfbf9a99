"""Amounts as users type them: exact tokens or base units, and every bad form refused."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.amounts import MAX_AMOUNT, Amount, AmountError, format_amount


@pytest.mark.parametrize(
    "text, decimals, units",
    [("1", 18, 10**18), ("0.5", 18, 5 * 10**17), (".5", 6, 500000), ("2.", 2, 200),
     ("1.500", 2, 150), ("500000fri", 18, 500000), ("7FRI", 0, 7), (" 3 ", 0, 3),
     ("0.000000000000000001", 18, 1), ("123456789012345678901234567890.5", 18,
                                        123456789012345678901234567890 * 10**18 + 5 * 10**17)],
)
def test_amounts_convert_exactly(text: str, decimals: int, units: int) -> None:
    assert Amount.parse(text).base_units(decimals) == units


@pytest.mark.parametrize(
    "text, why",
    [("0", "must be more than zero"), ("0.00", "must be more than zero"),
     ("0fri", "must be more than zero"), ("-1", "must be more than zero"),
     ("1e3", "not a number"), ("1.5fri", "not a number"),
     ("", "not a number"), (".", "not a number"), ("nan", "not a number"),
     ("1,5", "not a number"), ("0x10", "not a number"), ("1 000", "not a number")],
)
def test_bad_amounts_name_the_argument(text: str, why: str) -> None:
    with pytest.raises(AmountError, match=re.escape(f"FEE {text!r}: {why};")) as caught:
        Amount.parse(text, "FEE")
    assert caught.value.exit_code == 2
    assert "(0.5)" in str(caught.value) and "(500000fri)" in str(caught.value)


def test_too_many_decimals_or_too_large_is_refused() -> None:
    with pytest.raises(AmountError, match="only 2 decimals"):
        Amount.parse("1.001").base_units(2)
    assert Amount.parse("1.0010").base_units(3) == 1001
    with pytest.raises(AmountError, match="largest amount"):
        Amount.parse(f"{MAX_AMOUNT + 1}fri").base_units(18)


@given(st.integers(1, MAX_AMOUNT), st.integers(0, 30))
def test_formatted_amounts_parse_back_to_the_same_units(units: int, decimals: int) -> None:
    text = format_amount(units, decimals)
    assert Amount.parse(text).base_units(decimals) == units
    assert format_amount(units, decimals, "STRK") == f"{text} STRK"
