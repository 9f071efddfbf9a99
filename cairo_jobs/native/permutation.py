"""Sorted-copy arguments (the Cairo paper's memory and range-check arguments, §9.7–9.9).

Each row holds K access slots and K sorted slots; read row by row, slot by slot, the sorted
slots are the accesses (plus some public entries) in increasing address order, with address
steps of 0 or 1 and, for slots that carry a value, one value per address. A running product
ties the two lists: with the slot's combination c = address + α·value (or just the address),
product_k = product_(k−1) · (z − c_access,k) / (z − c_sorted,k), read across rows. Its last
value is 1 when the lists are permutations of each other, and z^m / Π(z − c_public) when the
accesses hold m extra (0, 0) entries standing for m public entries found only in the sorted
list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from cairo_jobs.native import field
from cairo_jobs.native.field import Felts

T = TypeVar("T")
Slot = tuple[str, ...]  # (address column,) or (address column, value column)


@dataclass(frozen=True)
class SortedCopy:
    """Column names of one argument: access slots, sorted slots and running products."""

    accesses: tuple[Slot, ...]
    sorted: tuple[Slot, ...]
    products: tuple[str, ...]

    def every_row(self, c: Mapping[str, T], z: int, alpha: int) -> list[T]:
        """Continuity and the product steps between slots of one row."""
        constraints = []
        for k in range(1, len(self.sorted)):
            constraints += continuity(self.sorted[k - 1], self.sorted[k], c, c)
            constraints.append(self._step(c, c[self.products[k - 1]], k, z, alpha))
        return constraints

    def transitions(self, c: Mapping[str, T], nxt: Mapping[str, T], z: int, alpha: int) -> list[T]:
        """Continuity and the product step from a row's last slot to the next row's first."""
        return [
            *continuity(self.sorted[-1], self.sorted[0], c, nxt),
            self._step(nxt, c[self.products[-1]], 0, z, alpha),
        ]

    def first_row(self, c: Mapping[str, T], z: int, alpha: int) -> T:
        """The product starts from 1 at the first slot."""
        return self._step(c, 1, 0, z, alpha)

    def _step(self, c: Mapping[str, T], previous: T | int, k: int, z: int, alpha: int) -> T:
        product = c[self.products[k]]
        return product * (z - combine(self.sorted[k], c, alpha)) - previous * (
            z - combine(self.accesses[k], c, alpha)
        )

    def products_of(
        self, columns: Mapping[str, Sequence[int]], z: int, alpha: int
    ) -> list[np.ndarray]:
        """The running product columns (field arrays) of an honest trace (ZeroDivisionError if
        z is a slot)."""
        arrays = {
            name: Felts(field.from_ints(columns[name]))
            for slot in (*self.accesses, *self.sorted)
            for name in slot
        }
        numerators = _interleave([z - combine(slot, arrays, alpha) for slot in self.accesses])
        denominators = _interleave([z - combine(slot, arrays, alpha) for slot in self.sorted])
        ratios = field.mul(numerators, field.batch_inverse(denominators))
        flat = field.prefix_products(ratios)
        width = len(self.accesses)
        return [np.ascontiguousarray(flat[k::width]) for k in range(width)]


def continuity(low: Slot, high: Slot, c: Mapping[str, T], d: Mapping[str, T]) -> list[T]:
    """The address steps by 0 or 1 from slot `low` of c to slot `high` of d; the value (if any)
    changes only when the address does."""
    step = d[high[0]] - c[low[0]]
    constraints = [step * (step - 1)]
    if len(low) > 1:
        constraints.append((d[high[1]] - c[low[1]]) * (step - 1))
    return constraints


def combine(slot: Slot, c: Mapping[str, T], alpha: int) -> T:
    """address + α·value, or the address alone."""
    return c[slot[0]] + alpha * c[slot[1]] if len(slot) > 1 else c[slot[0]]


def _interleave(slots: list[Felts]) -> np.ndarray:
    """Slot values read row by row, slot by slot."""
    return np.stack([slot.array for slot in slots], axis=1).reshape(-1, field.LIMBS)
