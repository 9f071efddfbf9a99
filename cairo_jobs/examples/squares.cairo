// Squares: input {"seed": int < 2**64, "n": int < 2**20}; output one section [n, seed + i*i for i < n] (an output volume).
%builtins output

from starkware.cairo.common.serialize import serialize_word

// Writes seed + i*i for i = i..n-1.
func write_squares{output_ptr: felt*}(seed: felt, i: felt, n: felt) {
    if (i == n) {
        return ();
    }
    serialize_word(seed + i * i);
    return write_squares(seed, i + 1, n);
}

func main{output_ptr: felt*}() {
    alloc_locals;
    local seed: felt;
    local n: felt;
    %{
        seed, n = program_input["seed"], program_input["n"]
        assert isinstance(seed, int) and 0 <= seed < 2**64, "seed must be an integer in [0, 2**64)"
        assert isinstance(n, int) and 0 <= n < 2**20, "n must be an integer in [0, 2**20)"
        ids.seed, ids.n = seed, n
    %}
    // The section's length first: a job declaring one output volume stores the n squares.
    serialize_word(n);
    write_squares(seed, 0, n);
    return ();
}
