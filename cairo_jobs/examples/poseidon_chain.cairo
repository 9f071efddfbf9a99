// Poseidon hash chain: input {"seed": felt, "n": int < 2**32}; output [n, h_n], h_0 = seed, h_i+1 = poseidon(h_i, i).
%builtins output poseidon

from starkware.cairo.common.builtin_poseidon.poseidon import poseidon_hash
from starkware.cairo.common.cairo_builtins import PoseidonBuiltin
from starkware.cairo.common.serialize import serialize_word

func chain{poseidon_ptr: PoseidonBuiltin*}(h: felt, i: felt, n: felt) -> felt {
    if (i == n) {
        return h;
    }
    let (next) = poseidon_hash(h, i);
    return chain(next, i + 1, n);
}

func main{output_ptr: felt*, poseidon_ptr: PoseidonBuiltin*}() {
    alloc_locals;
    local seed: felt;
    local n: felt;
    %{
        seed, n = program_input["seed"], program_input["n"]
        assert isinstance(seed, int) and 0 <= seed < PRIME, "seed must be a felt"
        assert isinstance(n, int) and 0 <= n < 2**32, "n must be an integer in [0, 2**32)"
        ids.seed, ids.n = seed, n
    %}
    let result = chain(seed, 0, n);
    serialize_word(n);
    serialize_word(result);
    return ();
}
