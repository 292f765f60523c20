"""The watermark payload: a 64-bit id and a 32-bit check tag, error-coded, as soft-decodable bits.

Two formats. **Format 2** (the tiled v2 mark, ``watermark_v2``): ``id (64 bits) | tag (32 bits)``,
``tag = BLAKE2b-32(id, person="veriframe-wm-v2")``, coded by the rate-1/3, constraint-length-7
convolutional code (generators 133, 171, 165 octal; 6 zero tail bits) into ``V2_CODED_BITS = 306``
bits, XOR-ed with a fixed pseudo-random mask, and decoded by a soft-decision Viterbi decoder: the
maximum-likelihood message for the soft values, which tolerates far more noise than hard-decision
Reed-Solomon and yields exactly one candidate per decode.

**Format 1** (the per-frame block mark of ``watermark_v1``, still detected in older files):

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
and the detector bounds how many soft vectors it decodes per video (see ``watermark_v1.MAX_DECODES``), so
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


def _tag(id_bytes: bytes, person: bytes = b"veriframe-wm-v1") -> bytes:
    return hashlib.blake2b(id_bytes, digest_size=TAG_BYTES, person=person).digest()


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


# ------------------------------------------------------------------------------------ format 2

V2_INFO_BITS = (ID_BYTES + TAG_BYTES) * 8  # 96
_CONV_K = 7
_CONV_POLYS = (0o133, 0o171, 0o165)
V2_CODED_BITS = len(_CONV_POLYS) * (V2_INFO_BITS + _CONV_K - 1)  # 306
_MASK_V2 = np.random.default_rng(0x5EED_0F_7E2F).integers(0, 2, V2_CODED_BITS).astype(np.uint8)
_V2_PERSON = b"veriframe-wm-v2"
_STATES = 1 << (_CONV_K - 1)


def _conv_tables() -> tuple[np.ndarray, np.ndarray]:
    """OUT[state, bit] = the branch's output signs (+-1, one per generator); NEXT[state, bit]."""
    out = np.zeros((_STATES, 2, len(_CONV_POLYS)))
    nxt = np.zeros((_STATES, 2), np.int64)
    for state in range(_STATES):
        for bit in (0, 1):
            register = (state << 1) | bit  # newest bit lowest, K bits
            out[state, bit] = [2.0 * (bin(register & g).count("1") & 1) - 1.0 for g in _CONV_POLYS]
            nxt[state, bit] = register & (_STATES - 1)
    return out, nxt


_OUT, _NEXT = _conv_tables()


def _info_bits(provenance_id: int) -> np.ndarray:
    id_bytes = int(provenance_id).to_bytes(ID_BYTES, "big")
    return np.unpackbits(np.frombuffer(id_bytes + _tag(id_bytes, _V2_PERSON), np.uint8))


def encode_id_v2(provenance_id: int) -> np.ndarray:
    """The 306 format-2 coded bits (uint8 0/1) for ``provenance_id``."""
    state, coded = 0, []
    for bit in [*_info_bits(provenance_id).tolist(), *([0] * (_CONV_K - 1))]:
        coded.extend(_OUT[state, bit] > 0)
        state = _NEXT[state, bit]
    return np.asarray(coded, np.uint8) ^ _MASK_V2


def _viterbi(signs: np.ndarray) -> np.ndarray:
    """Maximum-correlation input bits for soft code values ``signs`` (+ = 1), terminated in state 0.

    State = the last K-1 input bits (newest lowest), so state s is reached from states ``s >> 1`` and
    ``(s >> 1) | 2^(K-2)`` with input bit ``s & 1``.
    """
    steps = signs.reshape(-1, len(_CONV_POLYS))
    target = np.arange(_STATES)
    bit = target & 1
    low = target >> 1
    high = low | (_STATES >> 1)
    metric = np.full(_STATES, -np.inf)
    metric[0] = 0.0
    from_high = np.zeros((len(steps), _STATES), bool)
    for t, values in enumerate(steps):
        branch = _OUT @ values  # (state, bit)
        via_low = metric[low] + branch[low, bit]
        via_high = metric[high] + branch[high, bit]
        from_high[t] = via_high > via_low
        metric = np.where(from_high[t], via_high, via_low)
    state, bits = 0, []
    for t in range(len(steps) - 1, -1, -1):
        bits.append(state & 1)
        state = (state >> 1) | ((_STATES >> 1) if from_high[t, state] else 0)
    return np.asarray(bits[::-1], np.uint8)


def decode_soft_v2(soft: np.ndarray) -> Decoded | None:
    """Decode 306 format-2 soft values (> 0 means bit 1) to an id, or None when the tag does not match.

    One candidate per call (the Viterbi path), so a call on unmarked pixels yields an id with
    probability 2^-32.
    """
    soft = np.asarray(soft, np.float64)
    if soft.shape != (V2_CODED_BITS,):
        raise ValueError(f"expected {V2_CODED_BITS} soft values, got {soft.shape}")
    signs = np.where(_MASK_V2 == 1, -soft, soft)
    info = _viterbi(signs)[:V2_INFO_BITS]
    data = np.packbits(info).tobytes()
    id_bytes, tag = data[:ID_BYTES], data[ID_BYTES:]
    if _tag(id_bytes, _V2_PERSON) != tag:
        return None
    provenance_id = int.from_bytes(id_bytes, "big")
    errors = int(np.count_nonzero((soft > 0).astype(np.uint8) != encode_id_v2(provenance_id)))
    return Decoded(provenance_id, errors)
