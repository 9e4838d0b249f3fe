"""Deterministic rewriter: one chat message plus the dialogue state -> SearchIntent.

No model: regular expressions for the dialogue moves (references, negation, reset, questions,
small talk) and the catalogue vocabulary matcher for attribute values. It is the fallback when
the LLM is absent or answers garbage, and the baseline the LLM rewriter has to beat.

Decisions, in the order they are taken for a search:
- An explicit result ("the second one", "#3", "number 3", "result 2", "the last one") is the
  reference, even with a photo attached; one that was not shown gets a question back.
- A photo attached to this message is the reference ("this in blue" means the photo).
- Pointer words ("this", "that", "it", "like this", "similar") and change markers ("as",
  "rather", "instead") keep the current reference.
- Otherwise a message naming what the item is (a value of a "kind" column such as an
  article type) starts a fresh search: reference "none", earlier constraints released,
  except who the shopping is for, which carries over until changed.
- Anything else refines the current search (reference "current").
Messages are truncated and never raise; text that matches nothing becomes the description.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from chat.intent import SearchIntent
from chat.state import DialogueState
from retrieval.vocabulary import Mention, Vocabulary, VocabularyMatcher

MAX_MESSAGE_CHARS = 1000     # a shopping request fits; a pasted essay is cut, not parsed
MAX_DESCRIPTION_CHARS = 200
_MAX_NEGATED_WORDS = 3       # "no big floral prints" -> "big floral prints"

_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "last": -1,
}
_ORD = rf"({'|'.join(_ORDINAL_WORDS)}|\d{{1,2}}(?:st|nd|rd|th))"
_ITEM = r"(?:one|item|result|product|option|picture|photo|image|pic|look)"
# "the second (one)" or "second one"; a bare "second" is too often something else.
_ORDINAL = re.compile(rf"\bthe\s+{_ORD}(?:\s+{_ITEM})?\b|\b{_ORD}\s+{_ITEM}\b")
_NUMBER = re.compile(r"(?:#\s*|\b(?:number|no\.|num|result|item|option|pic|picture|photo|"
                     r"image|product)\s*#?\s*)(\d{1,3})\b")
_LIKE_POINTER = re.compile(r"\b(?:(?:something|anything|more|ones?)\s+)?(?:just\s+)?(?:like|"
                           r"similar\s+to|(?:the\s+)?same\s+as)\s+(?:this|that|these|those|"
                           r"it)(?:\s+ones?)?\b")
# "that" followed by a verb or pronoun is a relative clause ("a dress that is red").
_POINTER = re.compile(r"\b(?:this|these|those|it|its|same|similar)\b(?:\s+ones?\b)?|"
                      r"\bthat\b(?!\s+(?:is|are|was|were|has|have|would|will|can|could|"
                      r"goes|go|fits|looks|matches|i|you|we|they)\b)(?:\s+ones?\b)?")
# Words that mark a change of the current item: "as heels", "I'd rather have heels", "heels
# instead" mean the item being discussed, as heels (a new kind alone starts afresh).
_CHANGE_MARKER = re.compile(r"\b(?:as|rather|instead)\b")
_NONE_OF = re.compile(r"\bnone\s+of\s+(?:these|those|them|the\s+above)\b|\b(?:do\s+not|don'?t)"
                      r"\s+like\s+(?:any\s+of\s+)?(?:these|those|them)\b|\bnot\s+these\b")

_NEGATION = re.compile(
    r"\b(?:any\s+[a-z]+\s+(?:but|except)|anything\s+but|everything\s+but|other\s+than|"
    r"rather\s+than|instead\s+of|(?:do\s+not|don'?t|dont)\s+(?:want|like|need|fancy)|"
    r"no\s+more|not|no(?!\.?\s*#?\s*\d)|without|except|excluding|avoid(?:ing)?|never|"
    r"nothing|non|less|hate|dislike|(?:is|are|was|were)n'?t(?!\s+there))\b")
# Words skipped between a negation and what it negates ("not a fan of black").
_NEGATION_FILLER = frozenset({
    "a", "an", "the", "any", "in", "so", "too", "very", "really", "that", "quite", "with",
    "more", "of", "fan", "big", "keen", "on", "into", "sure", "such", "at", "all", "much",
    "overly", "it", "them", "mind", "anything", "something", "anymore", "wearing", "got",
})
# Words that end what a negation covers ("not black, maybe navy", "without stripes in red").
_NEGATION_END = frozenset({
    "but", "maybe", "perhaps", "instead", "rather", "though", "although", "however", "prefer",
    "preferably", "ideally", "then", "just", "only", "please", "thanks", "for", "in", "with",
    "like", "i", "we", "can", "could", "would", "show", "want", "need", "make", "give", "find",
    "get", "so", "is", "are", "be",
    "wait", "actually", "sorry", "other",  # "no wait, flats", "white with no other colour"
    "more", "less",  # "less revealing and more red": the scope ends where the opposite begins
})
_NOT_CONTENT = frozenset({"this", "that", "these", "those", "it", "one", "ones", "and", "or",
                          "nor", "a", "an", "the", "please", "thanks"})

_RESET = re.compile(r"\b(?:start(?:ing)?\s+(?:over|again|afresh)|new\s+search|reset|"
                    r"clear\s+(?:all|everything|the\s+search|search|filters)|from\s+scratch|"
                    r"forget\s+(?:it|that|everything|all\s+(?:of\s+)?that))\b")
_DROPS = (
    re.compile(r"\b(?:any|whatever|every|all)\s+([a-z]+)"),
    re.compile(r"\b([a-z]+)\s+(?:doesn'?t|does\s+not|don'?t|do\s+not)\s+matter\b"),
    re.compile(r"\b(?:do\s+not|don'?t)\s+care\s+(?:about|what|which)\s+(?:the\s+)?([a-z]+)\b"),
)
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:\w+\s+){0,3}(?:instructions?|prompts?|rules|"
    r"messages|guidelines)\b|\bsystem\s+prompt\b|\byou\s+are\s+now\b|\bact\s+as\b|"
    r"\bjailbreak\b|\bdeveloper\s+mode\b|\bpretend\s+(?:to\s+be|you)\b")

# "do"/"does" questions need their "?": "do it in red" is a request.
_QUESTION_START = re.compile(r"^(?:what|which|who|whose|is|are|how|tell\s+me|"
                             r"can\s+you\s+tell\s+me)\b")
# Questions that are really requests: answer them with results.
_REQUEST = re.compile(r"\b(?:do\s+you\s+have|have\s+you\s+got|got\s+(?:any|it|this|that|one|them)|"
                      r"any\s+(?:similar|others?|more)|is\s+there|are\s+there|"
                      r"(?:can|could|may)\s+(?:i|we)\s+(?:see|get|have)|"
                      r"available|in\s+stock|come\s+in|show|find|search|look\s+for|more)\b")
_ASKED_WORDS = {"brand": "brand", "make": "brand", "material": "material",
                "fabric": "material", "made": "material", "price": "price", "cost": "price",
                "size": "size", "fit": "size"}
_HOW_MUCH = re.compile(r"\bhow\s+much\b")

_SMALLTALK = {  # checked in this order; the first that matches is the kind
    "injection": _INJECTION,
    "thanks": re.compile(r"\b(?:thanks|thank\s+you|thx|cheers|much\s+appreciated)\b"),
    "bye": re.compile(r"\b(?:bye|goodbye|see\s+you|that'?s\s+all|that\s+is\s+all)\b"),
    "help": re.compile(r"^help\b(?!\s+me)|\bwhat\s+can\s+you\s+do\b|"
                       r"\bhow\s+does\s+this\s+work\b|\bwho\s+are\s+you\b"),
    "greeting": re.compile(r"^(?:hi|hello|hey|hiya|howdy|yo|good\s+(?:morning|afternoon|"
                           r"evening|day))\b|\bhow\s+are\s+you(?:\s+doing)?\b"),
    "unsure": re.compile(r"\b(?:not\s+sure|never\s*mind|no\s+idea|"
                         r"(?:do\s+not|don'?t)\s+know)\b"),
    "praise": re.compile(r"^(?:(?:that|it|this)(?:'?s|\s+is)|these\s+are|i\s+love\s+"
                         r"(?:it|this|that|them))(?:\s+\w+)?\s+(?:nice|great|lovely|perfect|"
                         r"good|cool|awesome|beautiful|gorgeous|amazing|fine)\b|^(?:nice|great|"
                         r"lovely|perfect|cool|awesome|beautiful|gorgeous|amazing)\b|"
                         r"^i\s+(?:really\s+)?(?:love|like)\s+(?:it|this|that|them|these|those)\b"),
}
# Leading words that carry no description ("I'm after a ...", "can you show me some ...").
_LEAD_FILLER = re.compile(
    r"^(?:(?:so\s+much|a\s+lot|hi|hello|hey|ok(?:ay)?|so|well|and|also|now|then|but|maybe|"
    r"perhaps|please|just|yes|yeah|yep|no|nah|nope|great|cool|nice|perfect|lovely|awesome|good|fine|"
    r"sure|oh|um|hmm|actually|instead|there|thanks|thank\s+you|wow|lol)\b"
    r"|(?:what|how)\s+about\b|(?:go(?:ing)?\s+)?back\s+to\b|(?:make|change|turn|switch)"
    r"(?:\s+(?:it|that|this|them|these|those))?"
    r"(?:\s+(?:to|into))?\b|help\s+me(?:\s+(?:find|choose|pick|get))?\b"
    r"|(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:after|looking\s+for|searching\s+for|hunting\s+for|"
    r"shopping\s+for|trying\s+to\s+find|in\s+the\s+market\s+for)\b"
    r"|(?:i'?d|i\s+would|we'?d)\s+(?:like|love|prefer)(?:\s+to\s+(?:see|find|buy|get|have))?\b"
    r"|(?:i|we)\s+(?:want|need|like|prefer)(?:\s+to\s+(?:see|find|buy|get|have))?\b"
    r"|(?:can|could|would|will)\s+(?:you|i|we)(?:\s+please)?(?:\s+(?:show|find|get|see|have|"
    r"search\s+for|look\s+for|give))?(?:\s+(?:me|us))?\b"
    r"|(?:show|find|get|give|search\s+for|look\s+for|looking\s+for|searching\s+for|search|"
    r"see)(?:\s+(?:me|us))?\b"
    r"|(?:do|have)\s+you\s+(?:have|got|sell|stock)(?:\s+any)?\b"
    r"|(?:a|an|the|some|any|something|anything|one|ones|like|in|more)\b)[\s,.;:!?-]*")
_TRAIL_FILLER = re.compile(r"[\s,.;:!?-]*\b(?:please|thanks|thank\s+you|instead|then|too|again|"
                           r"and|or|but|in|for|with|like|maybe|perhaps|my|our|your|their|the|a|an|of|to)$")


@dataclass
class _Reading:
    """What one message says, before deciding the intent (mutable scratch, never returned)."""

    text: str
    mentions: list[Mention] = field(default_factory=list)        # positive only
    negatives: list[str] = field(default_factory=list)
    excluded: list[int] = field(default_factory=list)            # 1-based, may hold -1 (last)
    indices: list[int] = field(default_factory=list)             # 1-based, may hold -1 (last)
    pointer: bool = False
    drops: list[str] = field(default_factory=list)
    reset: bool = False
    smalltalk: str | None = None                                 # first _SMALLTALK kind seen
    removed: list[tuple[int, int]] = field(default_factory=list)  # spans not to describe


class RulesRewriter:
    """Rewrites a message into a SearchIntent with rules; see the module docstring."""

    def __init__(self, vocabulary: Vocabulary | VocabularyMatcher):
        self.matcher = (vocabulary if isinstance(vocabulary, VocabularyMatcher)
                        else VocabularyMatcher(vocabulary))

    def rewrite(self, message: str, state: DialogueState, has_upload: bool = False
                ) -> SearchIntent:
        """The intent of `message`; `has_upload` means a photo came with this message."""
        reading = self._read(_clean(message), state)
        description = _describe(reading)
        if _is_question(reading):
            return self._answer(reading, state, has_upload)
        if reading.reset and not (reading.mentions or reading.negatives or has_upload):
            return SearchIntent(action="reset", reference="none")
        structured = (reading.mentions or reading.negatives or reading.drops or reading.indices
                      or reading.excluded or has_upload)
        kind = reading.smalltalk
        if not structured and (kind == "injection" or not (description or reading.pointer)):
            return SearchIntent(action="smalltalk", small_talk=kind or "")
        return self._search(reading, description, state, has_upload)

    def _read(self, text: str, state: DialogueState) -> _Reading:
        """Find references, negations, drops and attribute mentions in lower-cased text."""
        reading = _Reading(text)
        for kind, pattern in _SMALLTALK.items():
            for match in pattern.finditer(text):
                reading.smalltalk = reading.smalltalk or kind
                reading.removed.append(match.span())
        chat = list(reading.removed)  # "that's great" points at nothing
        pointers = [m.span() for m in _LIKE_POINTER.finditer(text)]
        pointers += [m.span() for m in _POINTER.finditer(text) if not _inside(m.span(), pointers)]
        pointers += [m.span() for m in _CHANGE_MARKER.finditer(text) if not _inside(m.span(), pointers)]
        pointers = [p for p in pointers if not _overlaps(p, chat)]
        indices = [(m.span(), _ordinal(m)) for m in _ORDINAL.finditer(text)]
        indices += [(m.span(), int(m.group(1))) for m in _NUMBER.finditer(text)]
        for match in _NONE_OF.finditer(text):
            reading.excluded += range(1, len(state.results) + 1)
            reading.removed.append(match.span())
            pointers = [p for p in pointers if not _inside(p, [match.span()])]
        negated = self._read_negations(reading, state, pointers, indices)
        # "the 0th one" names no result: read as words, not as a pick.
        reading.indices = [i for span, i in indices if not _inside(span, negated) and i != 0]
        reading.pointer = any(not _inside(p, negated) for p in pointers)
        reading.removed += pointers + [span for span, _ in indices]
        for pattern in _DROPS:
            for match in pattern.finditer(text):
                column = self.matcher.column(match.group(1))
                if column:
                    reading.drops.append(column)
                    reading.removed.append(match.span())
        reset = _RESET.search(text)
        if reset:
            reading.reset = True
            reading.removed.append(reset.span())
        return reading

    def _read_negations(self, reading: _Reading, state: DialogueState,
                        pointers: list[tuple[int, int]],
                        indices: list[tuple[tuple[int, int], int]]) -> list[tuple[int, int]]:
        """Negated values, free text and results; positive mentions are what is left."""
        mentions = self.matcher.find(reading.text)
        cues = (_negation_span(reading.text, cue) for cue in _NEGATION.finditer(reading.text))
        spans = [span for span in cues if span]
        for _start, cue_end, end in spans:
            scope = [(cue_end, end)]
            values = [m.value for m in mentions if _inside((m.start, m.end), scope)]
            results = [i for span, i in indices if _inside(span, scope)]
            if any(_inside(p, scope) for p in pointers) and state.reference:
                results += [i + 1 for i, pid in enumerate(state.results)
                            if pid == state.reference.product_id]
            reading.excluded += results
            if values or not results:
                reading.negatives += values or _free_words(reading.text[cue_end:end])
        negated = [(start, end) for start, _, end in spans]
        reading.removed += negated
        reading.mentions = [m for m in mentions if not _inside((m.start, m.end), negated)]
        return negated

    def _search(self, reading: _Reading, description: str, state: DialogueState,
                has_upload: bool) -> SearchIntent:
        """A search intent: reference by the module's rules, then attribute changes."""
        index = _resolve_index(reading.indices[-1], state) if reading.indices else None
        kinds = self.matcher.kind_columns
        wanted = {m.column: m.value for m in reading.mentions}
        new_kind = any(column in kinds for column in wanted)
        reference = _reference_kind(reading, index, has_upload, new_kind)
        drops = list(reading.drops)
        people = self.matcher.people_column
        if reference in ("none", "upload"):
            # Who the shopping is for outlives a new search, but not "start over".
            kept = state.constraints.get(people or "") if not reading.reset else None
            if kept and people not in wanted and people not in drops:
                wanted[people] = kept
        elif new_kind:
            # One kind at a time: "this but as a dress" must not also keep "Topwear".
            drops += [c for c in kinds if c in state.constraints and c not in wanted]
        excluded = [_resolve_index(i, state) for i in reading.excluded]
        return SearchIntent(
            reference=reference, result_index=index, set_attributes=wanted,
            drop_attributes=tuple(dict.fromkeys(drops)),
            negatives=tuple(dict.fromkeys(reading.negatives)),
            exclude_results=tuple(dict.fromkeys(i for i in excluded if state.result_id(i))),
            description=description)

    def _answer(self, reading: _Reading, state: DialogueState, has_upload: bool) -> SearchIntent:
        """A question about a shown result, the current item or the photo."""
        index = _resolve_index(reading.indices[-1], state) if reading.indices else None
        reference = "result" if index is not None else "upload" if has_upload else "current"
        return SearchIntent(action="answer", reference=reference, result_index=index,
                            question=self._asked_column(reading))

    def _asked_column(self, reading: _Reading) -> str:
        """The attribute asked about: a column word, a known non-column word ("brand"), or
        the column of a value named in a yes/no question ("is it red?")."""
        if _HOW_MUCH.search(reading.text):
            return "price"
        for word in re.finditer(r"[a-z]+", reading.text):
            if _inside(word.span(), reading.removed):
                continue
            column = self.matcher.column(word.group())
            if column or word.group() in _ASKED_WORDS:
                return column or _ASKED_WORDS[word.group()]
        return reading.mentions[0].column if reading.mentions else ""


