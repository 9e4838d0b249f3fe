"""Offline labeller of FashionIQ relative captions: caption pair -> the intent it means.

Every caption says how the wanted item differs from the one under discussion, so each is a
refinement of the CURRENT item (action search, reference current). The labeller takes only
what it can read reliably: one main colour (shade words mapped to catalogue colours), an
explicit people word ("for women", "men's"), a negated colour ("not red"), and keeps every
other detail (sleeves, prints, necklines, length, "darker") as soft text for the embedding.
Pairs it cannot read with confidence (two different main colours, a different garment
category) are dropped rather than guessed: a wrong label teaches the reader a wrong habit.
Garment words never change the type: FashionIQ captions describe the same category.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from chat.intent import SearchIntent
from chat.reader_format import TEXT_CHARS
from retrieval.vocabulary import VocabularyMatcher

CAPTIONS = Path(__file__).resolve().parents[2] / "shared" / "data" / "fashioniq-captions"
DEV_SHARE = 0.15
# FashionIQ category -> catalogue article types of the matching kind.
CAPTION_KINDS = {"dress": ("Dresses",), "shirt": ("Shirts", "Tshirts"), "toptee": ("Tshirts", "Tops")}


@dataclass(frozen=True)
class CaptionPair:
    category: str
    captions: tuple[str, str]

    @property
    def message(self) -> str:
        """The FashionIQ protocol's query: the two captions joined with " and "."""
        return " and ".join(c.strip() for c in self.captions)


def load_pairs(folder: Path = CAPTIONS) -> list[CaptionPair]:
    """All training caption pairs, in file order."""
    pairs = []
    for category in CAPTION_KINDS:
        rows = json.loads((folder / f"cap.{category}.train.json").read_text())
        pairs += [CaptionPair(category, tuple(r["captions"])) for r in rows]
    return pairs


# The development pairs are drawn with this seed whatever seed draws the training data, so a
# new data build never trains on the pairs behind eval/dev_captions.jsonl and dev.jsonl.
DEV_SPLIT_SEED = 1


def split_pairs(pairs: list[CaptionPair]) -> tuple[list[CaptionPair], list[CaptionPair]]:
    """(train, dev): a fixed seeded share of the pairs is held out for development."""
    order = list(range(len(pairs)))
    random.Random(DEV_SPLIT_SEED).shuffle(order)
    cut = int(len(order) * DEV_SHARE)
    dev = set(order[:cut])
    # FashionIQ repeats some caption texts across image pairs (215 texts, 540 pairs): a
    # training pair whose text a dev pair also has would be the dev item learnt by heart.
    dev_messages = {pairs[i].message for i in dev}
    return ([p for i, p in enumerate(pairs) if i not in dev and p.message not in dev_messages],
            [p for i, p in enumerate(pairs) if i in dev])


