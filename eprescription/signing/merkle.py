"""RFC 9162 (Certificate Transparency v2) Merkle tree: hashes, tree heads, proofs, verification."""

import hashlib
import hmac
from collections.abc import Callable, Sequence

# `node(level, index)` returns the stored hash of the perfect subtree over the leaves
# [index * 2**level, (index + 1) * 2**level); level 0 holds the leaf hashes.
NodeLookup = Callable[[int, int], bytes]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(width: int) -> int:
    """The largest power of two smaller than `width` (> 1): where RFC 9162 splits a tree."""
    return 1 << ((width - 1).bit_length() - 1)


def new_nodes(
    size: int, leaf_hashes: Sequence[bytes], node: NodeLookup
) -> list[tuple[int, int, bytes]]:
    """Every perfect-subtree node (level, index, hash) completed by appending `leaf_hashes` to
    a tree of `size` leaves, level 0 included. Nodes of the same batch are combined here; only a
    left sibling already stored before the append is asked of `node` (at most one a level)."""
    if size < 0:
        raise ValueError("size must be >= 0")
    new_size = size + len(leaf_hashes)
    created = [(0, size + offset, digest) for offset, digest in enumerate(leaf_hashes)]
    level, first, hashes = 0, size, list(leaf_hashes)  # hashes[i] is node (level, first + i)
    while True:
        # Node (level + 1, i) is new when it ends after the old size: i >= size >> (level + 1).
        parent_first, parent_end = size >> (level + 1), new_size >> (level + 1)
        if parent_first >= parent_end:
            return created  # no new parent here, so none higher up either
        parents = []
        for parent in range(parent_first, parent_end):
            left_index = 2 * parent
            # The right child is always new; the left one is old at most for the first parent.
            left = hashes[left_index - first] if left_index >= first else node(level, left_index)
            parents.append(node_hash(left, hashes[left_index + 1 - first]))
        level, first, hashes = level + 1, parent_first, parents
        created += [(level, first + offset, digest) for offset, digest in enumerate(parents)]


def range_root(start: int, end: int, node: NodeLookup) -> bytes:
    """MTH of the leaves [start, end), by RFC 9162's recursive split. An aligned perfect range
    is one stored node; for the ranges the RFC's recursion visits, the left half is always
    aligned, so only the right half recurses: O(log n) look-ups."""
    width = end - start
    if width <= 0:
        if width == 0:
            return EMPTY_ROOT
        raise ValueError("start must not exceed end")
    if width & (width - 1) == 0 and start % width == 0:
        return node(width.bit_length() - 1, start // width)
    k = _split(width)
    return node_hash(range_root(start, start + k, node), range_root(start + k, end, node))


def root(size: int, node: NodeLookup) -> bytes:
    """The tree head (MTH) of the first `size` leaves."""
    return range_root(0, size, node)


def inclusion_proof(index: int, size: int, node: NodeLookup) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(index, D[0:size]), leaf side first."""
    if not 0 <= index < size:
        raise ValueError("the leaf index must be in [0, size)")
    path: list[bytes] = []  # built root side first, reversed at the end
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(range_root(start + k, end, node))
            end = start + k
        else:
            path.append(range_root(start, start + k, node))
            start += k
    return path[::-1]


def consistency_proof(old_size: int, new_size: int, node: NodeLookup) -> list[bytes]:
    """RFC 9162 2.1.4.1 PROOF(old_size, D[0:new_size]); empty when old_size is 0 or new_size,
    where there is nothing to prove."""
    if not 0 <= old_size <= new_size:
        raise ValueError("sizes must satisfy 0 <= old_size <= new_size")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []  # built root side first, reversed at the end
    start, end, m, whole_old_tree = 0, new_size, old_size, True  # whole_old_tree is RFC's `b`
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(range_root(start + k, end, node))
            end = start + k
        else:
            proof.append(range_root(start, start + k, node))
            start, m, whole_old_tree = start + k, m - k, False
    if not whole_old_tree:  # the old tree's head is known to the verifier: leave it out
        proof.append(range_root(start, end, node))
    return proof[::-1]


def _is_hash_list(proof: object) -> bool:
    return isinstance(proof, list | tuple) and all(
        isinstance(h, bytes) and len(h) == HASH_SIZE for h in proof
    )


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does `proof` show leaf `index` hashing to `leaf_hash` under `root`?"""
    if not (_is_size(index) and _is_size(size) and _is_hash_list(proof)):
        return False
    if not (_is_hash_list([leaf_hash, root]) and index < size):
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False  # the proof is longer than the path to the root
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # Climb past the levels where this node has no right sibling (the tree's edge).
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(r, root)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: is the tree (`new_size`, `new_root`) an extension of
    (`old_size`, `old_root`)? The RFC proves 0 < old_size < new_size; the two trivial cases take
    an empty proof: equal sizes with equal roots, and the empty tree, consistent with any."""
    if not (_is_size(old_size) and _is_size(new_size) and _is_hash_list(proof)):
        return False
    if not (_is_hash_list([old_root, new_root]) and old_size <= new_size):
        return False
    if old_size == new_size:
        return not proof and hmac.compare_digest(old_root, new_root)
    if old_size == 0:
        return not proof and hmac.compare_digest(old_root, EMPTY_ROOT)
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)  # a perfect old tree is a node of the new one: start there
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False  # the proof is longer than the path to the root
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(fr, old_root) and hmac.compare_digest(sr, new_root)
