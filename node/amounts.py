"""Token amounts as users type them: decimal tokens (`0.5`) or base units (`500000fri`).

Parsing is exact (integers and digit strings, never float). An amount is checked in two steps:
its form when the command line is parsed (`Amount.parse`), its decimals once the token's
`decimals()` is known (`Amount.base_units`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from node.errors import UserError

BASE_UNIT_SUFFIX = "fri"
MAX_AMOUNT = 2**256 - 1
_TOKENS = re.compile(r"(\d*)\.?(\d*)")
_BASE_UNITS = re.compile(rf"(\d+){BASE_UNIT_SUFFIX}")


class AmountError(UserError, ValueError):
    """An amount that cannot be used; the message names the argument and the expected form."""

    exit_code = 2


@dataclass(frozen=True)
class Amount:
    """A positive amount as typed: base units, or tokens as their whole and fraction digits."""

    text: str
    argument: str
    base: int | None = None
    whole: str = ""
    fraction: str = ""

    @classmethod
    def parse(cls, text: str, argument: str = "AMOUNT") -> Amount:
        """`0.5` (tokens) or `500000fri` (base units); AmountError unless a positive number."""
        cleaned = text.strip().lower()
        if cleaned.startswith("-"):
            raise amount_error(argument, text, "must be more than zero")
        if match := _BASE_UNITS.fullmatch(cleaned):
            amount = cls(text, argument, base=int(match.group(1)))
        elif (match := _TOKENS.fullmatch(cleaned)) and (match.group(1) or match.group(2)):
            amount = cls(text, argument, whole=match.group(1), fraction=match.group(2))
        else:
            raise amount_error(argument, text, "not a number")
        if not any(char not in "0." for char in cleaned.removesuffix(BASE_UNIT_SUFFIX)):
            raise amount_error(argument, text, "must be more than zero")
        return amount

    def base_units(self, decimals: int) -> int:
        """The amount in the base units of a token with `decimals` decimals."""
        if self.base is not None:
            units = self.base
        else:
            fraction = self.fraction.rstrip("0")
            if len(fraction) > decimals:
                raise amount_error(
                    self.argument, self.text, f"the token has only {decimals} decimals"
                )
            units = int(self.whole or "0") * 10**decimals + int(fraction.ljust(decimals, "0") or 0)
        if units > MAX_AMOUNT:
            raise amount_error(self.argument, self.text, "above the largest amount (2**256 - 1)")
        return units


def format_amount(units: int, decimals: int, symbol: str = "") -> str:
    """`units` base units as a number of tokens without trailing zeros: `1.5 STRK`."""
    whole, fraction = divmod(units, 10**decimals)
    digits = str(fraction).rjust(decimals, "0").rstrip("0") if decimals else ""
    text = f"{whole}.{digits}" if digits else str(whole)
    return f"{text} {symbol}".rstrip()


def amount_error(argument: str, text: str, why: str) -> AmountError:
    """The usage error for a bad amount, naming the argument and the accepted forms."""
    return AmountError(
        f"{argument} {text!r}: {why}; give a positive number of tokens (0.5) or of base units "
        f"with the suffix {BASE_UNIT_SUFFIX} (500000{BASE_UNIT_SUFFIX})"
    )
