"""The security parameters of a proof and the conjectured security they give."""

from __future__ import annotations

from dataclasses import dataclass

from cairo_jobs.native.field import P

FIELD_BITS = P.bit_length() - 1  # 251


@dataclass(frozen=True)
class Parameters:
    """Blowup 2^log_blowup, FRI queries, grinding bits, and the FRI last layer's degree bound.

    The defaults give 32·2 + 16 = 80 conjectured bits with a blowup of 4: on the Cairo AIR,
    4x faster and 4x less memory than blowup 16 (20·4 + 16 = 96 bits), for proofs ~1.4x larger
    (Stone's usual setting is 18·4 + 24).
    """

    log_blowup: int = 2
    n_queries: int = 32
    pow_bits: int = 16
    log_last_layer_degree: int = 3

    def __post_init__(self) -> None:
        for name, low, high in (
            ("log_blowup", 1, 6),
            ("n_queries", 1, 256),
            ("pow_bits", 0, 40),
            ("log_last_layer_degree", 0, 10),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}")

    def security_bits(self, log_lde_size: int) -> int:
        """Conjectured bits: n_queries·log_blowup + pow_bits, capped by the field's size.

        The cap, log2(p) − log2(LDE domain size), bounds the out-of-domain sampling and the
        random linear combinations (ethSTARK's conjecture); it binds only for tiny fields.
        """
        query_bits = self.n_queries * self.log_blowup + self.pow_bits
        return min(query_bits, FIELD_BITS - log_lde_size)

    def as_list(self) -> list[int]:
        """The four parameters in their order in the proof and in the transcript seed."""
        return [self.log_blowup, self.n_queries, self.pow_bits, self.log_last_layer_degree]
