"""FRI: proves that values on a coset come from a polynomial of degree < a bound.

Each layer folds f into g(x²) = (f(x) + f(−x))/2 + β·(f(x) − f(−x))/(2x), halving the domain and
the degree. Layer 0 is not committed here: its values at queried pairs come from the caller
(the STARK opens its trace and composition there). Layers 1..L−1 are committed as Merkle trees
whose leaf i holds the pair (f[i], f[i + size/2]), i.e. f at x and −x; the last layer is sent as
its coefficients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cairo_jobs.native import field, ntt
from cairo_jobs.native.channel import Channel
from cairo_jobs.native.field import P
from cairo_jobs.native.merkle import MerkleTree, verify_path
from cairo_jobs.native.parameters import Parameters

INVERSE_TWO = pow(2, -1, P)

Pair = tuple[int, int]
FirstLayer = Callable[[list[int]], list[Pair]]


class FriError(ValueError):
    """The FRI part of a proof does not verify."""


@dataclass(frozen=True)
class Opening:
    """A committed layer's pair at one query, with its authentication path."""

    pair: Pair
    path: list[bytes]


@dataclass(frozen=True)
class FriProof:
    """Roots of layers 1..L−1, the last layer's coefficients, the grinding nonce, and per
    committed layer one opening per query."""

    roots: list[bytes]
    last_layer: list[int]
    nonce: int
    openings: list[list[Opening]]


def n_folds(log_domain_size: int, params: Parameters) -> int:
    """How many times the layer-0 domain is halved before the last layer."""
    folds = log_domain_size - params.log_blowup - params.log_last_layer_degree
    if folds < 1:
        raise ValueError(
            f"a domain of 2^{log_domain_size} points is too small for blowup "
            f"2^{params.log_blowup} and a last layer of degree < 2^{params.log_last_layer_degree}"
        )
    return folds


def fold(values: np.ndarray, beta: int, offset: int) -> np.ndarray:
    """The next layer's values (on offset²·<w²>) from this layer's values on offset·<w>."""
    half = values.shape[0] // 2
    low, high = values[:half], values[half:]
    inverse_root = pow(field.root_of_unity(ntt.log2_exact(values.shape[0])), -1, P)
    beta_over_2x = field.powers(inverse_root, half, start=beta * pow(2 * offset, -1, P))
    halves = field.mul(field.add(low, high), field.from_ints([INVERSE_TWO]))
    return field.add(halves, field.mul(field.sub(low, high), beta_over_2x))


def fold_pair(pair: Pair, beta: int, x: int) -> int:
    """The folded value at x² from f(x) and f(−x)."""
    low, high = pair
    return ((low + high) + beta * (low - high) * pow(x, -1, P)) * INVERSE_TWO % P


def prove(
    channel: Channel, values: np.ndarray, offset: int, params: Parameters
) -> tuple[FriProof, list[int]]:
    """Commits the layers and answers the queries; returns the proof and the queried pairs."""
    size = values.shape[0]
    folds = n_folds(ntt.log2_exact(size), params)
    layers: list[tuple[np.ndarray, MerkleTree]] = []
    for k in range(folds):
        values = fold(values, channel.draw_felt(), offset)
        offset = offset * offset % P
        if k < folds - 1:
            half = values.shape[0] // 2
            tree = MerkleTree.of_columns([values[:half], values[half:]])
            channel.absorb(tree.root)
            layers.append((values, tree))
    last_layer = field.to_ints(ntt.interpolate(values, offset))[: 1 << params.log_last_layer_degree]
    channel.absorb_felts(last_layer)
    nonce = channel.grind(params.pow_bits)
    queries = [channel.draw_index(size // 2) for _ in range(params.n_queries)]
    openings = []
    positions = list(queries)
    for layer_values, tree in layers:
        half = layer_values.shape[0] // 2
        leaves = [position % half for position in positions]
        lows = field.to_ints(layer_values[leaves])
        highs = field.to_ints(layer_values[[leaf + half for leaf in leaves]])
        openings.append(
            [
                Opening((low, high), tree.path(leaf))
                for low, high, leaf in zip(lows, highs, leaves, strict=True)
            ]
        )
        positions = leaves
    roots = [tree.root for _, tree in layers]
    return FriProof(roots, last_layer, nonce, openings), queries


def verify(
    channel: Channel,
    proof: FriProof,
    log_size: int,
    offset: int,
    params: Parameters,
    first_layer: FirstLayer,
) -> None:
    """Checks the proof for layer-0 values on offset·<w> (2^log_size points); raises FriError.

    `first_layer(queries)` gives f(x), f(−x) at each queried pair index (and raises when the
    caller's own openings fail).
    """
    folds = n_folds(log_size, params)
    if len(proof.roots) != folds - 1 or len(proof.openings) != folds - 1:
        raise FriError(f"expected {folds - 1} committed FRI layers, got {len(proof.roots)}")
    if len(proof.last_layer) != 1 << params.log_last_layer_degree:
        raise FriError("the FRI last layer has the wrong number of coefficients")
    betas = []
    for k in range(folds):
        betas.append(channel.draw_felt())
        if k < folds - 1:
            channel.absorb(proof.roots[k])
    channel.absorb_felts(proof.last_layer)
    if not channel.check_work(proof.nonce, params.pow_bits):
        raise FriError("the proof-of-work nonce is wrong")
    queries = [channel.draw_index(1 << (log_size - 1)) for _ in range(params.n_queries)]
    pairs = first_layer(queries)
    for j, query in enumerate(queries):
        _check_query(proof, j, query, pairs[j], betas, log_size, offset)


def _check_query(
    proof: FriProof, j: int, position: int, pair: Pair, betas: list[int], log_size: int, offset: int
) -> None:
    """Follows one query through the layers down to the last layer's polynomial."""
    value = fold_pair(pair, betas[0], offset * pow(field.root_of_unity(log_size), position, P))
    for k, (root, openings) in enumerate(zip(proof.roots, proof.openings, strict=True)):
        offset, log_size = offset * offset % P, log_size - 1
        half = 1 << (log_size - 1)
        leaf = position % half
        opening = openings[j]
        if not verify_path(root, half, leaf, field.felts_to_bytes(opening.pair), opening.path):
            raise FriError(f"FRI layer {k + 1}: the authentication path of query {j} is wrong")
        if opening.pair[position // half] != value:
            raise FriError(f"FRI layer {k + 1}: query {j} does not fold to the committed value")
        x = offset * pow(field.root_of_unity(log_size), leaf, P)
        value, position = fold_pair(opening.pair, betas[k + 1], x), leaf
    offset, log_size = offset * offset % P, log_size - 1
    x = offset * pow(field.root_of_unity(log_size), position, P)
    if _evaluate(proof.last_layer, x) != value:
        raise FriError(f"query {j} does not reach the last layer's polynomial")


def _evaluate(coefficients: list[int], x: int) -> int:
    result = 0
    for coefficient in reversed(coefficients):
        result = (result * x + coefficient) % P
    return result
