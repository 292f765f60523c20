"""Merkle tree hashing, inclusion and consistency proofs as in RFC 6962 / RFC 9162 (section 2.1).

Pure functions over SHA-256 digests; nothing here knows about databases (docs/ledger.md).
The proof algorithms read
the tree through a `NodeGetter`: `get(level, index)` returns the hash of the *perfect* subtree of
2**level leaves starting at leaf `index * 2**level`. A list of leaf hashes (`ListTree`) or stored
nodes (the ledger) can answer it; every other subtree hash is composed from those here, following
the RFC's split rule (the left part is the largest power of two smaller than the range).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = SHA-256()

NodeGetter = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof was asked for sizes or indexes the tree cannot have."""


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1)."""
    if n < 2:
        raise ProofError(f"cannot split a range of {n} leaves")
    return 1 << ((n - 1).bit_length() - 1)


def _is_perfect(start: int, size: int) -> bool:
    return size & (size - 1) == 0 and start % size == 0


def subtree_hash(start: int, end: int, get: NodeGetter) -> bytes:
    """MTH(D[start:end]) for a range the RFC recursion visits (start aligned to the left part)."""
    size = end - start
    if size <= 0:
        raise ProofError(f"empty range [{start}, {end})")
    if _is_perfect(start, size):
        return get(size.bit_length() - 1, start // size)
    k = split_point(size)
    if start % k:
        raise ProofError(f"range [{start}, {end}) is not a subtree of an RFC 6962 tree")
    return node_hash(subtree_hash(start, start + k, get), subtree_hash(start + k, end, get))


def tree_root(size: int, get: NodeGetter) -> bytes:
    """MTH of the first `size` leaves."""
    return EMPTY_ROOT if size == 0 else subtree_hash(0, size, get)


def inclusion_path(index: int, size: int, get: NodeGetter) -> list[bytes]:
    """PATH(index, D[size]) of RFC 6962 section 2.1.1: sibling hashes, leaf level first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    siblings: list[bytes] = []  # collected top-down, returned bottom-up
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index < lo + k:
            siblings.append(subtree_hash(lo + k, hi, get))
            hi = lo + k
        else:
            siblings.append(subtree_hash(lo, lo + k, get))
            lo = lo + k
    return siblings[::-1]


def consistency_proof(first: int, second: int, get: NodeGetter) -> list[bytes]:
    """PROOF(first, D[second]) of RFC 6962 section 2.1.2 (empty when first is 0 or equals second)."""
    if not 0 <= first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    parts: list[bytes] = []  # collected top-down, returned bottom-up
    lo, hi, m, whole = 0, second, first, True
    while m != hi - lo:
        k = split_point(hi - lo)
        if m <= k:
            parts.append(subtree_hash(lo + k, hi, get))
            hi = lo + k
        else:
            parts.append(subtree_hash(lo, lo + k, get))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        parts.append(subtree_hash(lo, hi, get))
    return parts[::-1]


def _hashes_ok(*hashes: bytes) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def root_from_inclusion_path(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root an inclusion path leads to (RFC 9162 section 2.1.3.2), or None if it is malformed."""
    if not 0 <= index < size or not _hashes_ok(leaf, *path):
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
    """True if `path` proves leaf hash `leaf` is leaf `index` of the tree of `size` with `root`."""
    computed = root_from_inclusion_path(index, size, leaf, path)
    return computed is not None and computed == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True if `proof` shows the tree (second, second_root) extends (first, first_root) (RFC 9162 2.1.4.2)."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return len(proof) == 0 and first_root == second_root
    if first == 0:
        return len(proof) == 0  # everything extends the empty tree
    if not proof or not _hashes_ok(first_root, second_root, *proof):
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the first tree is itself a node of the second
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


# --- the compact frontier: the tree's right edge, enough to append and to compute the root ---


def frontier_append(
    frontier: list[bytes], size: int, leaf: bytes
) -> tuple[list[bytes], list[tuple[int, int, bytes]]]:
    """Append leaf number `size` to a tree given by its frontier.

    The frontier holds the hashes of the perfect subtrees the tree of `size` leaves splits into,
    largest first (one per set bit of `size`). Returns the new frontier and the perfect interior
    nodes the leaf completed, as (level, index, hash).
    """
    if len(frontier) != size.bit_count():
        raise ProofError(f"a frontier for {size} leaves has {size.bit_count()} hashes, not {len(frontier)}")
    frontier = list(frontier)
    completed: list[tuple[int, int, bytes]] = []
    h, level, n = leaf, 0, size
    while n & 1:  # each trailing set bit is a subtree of equal size waiting for a right sibling
        h = node_hash(frontier.pop(), h)
        level += 1
        n >>= 1
        completed.append((level, (size + 1) // (1 << level) - 1, h))
    frontier.append(h)
    return frontier, completed


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    """MTH of the tree a frontier describes: fold the subtrees from the right."""
    if not frontier:
        return EMPTY_ROOT
    r = frontier[-1]
    for h in reversed(frontier[:-1]):
        r = node_hash(h, r)
    return r


def frontier_nodes(size: int) -> list[tuple[int, int]]:
    """(level, index) of the perfect subtrees that make up a tree of `size` leaves, largest first."""
    nodes, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


class ListTree:
    """A tree over an in-memory list of leaf hashes; `get` recomputes subtrees (memoised)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = list(leaves)
        self._memo: dict[tuple[int, int], bytes] = {}

    def get(self, level: int, index: int) -> bytes:
        if level == 0:
            return self.leaves[index]
        key = (level, index)
        if key not in self._memo:
            self._memo[key] = node_hash(self.get(level - 1, 2 * index), self.get(level - 1, 2 * index + 1))
        return self._memo[key]

    def root(self, size: int | None = None) -> bytes:
        return tree_root(len(self.leaves) if size is None else size, self.get)

    def inclusion_path(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_path(index, len(self.leaves) if size is None else size, self.get)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        return consistency_proof(first, len(self.leaves) if second is None else second, self.get)


def nodes_needed(compute: Callable[[NodeGetter], object]) -> set[tuple[int, int]]:
    """The perfect-subtree nodes `compute` reads, found with a dry run: lets a store fetch them at once."""
    wanted: set[tuple[int, int]] = set()

    def record(level: int, index: int) -> bytes:
        wanted.add((level, index))
        return bytes(HASH_SIZE)

    compute(record)
    return wanted
