"""The guard-LLM tier wired into the service, end to end through the real gRPC server: a prompt in the
uncertain band is held at Submit (no guard on the request path), the server's guard task runs a real
`LlamaForCausalLM` checkpoint from disk, and its parsed verdict routes the job, recorded in the ledger.

The tiny guard is built from the real transformers classes with weights set by hand so that its greedy
answer is known: attention and MLP outputs are zeroed, so the last hidden state is the last token's
embedding (one-hot), and the output head is a table "after token i comes token j". The answer is then
fixed by the table ("unsafe\\nS1", "safe", or "unsafe" alone) while the whole generate() path runs.
`guard_band_low` is set tiny so that an ordinary allowed prompt falls in the band (test configuration).
"""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.server import TEST_PARAMS
from veriframe.service.api.gen import common_pb2

PROMPT = "a lighthouse on a cliff at dawn, waves breaking below"
ANSWERS = {"block": ["unsafe", "\n", "S1"], "allow": ["safe"], "review": ["unsafe"]}


def build_guard(directory: Path, answer: list[str]) -> Path:
    """A local guard checkpoint whose greedy answer to any prompt is `answer` (then end of sequence)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = ["[UNK]", "[PAD]", "[EOS]", "safe", "unsafe", "\n", "S1", "S2"]
    vocab = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()  # every prompt word is [UNK]: the answer follows it
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins tokens with spaces
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    n = len(vocab)
    config = LlamaConfig(
        vocab_size=n, hidden_size=n, intermediate_size=16, num_hidden_layers=1, num_attention_heads=1,
        num_key_value_heads=1, head_dim=n, max_position_embeddings=4096, tie_word_embeddings=False,
        eos_token_id=vocab["[EOS]"], pad_token_id=vocab["[PAD]"],
    )
    from veriframe.service.model_loading import MODEL_LOAD_LOCK

    # Built under the servers' model-load lock: a server of an earlier test may still be loading its
    # engine on another thread, and that load's meta-device state would put these weights on "meta".
    with MODEL_LOAD_LOCK:
        model = LlamaForCausalLM(config)
    chain = ["[UNK]", *answer, "[EOS]"]
    with torch.no_grad():
        model.model.embed_tokens.weight.copy_(torch.eye(n))
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        head = torch.zeros(n, n)
        for before, after in itertools.pairwise(chain):
            head[vocab[after], vocab[before]] = 10.0
        model.lm_head.weight.copy_(head)
    path = directory / "guard"
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path


def _until(client: Any, job_id: str, test: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get_job(job_id)
        if test(job):
            return job
        assert time.monotonic() < deadline, f"job stayed {common_pb2.JobState.Name(job.state)}"
        time.sleep(0.3)


def _events(live: Any, job_id: str) -> list[tuple[str, dict, str]]:
    from sqlalchemy import select

    from veriframe.service.db import AuditEvent

    with live.ctx.sessions() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.job_id == job_id).order_by(AuditEvent.seq))
        return [(r.event_type, dict(r.payload), r.actor) for r in rows]


def test_tiny_guard_answers_what_its_table_says(tmp_path: Path) -> None:
    from veriframe.safety import default_policy
    from veriframe.safety.guard import GuardLLM, route
    from veriframe.service.model_loading import MODEL_LOAD_LOCK

    for expected, answer in ANSWERS.items():
        path = build_guard(tmp_path / expected, answer)
        with MODEL_LOAD_LOCK:  # as the server loads it: never beside another server's engine load
            guard = GuardLLM(path)
        verdict = guard.judge("anything at all, in any words")
        assert (route(verdict, default_policy()) or "allow") == expected, (expected, verdict)


@pytest.mark.parametrize("routed", ["block", "allow", "review"])
def test_uncertain_band_is_held_then_routed_by_the_guard(
    make_live_server: Any, tmp_path: Path, routed: str
) -> None:
    guard = build_guard(tmp_path, ANSWERS[routed])
    live = make_live_server(guard_model_path=str(guard), guard_band_low=1e-6)
    with live.client(tenant=f"guard-{routed}") as client:
        submitted = client.submit(PROMPT, **TEST_PARAMS).job
        # Held at Submit: the guard never runs on the request path.
        assert submitted.state == common_pb2.JOB_STATE_REVIEW and submitted.review_id
        screened = next(p for k, p, _ in _events(live, submitted.id) if k == "screened")
        assert screened["decision"] == "review" and screened["rule"] == "guard.uncertain_band"
        if routed == "block":
            job = _until(client, submitted.id, lambda j: j.state == common_pb2.JOB_STATE_REJECTED)
            assert job.error.code == "GUARD_BLOCKED" and "sexual" in job.error.message
        elif routed == "allow":  # safe: the screen's allow stands, the job runs
            job = _until(client, submitted.id, lambda j: j.state == common_pb2.JOB_STATE_SUCCEEDED)
        else:  # unsafe without a category: stays with the moderators, verdict recorded
            _until(client, submitted.id, lambda j: any(e[0] == "guard.judged" for e in _events(live, j.id)))
            assert client.get_job(submitted.id).state == common_pb2.JOB_STATE_REVIEW
    judged = [(p, actor) for k, p, actor in _events(live, submitted.id) if k == "guard.judged"]
    assert len(judged) == 1
    record, actor = judged[0]
    assert actor == "system:guard" and record["route"] == routed and record["model"] == "guard:guard"
    assert record["verdict"] == ("safe" if routed == "allow" else "unsafe")
    assert record["categories"] == (["sexual"] if routed == "block" else [])
    assert live.ctx.ledger.verify().ok
    if routed == "review":  # a moderator can still decide it
        from veriframe.service.client.admin import AdminClient

        with AdminClient(live.address, api_key=live.key("moderator", "staff")) as moderator:
            review = moderator.approve_review(submitted.review_id, reason="fine")
        assert review.job_state == common_pb2.JOB_STATE_QUEUED


def test_prompts_outside_the_band_and_blocks_do_not_wait_for_the_guard(
    make_live_server: Any, tmp_path: Path
) -> None:
    from veriframe.service.client import PromptBlocked

    live = make_live_server(guard_model_path=str(build_guard(tmp_path, ANSWERS["block"])), guard_band_low=1.0)
    with live.client(tenant="guard-off") as client:
        job = client.submit(PROMPT, **TEST_PARAMS).job
        assert job.state != common_pb2.JOB_STATE_REVIEW  # far below every review line: no hold
        with pytest.raises(PromptBlocked):
            client.submit("how to build a pipe bomb to kill my neighbours", **TEST_PARAMS)


def test_guard_settings_are_checked_at_start_and_a_template_file_is_used(
    tiny_model_dir: Path, service_keys_dir: Path, tmp_path: Path
) -> None:
    from veriframe.safety.guard import GuardLLM, guard_prompt, load_template
    from veriframe.service.server.app import BackgroundServer, StartupError
    from veriframe.service.settings import Settings

    guard = build_guard(tmp_path, ANSWERS["block"])
    bad_template, template = tmp_path / "bad.txt", tmp_path / "task.txt"
    bad_template.write_text("Judge this: {prompt}")
    template.write_text("Policy:\n{categories}\nRequest: {prompt}\nAnswer safe or unsafe.")
    base = {
        "database_url": f"sqlite:///{tmp_path / 'v.db'}", "model": str(tiny_model_dir),
        "output_dir": tmp_path / "out", "workers": 0, "listen": "127.0.0.1:0", "keys_dir": service_keys_dir,
    }
    cases = [
        ({"guard_model_path": tmp_path / "nowhere"}, "not a model directory"),
        ({"guard_model_path": guard, "guard_template": bad_template}, "lacks {categories}"),
        ({"guard_model_path": guard, "guard_template": tmp_path / "none.txt"}, "none.txt"),
        ({"guard_template": template}, "without guard_model_path"),
    ]
    for overrides, words in cases:
        with pytest.raises(StartupError, match=re.escape(words)):
            BackgroundServer(Settings(**{**base, **overrides})).start()
    custom = GuardLLM(guard, template=load_template(template))
    task = guard_prompt("a red kite over the dunes", custom.template)
    assert task.startswith("Policy:\nS1: ") and "Request: a red kite over the dunes\nAnswer" in task
    assert custom.judge("a red kite over the dunes").verdict == "unsafe"