# Shade words beyond the vocabulary's own table -> catalogue colours to try, first present
# wins; resolved against the catalogue, so a value it lacks is never proposed.
SHADES: dict[str, tuple[str, ...]] = {
    "rosy": ("pink",), "dusty pink": ("pink",), "bubblegum": ("pink",), "pinkish": ("pink",),
    "raspberry": ("magenta", "pink"), "berry": ("magenta", "purple"),
    "reddish": ("red",), "brick red": ("rust", "red"), "tomato red": ("red",),
    "claret": ("burgundy", "maroon"), "bordeaux": ("burgundy", "maroon"),
    "merlot": ("burgundy", "maroon"), "oxblood": ("maroon", "burgundy"),
    "greenish": ("green",), "sage": ("olive", "green"), "army green": ("olive",),
    "khaki green": ("olive",), "light green": ("green",), "forest": ("green",),
    "chartreuse": ("lime green", "green"),
    "bluish": ("blue",), "blueish": ("blue",), "cobalt": ("blue",), "sapphire": ("blue",),
    "powder blue": ("blue",), "denim blue": ("blue",), "midnight blue": ("navy blue",),
    "petrol": ("teal",), "purplish": ("purple",), "aubergine": ("purple",),
    "eggplant": ("purple",), "yellowish": ("yellow",), "lemon": ("yellow",),
    "canary": ("yellow",), "orangey": ("orange",), "orangish": ("orange",),
    "tangerine": ("orange",), "brownish": ("brown",), "caramel": ("tan", "brown"),
    "cognac": ("tan", "brown"), "mocha": ("coffee brown", "brown"),
    "espresso": ("coffee brown", "brown"), "cinnamon": ("rust", "brown"),
    "greyish": ("grey",), "grayish": ("grey",), "slate": ("charcoal", "grey"),
    "heather grey": ("grey melange", "grey"), "marl grey": ("grey melange", "grey"),
    "gunmetal": ("steel", "grey"), "ecru": ("off white", "cream"), "bone": ("off white",),
    "eggshell": ("off white",), "pearl": ("off white", "white"), "sand": ("beige",),
    "oatmeal": ("beige",), "stone": ("beige",), "champagne": ("beige", "gold"),
    "ebony": ("black",), "onyx": ("black",), "rainbow": ("multi",),
}
# Words that are colours only when said as one ("rose colored"): else a motif ("roses").
RISKY = frozenset({"rose", "lemon", "cherry", "berry", "sand", "stone", "bone", "coffee",
                   "wine", "mint", "slate", "forest", "pearl", "peach", "lime", "chocolate",
                   "olive", "rust", "gold", "silver", "nude", "ash", "camel", "petrol"})
_COLOUR_NOUN = r"(?:colou?r(?:ed|s)?|tones?|shades?|hue)"
# Nouns after a colour that make it a detail's colour ("white words"), not the item's.
_DETAIL = frozenset("""words word text letters letter lettering writing font logo logos
graphic graphics print prints design designs stripes stripe striped trim trims flowers flower
floral florals dots dot polka accents accent collar collars sleeves sleeve belt lace pattern
patterns image images picture pictures icon icons details detail border buttons button
straps strap lining bow band bands panel panels pocket pockets hem neckline neck cuffs cuff
sash bottom skirt top print plaid checks check heart hearts stars star animal animals
emblem symbol symbols letter numbers number outline embroidery sequins ruffles""".split())
_ENDS_PHRASE = frozenset({"with", "on", "in", "is", "has", "have", "at", "of", "for", "to",
                          "that", "which", "but", "more", "less", "a", "an", "the"})
_DETAIL_BEFORE = re.compile(rf"\b(?:{'|'.join(sorted(_DETAIL))})\s+(?:is\s+|are\s+)?"
                            r"(?:in\s+)?(?:a\s+)?$")
_GARMENT = frozenset({"dress", "shirt", "tshirt", "tee", "top", "blouse", "gown", "one"})
# Garment nouns of another category: the pair may be about a different kind of item.
_OTHER_KIND = re.compile(r"\b(?:jackets?|coats?|sweaters?|hoodies?|sweatshirts?|cardigans?|"
                         r"jumpsuits?|rompers?|pants|trousers|jeans|shorts|skirts?|kurtas?|"
                         r"sarees?|blazers?|vests?|bikinis?|swimsuits?|overalls|purses?|"
                         r"handbags?|bags?|shoes|boots|sandals|scarf|scarves|necklaces?)\b")
_NEGATION = re.compile(r"\b(?:not|no|isn'?t|without|non|instead\s+of|rather\s+than)\s+"
                       r"(?:a\s+|an\s+|the\s+|so\s+|as\s+)?$")
_LESS = re.compile(r"\bless\s+(?:of\s+)?(?:a\s+|an\s+|the\s+)?$")
_PEOPLE = re.compile(r"\bfor\s+(?:a\s+)?(men|women|man|woman|ladies|lady|girls?|boys?|kids|"
                     r"children|him|her)\b|\b(men'?s|women'?s|ladies'?|male|female|unisex)\b")
