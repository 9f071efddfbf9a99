// Pedersen/range check: input {"values": [int], "bound": int < 2**128}; checks 0 <= v <= bound; output [len, bound, h], h = pedersen chain of values.
%builtins output pedersen range_check

from starkware.cairo.common.alloc import alloc
from starkware.cairo.common.cairo_builtins import HashBuiltin
from starkware.cairo.common.hash import hash2
from starkware.cairo.common.math import assert_nn_le
from starkware.cairo.common.serialize import serialize_word

func check_and_hash{pedersen_ptr: HashBuiltin*, range_check_ptr}(
    values: felt*, len: felt, bound: felt, acc: felt
) -> felt {
    if (len == 0) {
        return acc;
    }
    assert_nn_le(values[0], bound);
    let (next) = hash2{hash_ptr=pedersen_ptr}(acc, values[0]);
    return check_and_hash(values + 1, len - 1, bound, next);
}

func main{output_ptr: felt*, pedersen_ptr: HashBuiltin*, range_check_ptr}() {
    alloc_locals;
    let (values: felt*) = alloc();
    local len: felt;
    local bound: felt;
    %{
        values, bound = program_input["values"], program_input["bound"]
        assert isinstance(values, list), "values must be a list of integers"
        assert all(isinstance(v, int) for v in values), "values must be a list of integers"
        assert isinstance(bound, int) and 0 <= bound < 2**128, "bound must be in [0, 2**128)"
        segments.write_arg(ids.values, [v % PRIME for v in values])
        ids.len, ids.bound = len(values), bound
    %}
    let result = check_and_hash(values, len, bound, 0);
    serialize_word(len);
    serialize_word(bound);
    serialize_word(result);
    return ();
}
