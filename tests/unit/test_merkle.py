"""RFC 9162 Merkle tree over stored perfect subtrees: it agrees with the RFC's recursive
definitions, the Certificate Transparency reference vectors and pymerkle, and its verifiers
reject every tampered proof."""

import hashlib
import time
from functools import cache

import pytest

from eprescription.signing import merkle

MAX_SIZE = 70
LEAF_DATA = tuple(b"" if i == 0 else f"access-log entry {i}".encode() * (i % 3) for i in range(90))
BATCH_PATTERNS = [(1,), (3,), (17,), (1, 3, 17, 2, 5, 40), (MAX_SIZE,)]
MIXED_BATCHES = (1, 3, 17, 2, 5, 40)


# The reference: RFC 9162 2.1.1 MTH, 2.1.3.1 PATH and 2.1.4.1 PROOF, word for word, over a
# plain tuple of leaf data (memoized only so that the full matrix of sizes runs fast).


def split_point(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def reference_mth(leaves: tuple[bytes, ...]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = split_point(len(leaves))
    return hashlib.sha256(b"\x01" + reference_mth(leaves[:k]) + reference_mth(leaves[k:])).digest()


def reference_path(m: int, leaves: tuple[bytes, ...]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = split_point(len(leaves))
    if m < k:
        return [*reference_path(m, leaves[:k]), reference_mth(leaves[k:])]
    return [*reference_path(m - k, leaves[k:]), reference_mth(leaves[:k])]


def reference_subproof(m: int, leaves: tuple[bytes, ...], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [reference_mth(leaves)]
    k = split_point(n)
    if m <= k:
        return [*reference_subproof(m, leaves[:k], whole), reference_mth(leaves[k:])]
    return [*reference_subproof(m - k, leaves[k:], False), reference_mth(leaves[:k])]


def reference_proof(m: int, leaves: tuple[bytes, ...]) -> list[bytes]:
    return reference_subproof(m, leaves, True)


class NodeStore:
    """The service's storage model in a dict: (level, index) -> hash of a perfect subtree."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.size = 0

    def append(self, data: list[bytes] | tuple[bytes, ...]) -> list[tuple[int, int]]:
        """Append leaves; returns the nodes that new_nodes asked for."""
        size_before, asked = self.size, []

        def lookup(level: int, index: int) -> bytes:
            assert (index + 1) << level <= size_before, "asked for a node not complete before"
            asked.append((level, index))
            return self.nodes[(level, index)]

        created = merkle.new_nodes(size_before, [merkle.leaf_hash(d) for d in data], lookup)
        for level, index, digest in created:
            assert (level, index) not in self.nodes, "a node was created twice"
            self.nodes[(level, index)] = digest
        self.size += len(data)
        return asked

    def lookup_at(self, size: int, counter: list | None = None):
        """A look-up that only serves nodes complete in the tree of `size` leaves."""

        def lookup(level: int, index: int) -> bytes:
            assert (index + 1) << level <= size, f"node ({level}, {index}) is not in size {size}"
            if counter is not None:
                counter.append((level, index))
            return self.nodes[(level, index)]

        return lookup


def build_store(batches=MIXED_BATCHES, total: int = MAX_SIZE, data=LEAF_DATA) -> NodeStore:
    store, batch = NodeStore(), 0
    while store.size < total:
        count = min(batches[batch % len(batches)], total - store.size)
        store.append(data[store.size : store.size + count])
        batch += 1
    return store


@pytest.fixture(scope="module")
def store() -> NodeStore:
    return build_store()


def flipped(digest: bytes) -> bytes:
    return bytes([digest[0] ^ 0x01]) + digest[1:]


def test_the_hashes_use_the_rfc_domain_separation_prefixes():
    assert merkle.leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert (
        merkle.node_hash(b"L" * 32, b"R" * 32)
        == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    )
    assert merkle.EMPTY_ROOT.hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.root(0, NodeStore().lookup_at(0)) == merkle.EMPTY_ROOT


# The reference vectors of the Certificate Transparency test suites (RFC 6962 and RFC 9162 share
# the tree hash): eight leaves, the tree heads of sizes 1..8, a few proofs.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [  # (index from 0, tree size, path)
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def test_the_tree_heads_and_proofs_match_the_certificate_transparency_vectors():
    ct = build_store((1, 2), len(CT_LEAVES), CT_LEAVES)
    for size, expected in enumerate(CT_ROOTS, start=1):
        assert merkle.root(size, ct.lookup_at(size)).hex() == expected
    leaf_hashes = [merkle.leaf_hash(d) for d in CT_LEAVES]
    for index, size, path in CT_INCLUSION:
        proof = merkle.inclusion_proof(index, size, ct.lookup_at(size))
        assert [h.hex() for h in proof] == path
        root = bytes.fromhex(CT_ROOTS[size - 1])
        assert merkle.verify_inclusion(leaf_hashes[index], index, size, proof, root)
    for old, new, expected in CT_CONSISTENCY:
        proof = merkle.consistency_proof(old, new, ct.lookup_at(new))
        assert [h.hex() for h in proof] == expected
        old_root, new_root = (bytes.fromhex(CT_ROOTS[s - 1]) for s in (old, new))
        assert merkle.verify_consistency(old, new, old_root, new_root, proof)


@pytest.mark.parametrize(
    "batches", BATCH_PATTERNS, ids=lambda b: "batches-" + "-".join(map(str, b))
)
def test_appending_in_any_batches_stores_exactly_every_complete_perfect_subtree(batches):
    store, batch = NodeStore(), 0
    while store.size < MAX_SIZE:
        size_before = store.size
        count = min(batches[batch % len(batches)], MAX_SIZE - size_before)
        asked = store.append(LEAF_DATA[size_before : size_before + count])
        batch += 1
        # Only left siblings stored earlier are asked for: at most one a level.
        assert len(asked) <= size_before.bit_length()
        assert len({level for level, _ in asked}) == len(asked)
        expected = {
            (level, index): reference_mth(LEAF_DATA[index << level : (index + 1) << level])
            for level in range(store.size.bit_length())
            for index in range(store.size >> level)
        }
        assert store.nodes == expected


def test_every_tree_head_equals_the_recursive_definition_from_a_few_stored_nodes(store):
    for size in range(MAX_SIZE + 1):
        asked: list = []
        assert merkle.root(size, store.lookup_at(size, asked)) == reference_mth(LEAF_DATA[:size])
        assert len(asked) == size.bit_count()  # one perfect subtree per bit of the size


def test_every_inclusion_proof_equals_the_rfc_path_and_verifies(store):
    for size in range(1, MAX_SIZE + 1):
        root = reference_mth(LEAF_DATA[:size])
        for index in range(size):
            asked: list = []
            proof = merkle.inclusion_proof(index, size, store.lookup_at(size, asked))
            assert proof == reference_path(index, LEAF_DATA[:size]), (index, size)
            assert len(asked) <= 2 * size.bit_length()
            leaf = merkle.leaf_hash(LEAF_DATA[index])
            assert merkle.verify_inclusion(leaf, index, size, proof, root)


def test_every_consistency_proof_equals_the_rfc_proof_and_verifies(store):
    for new_size in range(1, MAX_SIZE + 1):
        new_root = reference_mth(LEAF_DATA[:new_size])
        for old_size in range(new_size + 1):
            asked: list = []
            proof = merkle.consistency_proof(old_size, new_size, store.lookup_at(new_size, asked))
            expected = reference_proof(old_size, LEAF_DATA[:new_size]) if old_size else []
            assert proof == expected, (old_size, new_size)
            assert len(asked) <= 2 * new_size.bit_length() + 1
            old_root = reference_mth(LEAF_DATA[:old_size])
            assert merkle.verify_consistency(old_size, new_size, old_root, new_root, proof)


def test_a_batch_of_ten_thousand_leaves_is_appended_quickly_with_few_lookups():
    data = tuple(f"entry {i}".encode() for i in range(22_345))
    store = NodeStore()
    store.append(data[:12_345])
    started = time.perf_counter()
    asked = store.append(data[12_345:])
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"appending 10,000 leaves took {elapsed:.2f} s"
    assert len(asked) <= (12_345).bit_length()
    assert len(store.nodes) == sum(22_345 >> level for level in range((22_345).bit_length()))
    root = merkle.root(22_345, store.lookup_at(22_345))
    assert root == reference_mth(data)
    proof = merkle.inclusion_proof(12_345, 22_345, store.lookup_at(22_345))
    assert merkle.verify_inclusion(merkle.leaf_hash(data[12_345]), 12_345, 22_345, proof, root)


def test_proofs_are_refused_for_leaves_or_sizes_outside_the_tree(store):
    lookup = store.lookup_at(10)
    for index, size in ((10, 10), (-1, 10), (0, 0)):
        with pytest.raises(ValueError):
            merkle.inclusion_proof(index, size, lookup)
    for old_size, new_size in ((11, 10), (-1, 10)):
        with pytest.raises(ValueError):
            merkle.consistency_proof(old_size, new_size, lookup)
    with pytest.raises(ValueError):
        merkle.new_nodes(-1, [], lookup)


# Tampering: every change to a proof, a leaf, an index, a size or a root is refused.

SIZES_TO_TAMPER = range(1, 34)


def test_an_inclusion_proof_fails_for_a_changed_leaf_or_any_flipped_hash(store):
    for size in SIZES_TO_TAMPER:
        root = merkle.root(size, store.lookup_at(size))
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, store.lookup_at(size))
            leaf = merkle.leaf_hash(LEAF_DATA[index])
            assert not merkle.verify_inclusion(
                merkle.leaf_hash(b"forged"), index, size, proof, root
            )
            assert not merkle.verify_inclusion(leaf, index, size, proof, flipped(root))
            for position in range(len(proof)):
                tampered = [*proof[:position], flipped(proof[position]), *proof[position + 1 :]]
                assert not merkle.verify_inclusion(leaf, index, size, tampered, root)


def test_an_inclusion_proof_one_hash_short_or_long_fails(store):
    for size in SIZES_TO_TAMPER:
        root = merkle.root(size, store.lookup_at(size))
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, store.lookup_at(size))
            leaf = merkle.leaf_hash(LEAF_DATA[index])
            for extra in (root, leaf, merkle.EMPTY_ROOT):
                assert not merkle.verify_inclusion(leaf, index, size, [*proof, extra], root)
                assert not merkle.verify_inclusion(leaf, index, size, [extra, *proof], root)
            if proof:
                assert not merkle.verify_inclusion(leaf, index, size, proof[:-1], root)
                assert not merkle.verify_inclusion(leaf, index, size, proof[1:], root)


def test_an_inclusion_proof_fails_for_another_index_or_another_tree_head(store):
    for size in SIZES_TO_TAMPER:
        root = merkle.root(size, store.lookup_at(size))
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, store.lookup_at(size))
            leaf = merkle.leaf_hash(LEAF_DATA[index])
            for other in range(size + 2):
                if other != index:
                    assert not merkle.verify_inclusion(leaf, other, size, proof, root)
            for other_size in range(1, 36):
                if other_size != size:
                    other_root = merkle.root(other_size, store.lookup_at(other_size))
                    assert not merkle.verify_inclusion(leaf, index, other_size, proof, other_root)


def test_a_consistency_proof_fails_for_any_flipped_hash_or_root(store):
    for new_size in SIZES_TO_TAMPER:
        new_root = merkle.root(new_size, store.lookup_at(new_size))
        for old_size in range(1, new_size):
            old_root = merkle.root(old_size, store.lookup_at(old_size))
            proof = merkle.consistency_proof(old_size, new_size, store.lookup_at(new_size))
            assert not merkle.verify_consistency(
                old_size, new_size, flipped(old_root), new_root, proof
            )
            assert not merkle.verify_consistency(
                old_size, new_size, old_root, flipped(new_root), proof
            )
            for position in range(len(proof)):
                tampered = [*proof[:position], flipped(proof[position]), *proof[position + 1 :]]
                assert not merkle.verify_consistency(
                    old_size, new_size, old_root, new_root, tampered
                )


def test_a_consistency_proof_one_hash_short_or_long_or_for_other_sizes_fails(store):
    roots = {size: merkle.root(size, store.lookup_at(size)) for size in range(40)}
    for new_size in SIZES_TO_TAMPER:
        for old_size in range(1, new_size):
            proof = merkle.consistency_proof(old_size, new_size, store.lookup_at(new_size))
            old_root, new_root = roots[old_size], roots[new_size]
            for extra in (old_root, new_root, proof[-1]):
                longer = [*proof, extra]
                assert not merkle.verify_consistency(old_size, new_size, old_root, new_root, longer)
            shorter = proof[:-1]
            assert not merkle.verify_consistency(old_size, new_size, old_root, new_root, shorter)
            assert not merkle.verify_consistency(old_size, new_size, old_root, new_root, proof[1:])
            for other_old, other_new in ((old_size + 1, new_size), (old_size, new_size + 1)):
                if other_old < other_new:
                    assert not merkle.verify_consistency(
                        other_old, other_new, roots[other_old], roots[other_new], proof
                    )


def test_the_trivial_consistency_cases_take_an_empty_proof_and_nothing_else(store):
    root5, root8 = (merkle.root(size, store.lookup_at(size)) for size in (5, 8))
    assert merkle.verify_consistency(5, 5, root5, root5, [])
    assert not merkle.verify_consistency(5, 5, root5, root8, [])
    assert not merkle.verify_consistency(5, 5, root5, root5, [root5])
    assert merkle.verify_consistency(0, 8, merkle.EMPTY_ROOT, root8, [])
    assert merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])
    assert not merkle.verify_consistency(0, 8, root5, root8, [])
    assert not merkle.verify_consistency(0, 8, merkle.EMPTY_ROOT, root8, [root8])
    assert not merkle.verify_consistency(5, 8, root5, root8, [])  # RFC 2.1.4.2 step 1
    assert not merkle.verify_consistency(8, 5, root8, root5, [])


@pytest.mark.parametrize(
    "arguments",
    [
        (b"x" * 32, 0, 1, [], b"short"),
        (b"short", 0, 1, [], b"x" * 32),
        (b"x" * 32, 0, 2, [b"short"], b"x" * 32),
        (b"x" * 32, 0, 2, ["not bytes" * 4], b"x" * 32),
        (b"x" * 32, 0, 2, None, b"x" * 32),
        (b"x" * 32, -1, 2, [b"x" * 32], b"x" * 32),
        (b"x" * 32, 0, 0, [], b"x" * 32),
        (b"x" * 32, 2, 2, [b"x" * 32], b"x" * 32),
        (b"x" * 32, "0", 2, [b"x" * 32], b"x" * 32),
        (b"x" * 32, 0, True, [], b"x" * 32),
        (None, 0, 1, [], None),
    ],
)
def test_a_malformed_inclusion_proof_is_refused_without_raising(arguments):
    assert merkle.verify_inclusion(*arguments) is False


@pytest.mark.parametrize(
    "arguments",
    [
        (1, 2, b"x" * 32, b"x" * 32, [b"short"]),
        (1, 2, b"x" * 32, b"x" * 32, "not a list"),
        (1, 2, b"x" * 32, b"x" * 32, None),
        (1, 2, b"short", b"x" * 32, [b"x" * 32]),
        (-1, 2, b"x" * 32, b"x" * 32, [b"x" * 32]),
        (1, 2.0, b"x" * 32, b"x" * 32, [b"x" * 32]),
        (1, 2, None, None, [b"x" * 32]),
        (3, 2, b"x" * 32, b"x" * 32, [b"x" * 32]),
    ],
)
def test_a_malformed_consistency_proof_is_refused_without_raising(arguments):
    assert merkle.verify_consistency(*arguments) is False


# pymerkle 6 (InmemoryTree, sha256, security prefixes on: the default) as an independent
# implementation. Its tree heads and inclusion paths are RFC 9162's; its consistency proofs are
# its own format (a path plus `rule` and `subset` bits, starting from a leaf or the old tree's
# subroot, and descending right where the RFC descends left when the old size equals the split
# point), so those are compared by what they prove, not hash for hash.

PYMERKLE_SIZES = range(1, 41)


@pytest.fixture(scope="module")
def pymerkle_tree():
    pymerkle = pytest.importorskip("pymerkle")
    tree = pymerkle.InmemoryTree(algorithm="sha256")
    for data in LEAF_DATA[: max(PYMERKLE_SIZES)]:
        tree.append_entry(data)
    return tree


def test_pymerkle_computes_the_same_tree_heads_and_inclusion_paths(store, pymerkle_tree):
    assert pymerkle_tree.security, "RFC 9162 needs the 0x00 and 0x01 prefixes"
    for size in PYMERKLE_SIZES:
        assert pymerkle_tree.get_state(size) == merkle.root(size, store.lookup_at(size))
        for index in range(size):
            theirs = pymerkle_tree.prove_inclusion(index + 1, size)  # pymerkle counts from 1
            ours = merkle.inclusion_proof(index, size, store.lookup_at(size))
            # pymerkle's path starts with the leaf's own hash, then RFC 9162's PATH.
            assert theirs.path == [merkle.leaf_hash(LEAF_DATA[index]), *ours]


def test_pymerkle_and_we_prove_consistency_between_the_same_tree_heads(store, pymerkle_tree):
    from pymerkle import verify_consistency

    for new_size in PYMERKLE_SIZES:
        new_root = merkle.root(new_size, store.lookup_at(new_size))
        for old_size in range(1, new_size + 1):
            old_root = merkle.root(old_size, store.lookup_at(old_size))
            # pymerkle accepts its own proof between our tree heads (it raises if not) ...
            verify_consistency(
                old_root, new_root, pymerkle_tree.prove_consistency(old_size, new_size)
            )
            # ... and we accept ours between its tree heads.
            ours = merkle.consistency_proof(old_size, new_size, store.lookup_at(new_size))
            their_old, their_new = (pymerkle_tree.get_state(s) for s in (old_size, new_size))
            assert merkle.verify_consistency(old_size, new_size, their_old, their_new, ours)