def small_talk_kind(message: str) -> str:
    """The kind of small talk a message is ("thanks", "greeting", ...), or "" for none; for
    readers that know a turn is small talk but not which kind."""
    text = _clean(message)
    return next((kind for kind, pattern in _SMALLTALK.items() if pattern.search(text)), "")


def _clean(message: object) -> str:
    """Lower-cased, normalised, single-spaced text of at most MAX_MESSAGE_CHARS."""
    text = unicodedata.normalize("NFKC", message if isinstance(message, str) else "")
    text = text[:MAX_MESSAGE_CHARS].replace("\u2019", "'").replace("\u2018", "'")
    text = "".join(c if c.isprintable() else " " for c in text)
    return re.sub(r"\s+", " ", text).strip().lower()


def _ordinal(match: re.Match) -> int:
    """1-based index of an ordinal match; -1 for "last"."""
    word = match.group(1) or match.group(2)
    return _ORDINAL_WORDS.get(word) or int(re.sub(r"\D", "", word))


def _reference_kind(reading: _Reading, index: int | None, has_upload: bool,
                    new_kind: bool) -> str:
    """Where a search starts from; the order is the module docstring's."""
    if index is not None:
        return "result"
    if has_upload:
        return "upload"
    if reading.pointer:
        return "current"
    return "none" if reading.reset or new_kind else "current"