_SPLIT = re.compile(r"\band\b|\bwith\b|\bbut\b|[,;.!?]")
_LEAD = re.compile(r"^(?:(?:i\s+(?:want|need|would like|prefer)|it\s+(?:is|has)|it'?s|"
                   r"(?:the\s+)?(?:target|right|left|new|wanted)\s+(?:one|dress|shirt|top)?|"
                   r"(?:the\s+)?(?:dress|shirt|t\s*shirt|top|tee|blouse)|needs?\s+to\s+be|"
                   r"should\s+be|make\s+it|(?:is|are|has|have|was|looks|seems|appears)"
                   r"(?:\s+(?:got|to\s+be))?|(?:a|an|the|more\s+of\s+a|much|also|just|"
                   r"of|in|all)\b)\s*)+")
_TAIL = re.compile(r"(?:\s+(?:on|in|of|a|an|the)|\s+(?:in|of)\s+colou?r|\s+colou?r(?:ed)?|\s+(?:on\s+)?(?:it|them|"
                   r"front)|\s+(?:t\s*shirt|shirt|dress|top|tee|blouse|gown|one))+$")
_KEEP_TAIL = re.compile(r"\b(?:tank|crop|tube|halter|polo|dress|button|sweat)\s+(?:top|shirt)$")
_EMPTY = frozenset({"", "more", "less", "very", "it", "a", "is", "color", "colour", "colored",
                    "all", "solid colored", "different", "different color", "the same",
                    "same", "in", "has", "and", "its", "much"})
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class CaptionLabel:
    """What a caption pair asks of the current item."""

    colour: str | None
    gender: str | None
    avoid: tuple[str, ...]
    text: str

    def intent(self, matcher: VocabularyMatcher) -> SearchIntent:
        """The label as the reader's intent: a refinement of the current item."""
        wanted = {matcher.colour_column: self.colour, matcher.people_column: self.gender}
        return SearchIntent(action="search", reference="current",
                            set_attributes={c: v for c, v in wanted.items() if c and v},
                            negatives=self.avoid, description=self.text)


@dataclass(frozen=True)
class _Colour:
    start: int
    end: int
    value: str
    role: str   # "main" | "detail" | "avoid" | "less"


def colour_value(phrase: str, matcher: VocabularyMatcher) -> str | None:
    """The catalogue colour a shade phrase names ("bottle green" -> Green), or None."""
    column = matcher.colour_column
    mention = matcher.canonical(phrase)
    if mention and mention.column == column:
        return mention.value
    for candidate in SHADES.get(" ".join(_WORD.findall(phrase.lower())), ()):
        value = matcher.value(column, candidate) if column else None
        if value:
            return value
    return None


def label_pair(captions: list[str] | tuple[str, ...], matcher: VocabularyMatcher
               ) -> CaptionLabel | None:
    """The label of a caption pair, or None when the pair is ambiguous or says nothing."""
    texts = [" ".join(c.lower().split()) for c in captions]
    if any(_OTHER_KIND.search(t) for t in texts):
        return None
    colours = [_colours(t, matcher) for t in texts]
    main = {c.value for cs in colours for c in cs if c.role == "main"}
    avoid = tuple(dict.fromkeys(c.value for cs in colours for c in cs if c.role == "avoid"))
    people = {v for t in texts for v in _people(t, matcher)}
    if len(main) > 1 or len(people) > 1 or main & set(avoid):
        return None
    clauses = [c for t, cs in zip(texts, colours) for c in _clauses(t, cs)]
    text = _join(clauses)
    label = CaptionLabel(next(iter(main), None), next(iter(people), None), avoid, text)
    return label if (label.colour or label.gender or label.avoid or label.text) else None


def _colours(text: str, matcher: VocabularyMatcher) -> list[_Colour]:
    """Colour mentions with their role in the caption."""
    found = []
    for span, value in _colour_spans(text, matcher):
        phrase = text[span[0]:span[1]]
        after = text[span[1]:]
        if phrase in RISKY and not re.match(rf"\s*(?:-\s*)?{_COLOUR_NOUN}\b", after):
            continue
        before = text[:span[0]]
        if _is_detail(after) or _DETAIL_BEFORE.search(before):
            role = "detail"
        elif _NEGATION.search(before):
            role = "avoid"
        elif _LESS.search(before):
            role = "less"
        else:
            role = "main"
        found.append(_Colour(span[0], span[1], value, role))
    return found


