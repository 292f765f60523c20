"""The verifier's own parsers (top-level boxes, PNG chunks, manifest-store structure, hard-binding
exclusions) on arbitrary bytes and hostile signed values: they never raise and never claim more than
the file holds."""

from __future__ import annotations

import io
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from veriframe.provenance.coverage import data_hash_uncovered, mp4_uncovered, store_uncovered
from veriframe.provenance.layout import PNG_SIGNATURE, mp4_layout, png_layout, read_manifest_store

_KINDS = st.sampled_from([b"ftyp", b"moov", b"mdat", b"free", b"skip", b"uuid", b"mfra", b"\x00\xff\x10a"])


@st.composite
def _boxes(draw) -> bytes:
    """Mostly well-formed boxes (with hostile sizes now and then), then random trailing bytes."""
    out = b""
    for _ in range(draw(st.integers(0, 6))):
        payload = draw(st.binary(max_size=64))
        size = draw(st.sampled_from([8 + len(payload), 0, 1, 7, 2**32 - 1, 8 + len(payload) + 3]))
        out += struct.pack(">I4s", size, draw(_KINDS)) + payload
    return out + draw(st.binary(max_size=12))


def _check_layout(layout, size: int, start: int = 0) -> None:
    end = start
    for part in layout.parts:
        assert part.offset == end and part.size >= part.header and part.offset + part.size <= size
        end = part.offset + part.size
    assert layout.problem is not None or end == size  # either every byte is in a part, or we say why


@settings(max_examples=300, deadline=None)
@given(_boxes())
def test_mp4_layout_never_raises_and_stays_inside_the_file(data):
    stream = io.BytesIO(data)
    layout = mp4_layout(stream, len(data))
    _check_layout(layout, len(data))
    c2pa_uuid = {"offset": 8, "value": "2P7D1hsOSDySl1goh37EgQ=="}
    exclusions = [{"xpath": "/free"}, {"xpath": "/uuid", "data": [c2pa_uuid]},
                  {"xpath": "/mdat", "subset": [{"offset": 3, "length": 0}]}, {"xpath": "/moov/trak"}]
    for region in mp4_uncovered(stream, layout, exclusions, None):
        assert region.offset + region.size <= len(data) or region.size == 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_png_layout_and_store_parsers_never_raise(tail):
    data = PNG_SIGNATURE + tail
    stream = io.BytesIO(data)
    layout = png_layout(stream, len(data))
    _check_layout(layout, len(data), start=len(PNG_SIGNATURE))
    for part in layout.parts:
        store, trailing = read_manifest_store(stream, part, "image/png")
        if store is not None:
            store_uncovered(store, 0, trailing)
    store_uncovered(tail, 0, 0)  # arbitrary bytes as a JUMBF store


_HOSTILE = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=5),
                     st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                          max_size=2))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["xpath", "data", "subset", "version", "start", "length"]),
                                _HOSTILE, max_size=4), max_size=4))
def test_hostile_exclusion_values_are_reported_not_raised(exclusions):
    """Exclusions come from a manifest anyone can sign (an untrusted signer still validates)."""
    data = struct.pack(">I4s", 16, b"free") + bytes(8) + struct.pack(">I4s", 8, b"moov")
    stream = io.BytesIO(data)
    layout = mp4_layout(stream, len(data))
    mp4_uncovered(stream, layout, exclusions, None)
    data_hash_uncovered(exclusions, layout.parts[0])
