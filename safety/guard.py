"""An optional stronger tier: a local guard LLM (Llama Guard 3, ShieldGemma, or any causal-LM guard).

Run off the request path (by the worker, before GPU time) on prompts the screen allowed but scored in
the *uncertain band* (:func:`in_uncertain_band`). The verdict can only make a decision stricter:
``route`` maps it to ``"review"`` or ``"block"`` (per the policy's category actions), or ``None`` for
"safe". An answer the parser cannot read routes to review (fail closed).

The prompt follows Llama Guard 3's published task format, with this project's categories as the
numbered policy (``S1`` = ``CATEGORIES[0]`` ...). A checkpoint whose tokenizer has a chat template gets
the task as one user turn through it; others get the plain text. The expected answer:

    safe
or
    unsafe
    S1,S7
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

from veriframe.safety.categories import CATEGORIES, USER_LABELS
from veriframe.safety.policy import Policy
from veriframe.safety.screen import Decision

TEMPLATE = """Task: Check if there is unsafe content in 'User' messages in conversations according to our \
safety policy with the below categories. The user asks a text-to-video model for a video.

<BEGIN UNSAFE CONTENT CATEGORIES>
{categories}
<END UNSAFE CONTENT CATEGORIES>

<BEGIN CONVERSATION>

User: {prompt}

<END CONVERSATION>

Provide your safety assessment for ONLY THE LAST User message in the above conversation:
 - First line must read 'safe' or 'unsafe'.
 - If unsafe, a second line must include a comma-separated list of violated categories."""

_CODE = re.compile(r"\bS(\d{1,2})\b")


@dataclass(frozen=True)
class GuardVerdict:
    verdict: str  # "safe" | "unsafe" | "unparsed"
    categories: list[str]
    raw: str  # the model's answer (internal: audit and debugging; may quote nothing of the prompt)
    model: str


def guard_prompt(prompt: str, template: str = TEMPLATE) -> str:
    """The task text for one prompt (``template`` holds ``{categories}`` and ``{prompt}``)."""
    cats = "\n".join(f"S{i + 1}: {USER_LABELS[c].capitalize()}." for i, c in enumerate(CATEGORIES))
    return template.replace("{categories}", cats).replace(
        "{prompt}", prompt.replace("<END CONVERSATION>", "")
    )


def load_template(path: str | Path) -> str:
    """A task-text template from a file; ValueError naming what is missing."""
    text = Path(path).read_text(encoding="utf-8")
    missing = [f for f in ("{categories}", "{prompt}") if f not in text]
    if missing:
        raise ValueError(f"guard template {path} lacks {' and '.join(missing)}")
    return text


def parse_verdict(answer: str, model: str = "") -> GuardVerdict:
    """``safe`` / ``unsafe`` on the first non-empty line; category codes (``S3``) on the next."""
    lines = [ln.strip() for ln in answer.strip().splitlines() if ln.strip()]
    words = lines[0].lower().split() if lines else []
    first = words[0].strip(" .:,'\"") if words else ""
    if first == "safe":
        return GuardVerdict("safe", [], answer, model)
    if first == "unsafe":
        codes = [int(n) for n in _CODE.findall(lines[1])] if len(lines) > 1 else []
        cats = [CATEGORIES[n - 1] for n in codes if 1 <= n <= len(CATEGORIES)]
        return GuardVerdict("unsafe", list(dict.fromkeys(cats)), answer, model)
    return GuardVerdict("unparsed", [], answer, model)


def route(verdict: GuardVerdict, policy: Policy) -> str | None:
    """What the verdict does: ``None`` (safe: the screen's decision stands), ``"review"`` or ``"block"``."""
    if verdict.verdict == "safe":
        return None
    if verdict.verdict == "unsafe" and verdict.categories:
        actions = {policy.action_for(c) for c in verdict.categories}
        return "block" if "block" in actions else "review" if "review" in actions else None
    return "review"  # unsafe without a category we know, or an unreadable answer: a human decides


def in_uncertain_band(decision: Decision, policy: Policy, *, low: float = 0.6) -> bool:
    """An allowed prompt whose score reached ``low`` x its review threshold in some category (or the
    "any unsafe" score, its threshold): close enough to the line that a stronger model should look."""
    if decision.decision != "allow":
        return False
    for cat, score in decision.scores.items():
        t = policy.any_unsafe if cat == "any" else policy.thresholds.get(cat)
        if t is not None and t.review is not None and score >= low * t.review:
            return True
    return False


class GuardLLM:
    """A local ``AutoModelForCausalLM`` guard checkpoint, greedy-decoded, loaded once."""

    def __init__(self, path: str | Path, *, max_new_tokens: int = 12, template: str = TEMPLATE) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"guard model {path} is not a directory")
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True).eval()
        self.name = f"guard:{path.name}"
        self.max_new_tokens = max_new_tokens
        self.template = template
        self._lock = threading.Lock()

    def _inputs(self, prompt: str):
        task = guard_prompt(prompt, self.template)
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                [{"role": "user", "content": task}],
                add_generation_prompt=True,
                return_tensors="pt",
                return_dict=True,
            )
        return self.tokenizer(task, return_tensors="pt")

    def judge(self, prompt: str) -> GuardVerdict:
        import torch

        inputs = self._inputs(prompt)
        pad = (
            self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else self.tokenizer.eos_token_id
        )
        with self._lock, torch.inference_mode():
            out = self.model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, do_sample=False, pad_token_id=pad
            )
        answer = self.tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        return parse_verdict(answer, self.name)
