// Squares: input {"seed": int < 2**64, "n": int < 2**20}; output one section [n, seed + i*i for i < n] (an output volume).
%builtins output

// Writes seed + i*i for i = i..n-1 at ptr.
func write_squares(ptr: felt*, seed: felt, i: felt, n: felt) {
    if (i == n) {
        return ();
    }
    assert [ptr] = seed + i * i;
    return write_squares(ptr + 1, seed, i + 1, n);
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
    // The section's length first, then its n felts: a job declaring one output volume stores them.
    assert [output_ptr] = n;
    write_squares(output_ptr + 1, seed, 0, n);
    let output_ptr = output_ptr + 1 + n;
    return ();
}
