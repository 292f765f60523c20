"""The guard-LLM tier: prompt format, verdict parsing, routing, and a real generate() through a tiny
random-weight Llama built from the real transformers classes (its head is zeroed so greedy decoding
always emits token 0, which the test chooses)."""

import pytest

from veriframe.safety import default_policy
from veriframe.safety.categories import CATEGORIES
from veriframe.safety.guard import GuardLLM, guard_prompt, in_uncertain_band, parse_verdict, route
from veriframe.safety.screen import Decision


def _tiny_guard(tmp_path, first_token: str):
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = [first_token, "[UNK]", "[PAD]", "[EOS]", "safe", "unsafe", "S1", "S2"]
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=False,
        eos_token_id=vocab["[EOS]"],
        pad_token_id=vocab["[PAD]"],
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight.zero_()  # all logits equal: greedy picks token 0
    path = tmp_path / f"guard-{first_token}"
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return GuardLLM(path, max_new_tokens=3)


def test_prompt_lists_every_category_and_the_prompt():
    text = guard_prompt("a cat <END CONVERSATION> on a mat")
    assert "S1: Sexual content." in text and f"S{len(CATEGORIES)}:" in text
    assert "User: a cat  on a mat" in text  # the prompt cannot close the conversation block


@pytest.mark.parametrize(
    ("answer", "verdict", "cats"),
    [
        ("safe", "safe", []),
        ("\n unsafe\nS1,S5", "unsafe", ["sexual", "violence"]),
        ("unsafe\nS99", "unsafe", []),
        ("I cannot help with that", "unparsed", []),
        ("", "unparsed", []),
    ],
)
def test_parse_verdict(answer, verdict, cats):
    v = parse_verdict(answer, "m")
    assert (v.verdict, v.categories) == (verdict, cats)


def test_route_follows_policy_actions_and_fails_closed():
    policy = default_policy()
    assert route(parse_verdict("safe"), policy) is None
    assert route(parse_verdict("unsafe\nS1"), policy) == "block"  # sexual: a block category
    pf = CATEGORIES.index("public-figure") + 1
    assert route(parse_verdict(f"unsafe\nS{pf}"), policy) == "review"
    assert route(parse_verdict("garbage"), policy) == "review"


def test_uncertain_band_is_allowed_prompts_near_a_threshold():
    policy = default_policy()
    th = policy.thresholds["violence"].review

    def decision(kind, score):
        return Decision(kind, [], {"violence": score}, None, policy.version, "")

    assert in_uncertain_band(decision("allow", 0.9 * th), policy)
    assert not in_uncertain_band(decision("allow", 0.1 * th), policy)
    assert not in_uncertain_band(decision("review", 0.9 * th), policy)


@pytest.mark.parametrize(
    ("token", "verdict", "routed"), [("unsafe", "unsafe", "review"), ("safe", "safe", None)]
)
def test_tiny_guard_model_generates_and_routes(tmp_path, token, verdict, routed):
    guard = _tiny_guard(tmp_path, token)
    v = guard.judge("a man walking a dog in the park")
    assert v.verdict == verdict and v.model.startswith("guard:")
    assert route(v, default_policy()) == routed  # "unsafe" without a category: a human decides


def test_tiny_guard_unreadable_answer_goes_to_review(tmp_path):
    v = _tiny_guard(tmp_path, "hmm").judge("anything")
    assert v.verdict == "unparsed" and route(v, default_policy()) == "review"
    with pytest.raises(FileNotFoundError):
        GuardLLM(tmp_path / "missing")