def _colour_spans(text: str, matcher: VocabularyMatcher) -> list[tuple[tuple[int, int], str]]:
    """(span, catalogue colour) of each colour phrase, the vocabulary's and SHADES'."""
    spans = [((m.start, m.end), m.value) for m in matcher.find(text)
             if m.column == matcher.colour_column]
    taken = [s for s, _ in spans]
    for word in sorted(SHADES, key=len, reverse=True):
        for match in re.finditer(rf"\b{re.escape(word)}\b", text):
            span = match.span()
            value = colour_value(word, matcher)
            if value and not any(a < span[1] and span[0] < b for a, b in taken):
                spans.append((span, value))
                taken.append(span)
    return sorted(spans)


def _is_detail(after: str) -> bool:
    """A colour followed (within three words, through more colours and "and") by a detail
    noun colours that detail ("white and red stripes"); a garment or colour noun ends it."""
    for word in _WORD.findall(after)[:3]:
        if word in _DETAIL:
            return True
        if word in _GARMENT or word in _ENDS_PHRASE or re.fullmatch(_COLOUR_NOUN, word):
            return False
    return False


def _people(text: str, matcher: VocabularyMatcher) -> list[str]:
    """Explicit people words only: "has a man on it" is a motif, "for men" a gender."""
    column = matcher.people_column
    if not column:
        return []
    words = [m.group(1) or m.group(2) for m in _PEOPLE.finditer(text)]
    words = ["women" if w == "her" else "men" if w == "him" else w.replace("'", "") for w in words]
    return [v for v in (matcher.value(column, w) for w in words) if v]


def _clauses(text: str, colours: list[_Colour]) -> list[str]:
    """The caption's soft details: main and avoided colours and people words cut out, the
    rest split into short clauses stripped of filler ("is a", "the shirt", "in color")."""
    for colour in sorted(colours, key=lambda c: -c.start):
        if colour.role in ("main", "avoid"):
            text = text[:colour.start] + " " + text[colour.end:]
    text = _PEOPLE.sub(" ", text)
    text = _join_colour_pairs(text, [c for c in colours if c.role == "detail"])
    text = re.sub(rf"\b(?:not|no|isn'?t|without|instead\s+of|rather\s+than)\s+(?:a\s+)?"
                  rf"(?:{_COLOUR_NOUN}\b)?\s*(?=,|\.|$|\band\b)", " ", text)
    kept = []
    for clause in _SPLIT.split(text):
        clause = " ".join(_WORD.findall(clause.replace("-", " ")))
        clause = _LEAD.sub("", clause)
        if not _KEEP_TAIL.search(clause):
            clause = _TAIL.sub("", clause)
        clause = _LEAD.sub("", clause).strip()
        if clause not in _EMPTY and not re.fullmatch(rf"(?:more|less|a)?\s*{_COLOUR_NOUN}", clause):
            kept.append(clause)
    return kept


def _join_colour_pairs(text: str, details: list[_Colour]) -> str:
    """"purple and white pattern" stays one clause: the "and" between detail colours goes."""
    for first, second in zip(details, details[1:]):
        if text[first.end:second.start] == " and ":
            text = text[:first.end] + " /" + text[first.end + 4:]
    return text


def _join(clauses: list[str]) -> str:
    """Unique clauses joined, cut at a clause (else a word) boundary to TEXT_CHARS."""
    unique = list(dict.fromkeys(clauses))
    text = ""
    for clause in unique:
        joined = f"{text}, {clause}" if text else clause
        if len(joined) > TEXT_CHARS:
            break
        text = joined
    if not text and unique:
        text = unique[0][:TEXT_CHARS].rsplit(" ", 1)[0]
    return text

