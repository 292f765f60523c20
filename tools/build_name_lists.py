"""Write ``safety/models/common_word_{names,surnames}.txt``: US Census names that are also everyday words.

The person-name detector (``veriframe.safety.detectors``) takes "<first name> <Surname>" as a real person
only when the first name is not an ordinary word ("Rose Garden", "Will Power", "Grace Bay"). Which first
names are ordinary words is measured, not guessed: a census first name that the training texts use in lower
case at least ``--min-count`` times is listed. Only the training data is read (never a dev set).

    python -m tools.build_name_lists --data /work/shared/data/moderation/train
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

from tools.train_moderation import collect
from veriframe.safety.detectors import census_first_names, census_surnames

OUT = Path(__file__).resolve().parents[1] / "safety" / "models"
_WORD = re.compile(r"\b[a-z][a-z']+\b")
_MID_CAPITAL = re.compile(r"[a-z,]\s+[A-Z][a-z]")
_CAPITAL = re.compile(r"(?<=[a-z,] )[A-Z][a-z']+\b")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tools.build_name_lists", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--data", type=Path, required=True, help="training data directory")
    ap.add_argument("--min-count", type=int, default=2)
    ap.add_argument("--out", type=Path, default=OUT, help="folder for the two lists")
    args = ap.parse_args(argv)
    examples, _ = collect(args.data, None, 20261124, 0.2)
    counts: Counter[str] = Counter()
    capitals: Counter[str] = Counter()
    for e in examples:
        # Only texts whose authors capitalise names (a capital mid-sentence): in all-lower-case tweets and
        # tag lists every name is lower case too. Lower-case tokens only: "rose" counts, "Rose" does not.
        if _MID_CAPITAL.search(e.text) and e.source != "diffusiondb":  # DiffusionDB: "by greg rutkowski"
            counts.update(_WORD.findall(e.text))
            capitals.update(m.lower() for m in _CAPITAL.findall(e.text))
    for kind, pool in (("names", census_first_names(True)), ("surnames", census_surnames(True))):
        # An everyday word: used in lower case at least min-count times and more often than capitalised.
        common = sorted(
            n for n in pool if (counts[n] >= args.min_count and counts[n] > capitals[n]) or len(n) <= 2
        )
        header = (
            f"# US Census {kind} used as ordinary lower-case words in the training texts "
            f"(>= {args.min_count} times, more often than capitalised) or of two letters; "
            "written by tools/build_name_lists.py\n"
        )
        out = args.out / f"common_word_{kind}.txt"
        out.write_text(header + "\n".join(common) + "\n", encoding="utf-8")
        print(f"{len(common)} of {len(pool)} {kind} are common words -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
