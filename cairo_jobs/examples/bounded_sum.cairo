// Bounded sum: input {"values": [int], "low": int, "high": int}, each < 2**128; checks low <= v <= high for every value; output [len, low, high, sum].
%builtins output range_check

from starkware.cairo.common.alloc import alloc
from starkware.cairo.common.math import assert_le
from starkware.cairo.common.serialize import serialize_word

// The sum of the values, each checked to lie in [low, high].
func bounded_sum{range_check_ptr}(values: felt*, len: felt, low: felt, high: felt) -> felt {
    if (len == 0) {
        return 0;
    }
    assert_le(low, values[0]);
    assert_le(values[0], high);
    let rest = bounded_sum(values + 1, len - 1, low, high);
    return values[0] + rest;
}

func main{output_ptr: felt*, range_check_ptr}() {
    alloc_locals;
    let (values: felt*) = alloc();
    local len: felt;
    local low: felt;
    local high: felt;
    %{
        values, low, high = program_input["values"], program_input["low"], program_input["high"]
        assert isinstance(values, list), "values must be a list of integers"
        assert all(isinstance(v, int) and 0 <= v < 2**128 for v in values), \
            "values must be integers in [0, 2**128)"
        assert isinstance(low, int) and 0 <= low < 2**128, "low must be in [0, 2**128)"
        assert isinstance(high, int) and 0 <= high < 2**128, "high must be in [0, 2**128)"
        segments.write_arg(ids.values, values)
        ids.len, ids.low, ids.high = len(values), low, high
    %}
    let sum = bounded_sum(values, len, low, high);
    serialize_word(len);
    serialize_word(low);
    serialize_word(high);
    serialize_word(sum);
    return ();
}
