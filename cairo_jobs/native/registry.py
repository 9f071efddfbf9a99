"""The builtin components of the Cairo AIR, in the order their columns, memory slots, periodic
columns, constraints, public-input segments and AIR-name tags follow (`component`)."""

from __future__ import annotations

from cairo_jobs.native import bitwise_builtin, pedersen_builtin, poseidon_builtin
from cairo_jobs.native.component import BuiltinComponent

COMPONENTS: tuple[BuiltinComponent, ...] = (
    pedersen_builtin.COMPONENT,
    poseidon_builtin.COMPONENT,
    bitwise_builtin.COMPONENT,
)
