// Bitwise checksums: input {"values": [int < 2**251, ...]}; output [n, xor of all, and of all (2**251 - 1 if none), or of all].
%builtins output bitwise

from starkware.cairo.common.alloc import alloc
from starkware.cairo.common.cairo_builtins import BitwiseBuiltin
from starkware.cairo.common.serialize import serialize_word

const ALL_ONES = 2 ** 251 - 1;

// Folds values[0..n) into the three checksums, three bitwise instances per value.
func fold{bitwise_ptr: BitwiseBuiltin*}(
    values: felt*, n: felt, xor_sum: felt, and_sum: felt, or_sum: felt
) -> (xor_sum: felt, and_sum: felt, or_sum: felt) {
    if (n == 0) {
        return (xor_sum=xor_sum, and_sum=and_sum, or_sum=or_sum);
    }
    assert bitwise_ptr[0].x = xor_sum;
    assert bitwise_ptr[0].y = values[0];
    assert bitwise_ptr[1].x = and_sum;
    assert bitwise_ptr[1].y = values[0];
    assert bitwise_ptr[2].x = or_sum;
    assert bitwise_ptr[2].y = values[0];
    let next_xor = bitwise_ptr[0].x_xor_y;
    let next_and = bitwise_ptr[1].x_and_y;
    let next_or = bitwise_ptr[2].x_or_y;
    let bitwise_ptr = bitwise_ptr + 3 * BitwiseBuiltin.SIZE;
    return fold(values + 1, n - 1, next_xor, next_and, next_or);
}

func main{output_ptr: felt*, bitwise_ptr: BitwiseBuiltin*}() {
    alloc_locals;
    let (values: felt*) = alloc();
    local n: felt;
    %{
        values = program_input["values"]
        assert isinstance(values, list) and len(values) < 2**20, "values must be a list"
        assert all(isinstance(v, int) and 0 <= v < 2**251 for v in values), \
            "values must be integers in [0, 2**251)"
        segments.write_arg(ids.values, values)
        ids.n = len(values)
    %}
    let (xor_sum, and_sum, or_sum) = fold(values, n, 0, ALL_ONES, 0);
    serialize_word(n);
    serialize_word(xor_sum);
    serialize_word(and_sum);
    serialize_word(or_sum);
    return ();
}
