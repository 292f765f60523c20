"""The watermark payload: a 64-bit id, a 32-bit check tag and Reed-Solomon parity, as soft-decodable bits.

Layout of one codeword (160 bits): ``id (8 bytes) | tag (4 bytes) | RS parity (8 bytes)``, XOR-ed with a
fixed pseudo-random mask (so an all-0 or all-1 read, which flat or saturated content produces, is not a
codeword). ``tag = BLAKE2b-32(id, person="veriframe-wm-v1")``.

Each frame carries ``EMBED_BITS = 192`` bits: the codeword plus a 32-bit known sync word, shuffled by one
of ``NUM_KEYS`` frame keys (frame ``t`` uses key ``t % NUM_KEYS``). The shuffle moves every codeword bit
to other image blocks from one frame to the next, so a codec error tied to the content at one place in
the picture hits different codeword bits in different frames and averages out. The detector finds each
frame's key (and the read-out polarity) from the sync word, so dropped, duplicated or reordered frames
do not matter.

False positives, by construction: :func:`decode_soft` returns an id only when the Reed-Solomon decoder
yields a message whose 32-bit tag matches its id. For pixels that carry no mark the decoded message is
not derived from any genuine id, so a match happens with probability 2^-32 per candidate (BLAKE2b
behaves as a random function). :data:`MAX_CANDIDATES_PER_DECODE` candidates are tried per soft vector
and the detector bounds how many soft vectors it decodes per video (see ``watermark.MAX_DECODES``), so
the false-positive rate per video is at most ``MAX_DECODES * MAX_CANDIDATES_PER_DECODE * 2^-32``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from reedsolo import ReedSolomonError, RSCodec

ID_BYTES = 8
TAG_BYTES = 4
PARITY_BYTES = 8  # corrects 4 byte errors, or 8 erasures (reedsolo: 2*errors + erasures <= 8)
CODEWORD_BITS = (ID_BYTES + TAG_BYTES + PARITY_BYTES) * 8  # 160
SYNC_BITS = 32
EMBED_BITS = CODEWORD_BITS + SYNC_BITS  # 192
NUM_KEYS = 8
#: Erasure counts tried after a plain decode fails (the least reliable bytes are erased).
ERASURE_STEPS = (2, 4, 6, 8)
MAX_CANDIDATES_PER_DECODE = 1 + len(ERASURE_STEPS)

_RS = RSCodec(PARITY_BYTES)
_rng = np.random.default_rng(0x5EED_0F_7E1F)  # fixed: these are part of the format, not secrets
_MASK = _rng.integers(0, 2, CODEWORD_BITS).astype(np.uint8)
SYNC = _rng.integers(0, 2, SYNC_BITS).astype(np.uint8)
#: KEYS[k][q] = which logical bit (codeword 0..159, then sync 160..191) is embedded at position q.
KEYS = np.stack([_rng.permutation(EMBED_BITS) for _ in range(NUM_KEYS)])


def _tag(id_bytes: bytes) -> bytes:
    return hashlib.blake2b(id_bytes, digest_size=TAG_BYTES, person=b"veriframe-wm-v1").digest()


def encode_id(provenance_id: int) -> np.ndarray:
    """The 160 codeword bits (uint8 0/1) for ``provenance_id``."""
    id_bytes = int(provenance_id).to_bytes(ID_BYTES, "big")
    coded = bytes(_RS.encode(id_bytes + _tag(id_bytes)))
    return np.unpackbits(np.frombuffer(coded, np.uint8)) ^ _MASK


def frame_bits(provenance_id: int, frame_index: int) -> np.ndarray:
    """The 192 bits embedded in frame ``frame_index`` (position order, as the library tiles them)."""
    logical = np.concatenate([encode_id(provenance_id), SYNC])
    return logical[KEYS[frame_index % NUM_KEYS]]


@dataclass(frozen=True)
class Decoded:
    provenance_id: int
    bit_errors: int  # hard-decision errors the error correction repaired (of CODEWORD_BITS)


def decode_soft(soft: np.ndarray) -> Decoded | None:
    """Decode 160 soft values (> 0 means bit 1, magnitude = reliability) to an id, or None.

    Tries a plain hard-decision decode, then erases the least reliable bytes in growing numbers.
    """
    soft = np.asarray(soft, np.float64)
    if soft.shape != (CODEWORD_BITS,):
        raise ValueError(f"expected {CODEWORD_BITS} soft values, got {soft.shape}")
    hard = (soft > 0).astype(np.uint8) ^ _MASK
    received = bytearray(np.packbits(hard).tobytes())
    byte_reliability = np.abs(soft).reshape(-1, 8).min(axis=1)
    order = [int(i) for i in np.argsort(byte_reliability, kind="stable")]
    for erasures in (0, *ERASURE_STEPS):
        try:
            message, _, _ = _RS.decode(received, erase_pos=order[:erasures] or None)
        except ReedSolomonError:
            continue
        id_bytes, tag = bytes(message[:ID_BYTES]), bytes(message[ID_BYTES:])
        if _tag(id_bytes) != tag:
            continue
        provenance_id = int.from_bytes(id_bytes, "big")
        errors = int(np.count_nonzero((soft > 0).astype(np.uint8) != encode_id(provenance_id)))
        return Decoded(provenance_id, errors)
    return None
