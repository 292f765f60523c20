"""Normalisation alone: each evasion trick is undone, ordinary text survives."""

import pytest

from veriframe.safety.normalize import normalize


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("n\u200bu\u200dd\ufeffe", "nude"),  # zero-width space/joiner, BOM
        ("nаkеd", "naked"),  # Cyrillic а and е
        ("ΝΑΚΕD", "naked"),  # Greek capitals
        ("s3x p0rn n@ked $ex", "sex porn naked sex"),  # leetspeak
        ("n u d e", "nude"),  # spaced letters
        ("n.u.d.e", "nude"),
        ("n-u-d-e", "nude"),
        ("nu-de", "nude"),  # separator inside a word (rule form)
        ("nuuuude", "nude"),  # stretched letters (rule form)
        ("Ｎｕｄｅ", "nude"),  # full-width (NFKC)
        ("n\u0332u\u0332d\u0332e\u0332", "nude"),  # combining underline
    ],
)
def test_evasions_fold_to_the_plain_word(prompt: str, expected: str) -> None:
    assert normalize(prompt).folded == expected


def test_original_is_kept_and_ordinary_text_survives() -> None:
    prompt = "A 4k video of 3 cats in 1080p, shot at 24 fps.\tThe U.S. flag waves."
    norm = normalize(prompt)
    assert norm.original == prompt
    assert norm.text == "A 4k video of 3 cats in 1080p, shot at 24 fps. The U.S. flag waves."
    assert "3 cats" in norm.folded and "24 fps" in norm.folded


def test_control_characters_become_spaces_and_whitespace_collapses() -> None:
    assert normalize("a\x07cat\n\n  sleeps\u2028here").text == "a cat sleeps here"


def test_spaced_letters_are_recorded_as_joined_runs() -> None:
    norm = normalize("a n u d e woman")
    assert norm.joined == ("anude",)  # the article was swallowed: rules search inside joined runs
