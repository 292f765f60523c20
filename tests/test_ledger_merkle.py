"""RFC 6962 / 9162 Merkle hashing and proofs against the published test vectors.

Vectors: the certificate-transparency reference leaves and tree heads, and the inclusion and
consistency proofs of transparency-dev/merkle (proof/verify_test.go), used as data only.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veriframe.provenance.transparency import merkle

LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
)]
ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # size 0
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",  # size 8
)]
# (leaf index, tree size, path)
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (0, 1, []),
]
# (first size, second size, proof)
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


@pytest.fixture(scope="module")
def tree() -> merkle.ListTree:
    return merkle.ListTree([merkle.leaf_hash(d) for d in LEAVES])


def test_hash_prefixes_and_empty_root() -> None:
    assert ROOTS[0] == merkle.EMPTY_ROOT
    assert merkle.leaf_hash(b"") == ROOTS[1] == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(merkle.leaf_hash(LEAVES[0]), merkle.leaf_hash(LEAVES[1])) == ROOTS[2]


def test_roots_for_every_size(tree: merkle.ListTree) -> None:
    for size in range(len(LEAVES) + 1):
        assert tree.root(size) == ROOTS[size], f"size {size}"


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_vectors(tree: merkle.ListTree, index: int, size: int, path: list[str]) -> None:
    expected = [bytes.fromhex(h) for h in path]
    assert tree.inclusion_path(index, size) == expected
    assert merkle.verify_inclusion(index, size, merkle.leaf_hash(LEAVES[index]), expected, ROOTS[size])


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_consistency_vectors(tree: merkle.ListTree, first: int, second: int, proof: list[str]) -> None:
    expected = [bytes.fromhex(h) for h in proof]
    assert tree.consistency_proof(first, second) == expected
    assert merkle.verify_consistency(first, second, ROOTS[first], ROOTS[second], expected)


@pytest.mark.parametrize(("index", "size", "path"), [v for v in INCLUSION if v[2]])
def test_corrupted_inclusion_proofs_fail(index: int, size: int, path: list[str]) -> None:
    proof = [bytes.fromhex(h) for h in path]
    leaf, root = merkle.leaf_hash(LEAVES[index]), ROOTS[size]
    probes = [
        (index - 1, size, leaf, proof, root), (index + 1, size, leaf, proof, root),
        (index ^ 2, size, leaf, proof, root), (index, size * 2, leaf, proof, root),
        (index, size // 2, leaf, proof, root), (index, size, b"WrongLeaf", proof, root),
        (index, size, leaf, proof, ROOTS[0]), (index, size, leaf, proof, SOME_HASH),
        (index, size, leaf, [*proof, b""], root), (index, size, leaf, [*proof, root], root),
        (index, size, leaf, [b"", *proof], root), (index, size, leaf, [root, *proof], root),
        (index, size, leaf, proof[:-1], root), (index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append((index, size, leaf, flipped, root))
    for probe in probes:
        assert not merkle.verify_inclusion(*probe), probe


@pytest.mark.parametrize(("first", "second", "proof"), [v for v in CONSISTENCY if v[2]])
def test_corrupted_consistency_proofs_fail(first: int, second: int, proof: list[str]) -> None:
    path = [bytes.fromhex(h) for h in proof]
    r1, r2 = ROOTS[first], ROOTS[second]
    probes = [
        (first - 1, second, r1, r2, path), (first + 1, second, r1, r2, path),
        (first ^ 2, second, r1, r2, path),
        (first, second * 2, r1, r2, path), (first, second // 2, r1, r2, path),
        (first, second, b"WrongRoot", r2, path), (first, second, r1, b"WrongRoot", path),
        (first, second, r2, r1, path), (first, second, r1, r2, []),
        (first, second, r1, r2, [*path, b""]), (first, second, r1, r2, [*path, r1]),
        (first, second, r1, r2, [*path, r2]), (first, second, r1, r2, [b"", *path]),
        (first, second, r1, r2, [r1, *path]), (first, second, r1, r2, [r2, *path]),
        (first, second, r1, r2, [path[0], *path]), (first, second, r1, r2, path[:-1]),
    ]
    for i in range(len(path)):
        flipped = list(path)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append((first, second, r1, r2, flipped))
    for probe in probes:
        assert not merkle.verify_consistency(*probe), probe[:2]


def test_trivial_consistency_cases() -> None:
    a, b = b"\x01" * 32, b"\x02" * 32
    assert merkle.verify_consistency(0, 0, a, a, [])
    assert merkle.verify_consistency(0, 5, a, b, [])
    assert not merkle.verify_consistency(1, 1, a, b, [])
    assert not merkle.verify_consistency(2, 1, a, b, [])
    assert not merkle.verify_consistency(1, 1, a, a, [merkle.EMPTY_ROOT])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=70), st.data())
def test_every_proof_of_random_trees_verifies(data: list[bytes], draw: st.DataObject) -> None:
    leaves = [merkle.leaf_hash(d) for d in data]
    tree = merkle.ListTree(leaves)
    n = len(leaves)
    index = draw.draw(st.integers(0, n - 1))
    first = draw.draw(st.integers(0, n))
    assert merkle.verify_inclusion(index, n, leaves[index], tree.inclusion_path(index), tree.root())
    assert merkle.verify_consistency(first, n, tree.root(first), tree.root(), tree.consistency_proof(first))
    if first not in (0, n) and tree.root(first) != tree.root():
        assert not merkle.verify_consistency(first, n, tree.root(), tree.root(first),
                                             tree.consistency_proof(first))


def test_frontier_matches_the_tree_and_names_completed_nodes() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(37)]
    tree = merkle.ListTree(leaves)
    frontier: list[bytes] = []
    for size, leaf in enumerate(leaves):
        frontier, completed = merkle.frontier_append(frontier, size, leaf)
        assert merkle.frontier_root(frontier) == tree.root(size + 1)
        assert [tree.get(*node) for node in merkle.frontier_nodes(size + 1)] == frontier
        for level, index, value in completed:
            assert tree.get(level, index) == value
            assert (index + 1) << level == size + 1  # a node completes exactly when its last leaf arrives
    with pytest.raises(merkle.ProofError):
        merkle.frontier_append(frontier[:-1], 37, leaves[0])
