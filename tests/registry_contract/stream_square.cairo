// A streaming program for the tests: input {"request": [felt, ...]}; output [n, in_1..in_n, in_1^2..in_n^2].
%builtins output

from starkware.cairo.common.alloc import alloc
from starkware.cairo.common.serialize import serialize_word

func write_all{output_ptr: felt*}(values: felt*, n: felt) {
    if (n == 0) {
        return ();
    }
    serialize_word(values[0]);
    return write_all(values + 1, n - 1);
}

func write_squares{output_ptr: felt*}(values: felt*, n: felt) {
    if (n == 0) {
        return ();
    }
    serialize_word(values[0] * values[0]);
    return write_squares(values + 1, n - 1);
}

func main{output_ptr: felt*}() {
    alloc_locals;
    local n;
    let (values: felt*) = alloc();
    %{
        request = program_input["request"]
        ids.n = len(request)
        segments.write_arg(ids.values, request)
    %}
    serialize_word(n);
    write_all(values, n);
    write_squares(values, n);
    return ();
}
