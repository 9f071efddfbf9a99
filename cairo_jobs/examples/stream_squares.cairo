// Streaming: input {"request": [felt, ...]} (one request) or {"requests": [[felt, ...], ...]} (the settle run); output [n, in_1..in_n, in_1^2..in_n^2] or [count, commitment].
%builtins output pedersen

// Like stream_digest, but a request's reply (the squares of its inputs) uses no builtin but
// output: one request's run can be proven by the native prover (which proves the output
// builtin only), so a cross-checking client can prove the true answer to a disputed request.
// The settle run writes the same commitment as stream_digest (see cairo_jobs/streaming.py),
// with H computed here from hash2: importing hash_state would put a library function before
// __start__, which the native verifier does not accept.

from starkware.cairo.common.alloc import alloc
from starkware.cairo.common.cairo_builtins import HashBuiltin
from starkware.cairo.common.hash import hash2
from starkware.cairo.common.serialize import serialize_word

const MAX_REQUEST_FELTS = 1000;

func write_all{output_ptr: felt*}(values: felt*, n: felt) {
    if (n == 0) {
        return ();
    }
    serialize_word(values[0]);
    return write_all(values + 1, n - 1);
}

// Writes the reply to the request input[0..n] at `out`; returns its length.
func answer(input: felt*, n: felt, out: felt*) -> felt {
    if (n == 0) {
        return 0;
    }
    assert out[0] = input[0] * input[0];
    let rest = answer(input + 1, n - 1, out + 1);
    return rest + 1;
}

// H(values[0..n]) = pedersen(...pedersen(pedersen(0, v_1), v_2)..., n), as Cairo's hash_felts.
func hash_felts{pedersen_ptr: HashBuiltin*}(values: felt*, n: felt) -> felt {
    let digest = hash_chain(values, n, 0);
    let (with_length) = hash2{hash_ptr=pedersen_ptr}(digest, n);
    return with_length;
}

func hash_chain{pedersen_ptr: HashBuiltin*}(values: felt*, n: felt, digest: felt) -> felt {
    if (n == 0) {
        return digest;
    }
    let (next) = hash2{hash_ptr=pedersen_ptr}(digest, values[0]);
    return hash_chain(values + 1, n - 1, next);
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
    let in_hash = hash_felts(inputs, n);
    let out_hash = hash_felts(out, m);
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
