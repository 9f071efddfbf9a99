// Streaming: input {"request": [felt, ...]} (one request) or {"requests": [[felt, ...], ...]} (the settle run); output [n, in_1..in_n, sum, hash] or [count, commitment].
%builtins output pedersen

// One request's reply is [sum of the inputs, pedersen hash chain of the inputs], after the echoed
// input. The settle run answers every request again and writes [count, c_count] with c_0 = 0,
// c_i = pedersen(c_(i-1), pedersen(H(in_i), H(out_i))), H = hash_felts (see
// cairo_jobs/streaming.py): the commitment to a session's request log that its witness pays for.

from starkware.cairo.common.alloc import alloc
from starkware.cairo.common.cairo_builtins import HashBuiltin
from starkware.cairo.common.hash import hash2
from starkware.cairo.common.hash_state import hash_felts
from starkware.cairo.common.serialize import serialize_word

const MAX_REQUEST_FELTS = 1000;

func sum_of(values: felt*, n: felt) -> felt {
    if (n == 0) {
        return 0;
    }
    let rest = sum_of(values + 1, n - 1);
    return values[0] + rest;
}

func write_all{output_ptr: felt*}(values: felt*, n: felt) {
    if (n == 0) {
        return ();
    }
    serialize_word(values[0]);
    return write_all(values + 1, n - 1);
}

// Writes the reply to the request input[0..n] at `out`; returns its length.
func answer{pedersen_ptr: HashBuiltin*}(input: felt*, n: felt, out: felt*) -> felt {
    alloc_locals;
    let total = sum_of(input, n);
    let (digest) = hash_felts{hash_ptr=pedersen_ptr}(data=input, length=n);
    assert out[0] = total;
    assert out[1] = digest;
    return 2;
}

func settle{pedersen_ptr: HashBuiltin*}(
    lengths: felt*, inputs: felt*, count: felt, chain: felt
) -> felt {
    alloc_locals;
    if (count == 0) {
        return chain;
    }
    local n = lengths[0];
    let (local out: felt*) = alloc();
    let m = answer(inputs, n, out);
    let (in_hash) = hash_felts{hash_ptr=pedersen_ptr}(data=inputs, length=n);
    let (out_hash) = hash_felts{hash_ptr=pedersen_ptr}(data=out, length=m);
    let (pair) = hash2{hash_ptr=pedersen_ptr}(in_hash, out_hash);
    let (next) = hash2{hash_ptr=pedersen_ptr}(chain, pair);
    return settle(lengths + 1, inputs + n, count - 1, next);
}

func main{output_ptr: felt*, pedersen_ptr: HashBuiltin*}() {
    alloc_locals;
    local batch: felt;
    local count: felt;
    let (local lengths: felt*) = alloc();
    let (local inputs: felt*) = alloc();
    %{
        batch = "requests" in program_input
        requests = program_input["requests"] if batch else [program_input["request"]]
        assert isinstance(requests, list) and len(requests) < 2**20, "requests must be a list"
        for request in requests:
            assert isinstance(request, list) and len(request) <= ids.MAX_REQUEST_FELTS, \
                f"a request must be a list of at most {ids.MAX_REQUEST_FELTS} felts"
            assert all(isinstance(x, int) and 0 <= x < PRIME for x in request), \
                "a request's values must be felts"
        ids.batch, ids.count = int(batch), len(requests)
        segments.write_arg(ids.lengths, [len(request) for request in requests])
        segments.write_arg(ids.inputs, [x for request in requests for x in request])
    %}
    if (batch != 0) {
        let commitment = settle(lengths, inputs, count, 0);
        serialize_word(count);
        serialize_word(commitment);
        return ();
    }
    local n = lengths[0];
    let (local out: felt*) = alloc();
    let m = answer(inputs, n, out);
    serialize_word(n);
    write_all(inputs, n);
    write_all(out, m);
    return ();
}
