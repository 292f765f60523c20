"""Which share of a prompt is written in scripts the classifier cannot read.

The sentence encoder (all-MiniLM-L6-v2) and the term lists read Latin-script text. Measured on the
project's training files (2026-12-07), screen v9 flagged 1.4% of 345 unsafe prompts written wholly in
Chinese, Japanese, Korean, Cyrillic, Arabic or Devanagari script, against ~80% of Latin-script ones: such a
prompt passes the classifier unexamined. The policy's ``unread_script_action`` decides what happens to a
prompt whose letters are mostly in other scripts (docs/safety.md, "Prompts in other scripts").
"""

from __future__ import annotations

import unicodedata

#: A prompt with at least this share of its letters outside the Latin script is not read by the screen.
#: A third: a few English tags after a sentence in another script do not make it readable, and a Latin
#: prompt with a Greek letter or a quoted foreign word stays far below it.
UNREAD_SHARE = 1 / 3


#: Scripts written without spaces carry about a word in one to two characters where English takes five
#: letters: each of their characters weighs this many letters, so that English tags after a Chinese
#: sentence do not outweigh it.
DENSE_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL")
DENSE_WEIGHT = 3


def unread_share(text: str) -> float:
    """The weighted share of ``text``'s letters that are not Latin script (0 when it has no letters)."""
    latin = other = 0
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        if name.startswith("LATIN"):
            latin += 1
        else:
            other += DENSE_WEIGHT if name.startswith(DENSE_SCRIPTS) else 1
    return other / (latin + other) if latin + other else 0.0