def _resolve_index(index: int, state: DialogueState) -> int:
    """Turn "last" (-1) into the number of shown results (1 when none are: a result that
    was not shown, which the assistant asks about)."""
    return max(len(state.results), 1) if index == -1 else index


def _negation_span(text: str, cue: re.Match) -> tuple[int, int, int] | None:
    """(cue start, cue end, scope end) of what a negation covers, or None if nothing."""
    end, last = None, cue.end()
    words = 0
    for word in re.finditer(r"[a-z0-9#']+", text[cue.end():]):
        start = cue.end() + word.start()
        if re.search(r"[,.;:!?]", text[last:start]):
            break
        if end is None and word.group() in _NEGATION_FILLER:
            last = cue.end() + word.end()
            continue
        if word.group() in _NEGATION_END:
            break
        last = end = cue.end() + word.end()
        words += 1
        if words >= 4:
            break
    return (cue.start(), cue.end(), end) if end else None


def _free_words(scope: str) -> list[str]:
    """A negated phrase that names no catalogue value ("prints", "floral prints")."""
    words = [w for w in re.findall(r"[a-z]+", scope) if w not in _NOT_CONTENT
             and w not in _NEGATION_FILLER]
    return [" ".join(words[:_MAX_NEGATED_WORDS])] if words else []


