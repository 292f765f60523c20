"""Split a long prompt into sentence-sized chunks, so one unsafe sentence hidden in a long benign
prompt is scored on its own instead of being diluted by the rest (the screen takes the max)."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
_MIN_WORDS = 4  # shorter pieces ("Slowly.") are merged with their neighbour: alone they mean little
_MAX_WORDS = 40  # longer sentences are cut into windows of this many words


def split_chunks(text: str, *, max_chunks: int = 16) -> list[str]:
    """Sentence chunks of ``text``; empty when the text is a single chunk (score the whole only).

    At most ``max_chunks`` are returned; beyond that the tail is merged into the last window so
    the cost per prompt stays bounded (the screen also caps the prompt's length).
    """
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        words = sentence.split()
        if not words:
            continue
        for i in range(0, len(words), _MAX_WORDS):
            window = words[i : i + _MAX_WORDS]
            if pieces and (len(window) < _MIN_WORDS or len(pieces[-1].split()) < _MIN_WORDS):
                pieces[-1] = pieces[-1] + " " + " ".join(window)
            else:
                pieces.append(" ".join(window))
    if len(pieces) <= 1:
        return []
    if len(pieces) > max_chunks:
        # Widen the windows rather than dropping text: every word is still scored in some chunk.
        words = text.split()
        size = -(-len(words) // max_chunks)
        pieces = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    return pieces


def pieces_to_score(text: str) -> list[str]:
    """What the classifier scores for one prompt: its chunks when it has several, else the whole text.

    The whole-prompt pass is skipped for chunked prompts: every word is already scored in some chunk,
    and the whole pass (truncated at the encoder's 128 tokens anyway) cost as much as all the chunks
    together, so dropping it halves the latency of a long prompt. The screen takes the max over pieces.
    """
    return split_chunks(text) or [text]
