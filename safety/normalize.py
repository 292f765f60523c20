"""Prompt normalisation: undo the usual tricks used to slip words past a filter.

Two forms come out of one prompt, and the original is kept untouched for the record:

- ``text``: what the classifier reads. NFKC, invisible and control characters removed, combining marks
  dropped, look-alike letters from other scripts folded to Latin, leetspeak folded where it is
  clearly leetspeak (a digit or symbol between letters: ``s3x``, ``p0rn``), letters spaced or dotted
  apart joined again (``n u d e``, ``n.u.d.e``), whitespace collapsed. Case is kept.
- ``folded``: what the policy rules match against: ``text`` lower-cased, every letter/digit mix
  leet-folded, separators inside words removed (``nu-de``), runs of three or more equal letters
  collapsed (``nuuude``). Rule terms go through the same function, so both sides agree.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

# Leetspeak: the substitutions seen in practice. Digits are folded only inside words (see below) so
# "3 cats" and "1080p" survive.
_LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "l",
        "+": "t",
        "€": "e",
    }
)
_LEET_CHARS = "013457 8@$!|+€".replace(" ", "")

# Separators people put between the letters of a word ("n.u.d.e", "n-u-d-e", "n_u_d_e", "n*u*d*e").
_SEP = r"[\s.\-_*·•|/\\~^,:;'\"`+]+"
# Three or more single letters (or leet characters) in a row, separated: "n u d e", "n . 4 . k . e . d".
_UNIT = r"(?:[^\W_]|[@$])"
_SPACED_LETTERS = re.compile(rf"(?<![^\W_])(?:{_UNIT}{_SEP}){{2,}}{_UNIT}(?![^\W_])")
# A separator (not whitespace) inside a word: "nu-de", "na.ked", "s*x". Applied to the rule form only.
_INNER_SEP = re.compile(r"(?<=[^\W_])[.\-_*·•|~^'`+]+(?=[^\W_])")
# A leet character with a letter on each side ("s3x", "n4k3d"), or a leading $/@ ("$ex").
_LEET_INSIDE = re.compile(rf"(?<=[^\W\d_])[{re.escape(_LEET_CHARS)}]+(?=[^\W\d_])")
_LEET_LEAD = re.compile(r"(?<![^\W_])[$@](?=[^\W\d_]{2,})")
_LEET_TOKEN = re.compile(rf"[\w{re.escape(_LEET_CHARS)}]+")
_REPEATS = re.compile(r"([^\W\d_])\1{2,}")
_WS = re.compile(r"\s+")

# Characters removed outright: zero-width/format characters (Cf: ZWSP, ZWJ, soft hyphen, bidi
# overrides, BOM), variation selectors and tag characters.
_VARIATION_SELECTORS = {*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)}


@dataclass(frozen=True)
class NormalizedPrompt:
    """A prompt in its original form and its two normalised forms (see the module docstring)."""

    original: str
    text: str
    folded: str
    # Words put back together from spaced-out letters ("a n u d e" -> "anude"): the rules also look for
    # terms *inside* these, because the joined run may have swallowed a neighbouring one-letter word.
    joined: tuple[str, ...] = ()


@functools.cache
def _homoglyph_table() -> dict[int, str]:
    """Non-ASCII letters that look like an ASCII letter or digit, from Unicode's confusables list.

    The data comes from the ``confusable_homoglyphs`` package (Unicode TR39 confusables.txt); we keep
    only single-character look-alikes of ASCII letters and digits (Cyrillic "а" -> "a", Greek "ν" -> "v").
    """
    import confusable_homoglyphs

    path = Path(confusable_homoglyphs.__file__).with_name("confusables.json")
    data: dict[str, list[dict[str, str]]] = json.loads(path.read_text(encoding="utf-8"))
    table: dict[int, str] = {}
    for char, glyphs in data.items():
        if len(char) != 1 or char.isascii():
            continue
        targets = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalnum()]
        # Prefer a letter over a digit ("О" is both "O" and "0"; in text it is nearly always a letter).
        letters = [t for t in targets if t.isalpha()]
        if letters or targets:
            table[ord(char)] = (letters or targets)[0]
    return table


def _strip_invisible(text: str) -> str:
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cf" or ord(ch) in _VARIATION_SELECTORS:
            continue
        if cat in ("Cc", "Zl", "Zp"):  # control characters and line separators act as a space
            out.append(" ")
            continue
        out.append(ch)
    return "".join(out)


def _strip_marks(text: str) -> str:
    """Drop combining marks ("n̲u̲d̲e̲", "café" -> "cafe"): the classifier is uncased and accent-free anyway."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))


def _join_spaced(text: str) -> tuple[str, list[str]]:
    joined: list[str] = []

    def join(m: re.Match[str]) -> str:
        run = re.sub(_SEP, "", m.group(0))
        if sum(c.isalpha() for c in run) < 2:  # "1 2 3", "a 4 b": a count or a list, not a hidden word
            return m.group(0)
        joined.append(run.translate(_LEET) if any(c.isalpha() for c in run) else run)
        return joined[-1]

    return _SPACED_LETTERS.sub(join, text), joined


def _fold_leet_conservative(text: str) -> str:
    text = _LEET_INSIDE.sub(lambda m: m.group(0).translate(_LEET), text)
    return _LEET_LEAD.sub(lambda m: m.group(0).translate(_LEET), text)


def _fold_leet_all(text: str) -> str:
    """Fold every leet character in any token that also holds a letter (rule form only)."""

    def fold(m: re.Match[str]) -> str:
        token = m.group(0)
        return token.translate(_LEET) if any(c.isalpha() for c in token) else token

    return _LEET_TOKEN.sub(fold, text)


def normalize(prompt: str) -> NormalizedPrompt:
    """Normalise ``prompt`` (a ``str``; byte-level checks belong to the caller) into both forms."""
    text = unicodedata.normalize("NFKC", prompt)
    text = _strip_invisible(text)
    text = _strip_marks(text)
    text = text.translate(_homoglyph_table())
    text = _fold_leet_conservative(text)
    text, joined = _join_spaced(text)
    text = _WS.sub(" ", text).strip()
    folded = fold_for_rules(text)
    return NormalizedPrompt(
        original=prompt, text=text, folded=folded, joined=tuple(fold_for_rules(j) for j in joined)
    )


def fold_for_rules(text: str) -> str:
    """The rule-matching form of already normalised ``text`` (also applied to the policy's terms)."""
    folded = text.casefold()
    folded = _INNER_SEP.sub("", folded)
    folded = _fold_leet_all(folded)
    folded = _REPEATS.sub(r"\1", folded)
    return _WS.sub(" ", folded).strip()