def _inside(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    """Whether span lies within any of spans."""
    return any(s <= span[0] and span[1] <= e for s, e in spans)


def _overlaps(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    """Whether span shares a character with any of spans."""
    return any(s < span[1] and span[0] < e for s, e in spans)


def _is_question(reading: _Reading) -> bool:
    """A question about something shown (not a request phrased as a question)."""
    text = reading.text
    asks = text.endswith("?") or _QUESTION_START.search(text)
    about = reading.indices or reading.pointer or re.search(r"\btell\s+me\b", text)
    return bool(asks and about and not _REQUEST.search(text))


def _describe(reading: _Reading) -> str:
    """The free-text target: the message minus references, negations, commands and filler."""
    kept, last = [], 0
    for start, end in sorted(reading.removed):
        kept.append(reading.text[last:start])
        last = max(last, end)
    kept.append(reading.text[last:])
    text = re.sub(r"\s+", " ", " ".join(kept))
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,.;:!?])[\s,.;:!?]+", r"\1 ", text)
    return without_filler(text)[:MAX_DESCRIPTION_CHARS]


def without_filler(text: str) -> str:
    """`text` without the leading and trailing words that describe nothing ("can you show me",
    "maybe", "please"); "" when no word is left. Shared with the grounding and the replies."""
    text = text.strip(" ,.;:!?-")
    previous = None
    while previous != text:
        previous = text
        text = _LEAD_FILLER.sub("", text, count=1).strip(" ,.;:!?-")
        text = _TRAIL_FILLER.sub("", text).strip(" ,.;:!?-")
    return text if re.search(r"[^\W\d_]{2}", text) else ""
