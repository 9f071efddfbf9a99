// Merkle root: input {"leaves": [felt], a power of 2 of them, at most 2**20}; output [n_leaves, root], parent = pedersen(left, right).
%builtins output pedersen

from starkware.cairo.common.alloc import alloc
from starkware.cairo.common.cairo_builtins import HashBuiltin
from starkware.cairo.common.hash import hash2
from starkware.cairo.common.serialize import serialize_word

// Writes the parents of the `n_pairs` pairs in `nodes` to `parents`.
func hash_pairs{pedersen_ptr: HashBuiltin*}(nodes: felt*, parents: felt*, n_pairs: felt) {
    if (n_pairs == 0) {
        return ();
    }
    let (parent) = hash2{hash_ptr=pedersen_ptr}(nodes[0], nodes[1]);
    assert parents[0] = parent;
    return hash_pairs(nodes + 2, parents + 1, n_pairs - 1);
}

func root{pedersen_ptr: HashBuiltin*}(nodes: felt*, n_nodes: felt) -> felt {
    alloc_locals;
    if (n_nodes == 1) {
        return nodes[0];
    }
    let (local parents: felt*) = alloc();
    hash_pairs(nodes, parents, n_nodes / 2);
    return root(parents, n_nodes / 2);
}

func main{output_ptr: felt*, pedersen_ptr: HashBuiltin*}() {
    alloc_locals;
    let (leaves: felt*) = alloc();
    local n_leaves: felt;
    %{
        leaves = program_input["leaves"]
        assert isinstance(leaves, list), "leaves must be a list of felts"
        assert all(isinstance(x, int) and 0 <= x < PRIME for x in leaves), "leaves must be felts"
        n = len(leaves)
        assert 1 <= n <= 2**20 and n & (n - 1) == 0, "the number of leaves must be a power of 2"
        segments.write_arg(ids.leaves, leaves)
        ids.n_leaves = n
    %}
    let result = root(leaves, n_leaves);
    serialize_word(n_leaves);
    serialize_word(result);
    return ();
}
