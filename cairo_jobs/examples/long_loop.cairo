// Long loop (benchmark): input {"n": int < 2**32, "x": felt}; output [n, x_n], x_i+1 = x_i**3 + i + 1.
%builtins output

from starkware.cairo.common.serialize import serialize_word

func iterate(x: felt, i: felt, n: felt) -> felt {
    if (i == n) {
        return x;
    }
    return iterate(x * x * x + i + 1, i + 1, n);
}

func main{output_ptr: felt*}() {
    alloc_locals;
    local n: felt;
    local x: felt;
    %{
        n, x = program_input["n"], program_input["x"]
        assert isinstance(n, int) and 0 <= n < 2**32, "n must be an integer in [0, 2**32)"
        assert isinstance(x, int) and 0 <= x < PRIME, "x must be a felt"
        ids.n, ids.x = n, x
    %}
    let result = iterate(x, 0, n);
    serialize_word(n);
    serialize_word(result);
    return ();
}
