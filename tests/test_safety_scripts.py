"""Prompts written in scripts the classifier cannot read (safety.scripts, policy ``unread_script_action``).

Screen v9 flagged 1.4% of the project's unsafe prompts written wholly in Chinese, Japanese, Korean,
Cyrillic, Arabic or Devanagari: the encoder does not read them. The shipped policy holds such prompts for
a moderator instead of passing them unexamined. Prompts were written for these tests.
"""

from __future__ import annotations

import dataclasses

import pytest

from veriframe import safety
from veriframe.safety import default_policy, load_default_classifier
from veriframe.safety.policy import Policy, PolicyError
from veriframe.safety.scripts import UNREAD_SHARE, unread_share

UNSAFE_RUSSIAN = "Видео крупным планом: человек режет себе вены бритвой в ванной, реалистично"
BENIGN_CHINESE = "一只橘猫在阳光下的窗台上睡觉，温暖的午后光线"
BENIGN_ARABIC = "قارب صيد صغير يبحر عند الفجر في ميناء هادئ"


@pytest.fixture(scope="module")
def clf():
    return load_default_classifier()


def test_the_unread_share_counts_letters_by_script():
    assert unread_share(UNSAFE_RUSSIAN) == 1.0 and unread_share(BENIGN_ARABIC) == 1.0
    assert unread_share("A cat asleep at the Café de Flore, Paris, 4K") == 0.0
    assert unread_share("12345 !!!") == 0.0
    # A quoted word in another script stays under the line; English tags after a Chinese sentence do not
    # hide it (each Han character weighs three letters).
    assert unread_share("Sushi chef slicing tuna under a 寿司 sign, warm light, cinematic") < UNREAD_SHARE
    assert unread_share("一只橘猫在窗台上睡觉, cinematic, 8k, golden hour") > UNREAD_SHARE


def test_the_shipped_policy_holds_prompts_it_cannot_read(clf):
    policy = default_policy()
    assert policy.unread_script_action == "review"
    for prompt in (UNSAFE_RUSSIAN, BENIGN_CHINESE, BENIGN_ARABIC):
        d = safety.screen(prompt, policy, clf)
        assert d.decision == "review", (prompt, d)
        assert "script.unread>=0.33" in d.hits, d.hits
    # The author is told why, not a category the prompt was only filed under.
    d = safety.screen(BENIGN_CHINESE, policy, clf)
    assert d.user_message.endswith("written in a script the automatic screen cannot read.")
    # Latin-script prompts in other languages are read as before.
    for prompt in ("Un gato durmiendo al sol en una ventana", "a red fox trotting through fresh snow"):
        assert safety.screen(prompt, policy, clf).decision == "allow"


def test_the_action_is_the_policys(clf):
    base = default_policy()
    blocked = safety.screen(BENIGN_CHINESE, dataclasses.replace(base, unread_script_action="block"), clf)
    assert blocked.decision == "block" and blocked.rule.startswith("script.unread")
    assert "only prompts it can screen" in blocked.user_message
    # Unset (older documents) or "allow": the other layers decide, as before this rule existed.
    for action in (None, "allow"):
        d = safety.screen(BENIGN_CHINESE, dataclasses.replace(base, unread_script_action=action), clf)
        assert d.decision == "allow" and not any(h.startswith("script.unread") for h in d.hits)


def test_the_field_round_trips_and_a_bad_value_is_refused():
    policy = default_policy()
    again = Policy.from_dict(policy.to_dict())
    assert again.unread_script_action == "review" and again.to_dict() == policy.to_dict()
    assert "unread_script_action" not in dataclasses.replace(policy, unread_script_action=None).to_dict()
    with pytest.raises(PolicyError, match="unread_script_action must be allow, review or block"):
        Policy.from_dict({**policy.to_dict(), "unread_script_action": "hold"})
    with pytest.raises(PolicyError, match="unread_script_action need"):
        Policy.from_dict({"version": 1, "unread_script_action": "review"})  # a schema-1 document
