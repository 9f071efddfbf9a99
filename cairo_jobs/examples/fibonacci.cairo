// Fibonacci: input {"n": int, 0 <= n < 2**32}; output [n, fib(n)] with fib(0) = 0, fib(1) = 1.
%builtins output

from starkware.cairo.common.serialize import serialize_word

func fib(first: felt, second: felt, n: felt) -> felt {
    if (n == 0) {
        return first;
    }
    return fib(second, first + second, n - 1);
}

func main{output_ptr: felt*}() {
    alloc_locals;
    local n: felt;
    %{
        n = program_input["n"]
        assert isinstance(n, int) and 0 <= n < 2**32, "n must be an integer in [0, 2**32)"
        ids.n = n
    %}
    let result = fib(0, 1, n);
    serialize_word(n);
    serialize_word(result);
    return ();
}
