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
  except who the shopping is for, which carries over until changed; a search that had no
  kind yet ("for my brother", then "black") keeps all its filters.
- Anything else refines the current search (reference "current").
Messages are truncated and never raise; text that matches nothing becomes the description.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from chat import language, moves
from chat.intent import Limit, SearchIntent
from chat.state import DialogueState
from chat.text import without_filler
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
_POINTER = re.compile(r"\b(?:this|these|those|it|its|similar)\b(?:\s+ones?\b)?|\bsame(?:\s+(?:ones?|things?|stuff)\b)?|"
                      r"\bthat\b(?!\s+(?:is|are|was|were|has|have|would|will|can|could|"
                      r"goes|go|fits|looks|matches|i|you|we|they)\b)(?:\s+ones?\b)?")
# Words that mark a change of the current item: "as heels", "I'd rather have heels", "heels
# instead" mean the item being discussed, as heels (a new kind alone starts afresh).
_CHANGE_MARKER = re.compile(r"\b(?:as|rather|instead)\b|^(?:(?:ok|hmm|and|so)[\s,]+)?(?:what|how)\s+about\b")
_NONE_OF = re.compile(r"\bnone\s+of\s+(?:these|those|them|the\s+above)\b|\b(?:do\s+not|don'?t)"
                      r"\s+like\s+(?:any\s+of\s+)?(?:these|those|them)\b|\bnot\s+(?:these|those)(?:\s+ones)?\b")

_NEGATION = re.compile(
    r"\b(?:any\s+[a-z]+\s+(?:but|except)|anything\s+but|everything\s+but|other\s+than|"
    r"rather\s+than|instead\s+of|(?:do\s+not|don'?t|dont)\s+(?:want|like|need|fancy)|"
    r"no\s+more|not|no(?!\.?\s*#?\s*\d)|without|except|excluding|avoid(?:ing)?|never|"
    r"nothing|non|less|hate|dislike|(?:is|are|was|were)n'?t(?!\s+there))\b")
# "these aren't for women", "that's not a dress": what is shown is not what was asked for, so
# the value is wanted, not avoided.
_SHOWN_IS_NOT = re.compile(r"^(?:(?:no|nope|but|um+|hmm+|ugh)[\s,.!]+)?(?:these|those|they|it|that|this)(?:\s+ones?)?"
                           r"(?:'s|'re|\s+(?:is|are|was|were))?(?:n't|\s+not)\b")
# Words skipped between a negation and what it negates ("not a fan of black").
_NEGATION_FILLER = frozenset({
    "a", "an", "the", "any", "in", "so", "too", "very", "really", "that", "quite", "with",
    "more", "of", "fan", "big", "keen", "on", "into", "sure", "such", "at", "all", "much",
    "overly", "it", "them", "mind", "anything", "something", "anymore", "wearing", "got",
})
# Words that end what a negation covers ("not black, maybe navy", "without stripes in red").
_NEGATION_END = frozenset({
    "but", "maybe", "perhaps", "instead", "rather", "though", "although", "however", "prefer",
    "preferably", "ideally", "then", "just", "only", "please", "pls", "plz", "thanks", "for", "in", "with",
    "like", "i", "we", "can", "could", "would", "show", "want", "need", "make", "give", "find",
    "get", "so", "is", "are", "be",
    "wait", "actually", "sorry", "other", "tho",  # "no wait, flats", "white with no other colour"
    "more", "less",  # "less revealing and more red": the scope ends where the opposite begins
})
# Words before a colour that make it a detail of the item, not its colour.
_DETAIL = re.compile(r"\b(?:with|has|have|having|featuring|plus|and\s+(?:a|an|some))\s+(?:(?:a|an|some|the|small|"
                     r"little|big|large|tiny|thin|thick|bright|dark|light)\s+){0,2}$")
# Parts and decorations of an item: a colour said of one ("red buttons", "the print in red") is
# not the item's colour. A colour before a pattern ("blue stripes", "red print") may well be the
# item's look, as crowd captions say it: that one stays a detail (`_DETAIL`).
_SMALL_PART = (r"(?:buttons?|logos?|text|words?|letters?|lettering|writing|slogans?|trims?|trimming|piping|collars?|cuffs?|"
               r"soles?|laces?|embroidery|details?|detailing|stitching|zips?|zippers?|pockets?|hoods?|buckles?|borders?|"
               r"panels?|sequins?|beads?|bows?|lining|sleeves?)")
_PART = rf"(?:{_SMALL_PART}|prints?|graphics?|stripes?|patterns?|motifs?|checks?|dots|spots|flowers?|florals?)"
_PART_AFTER = re.compile(rf"(?:[\s-]+(?:colou?red|toned))?\s+{_SMALL_PART}\b")
_PART_BEFORE = re.compile(rf"\b{_PART}\s+(?:(?:in|is|are|should\s+be|to\s+be|being|colou?red)\s+)?(?:an?\s+)?$")
# A description of the item under discussion ("the shirt is aqua", "has long sleeves").
_DESCRIBING = re.compile(r"^(?:(?:the|this|that|it|its|my)\s+)?(?:[a-z-]+\s+){0,3}?(?:is|are|has|have|looks?|seems?)\b")
_REQUEST_CUE = re.compile(r"\b(?:show|see|find|search|look(?:ing)?|want|need|get|got|buy|after|prefer|would|could|can|"
                          r"please|instead|rather|about|any|some|something|anything|new|do\s+you|i'?d|i'?m|matching|"
                          r"to\s+match|to\s+go\s+with)\b")
# A complaint about what was just named: that value is avoided, not wanted.
_COMPLAINT = re.compile(
    r"\b(?:(?:my\s+(?:feet|toes|back|legs|neck)\s+)?(?:hurts?|hurting|ache|aches)|pinch(?:es)?|itch(?:y|es)?|uncomfortable|(?:are|is|look|looks|feel|feels|seem|seems)\s+"
    r"(?:way\s+|far\s+|much\s+)?too\s+[a-z]+|ugly|boring|annoying|sucks?|awful|horrible|hideous|tacky|dated|"
    r"old[\s-]fashioned|(?:are|is)\s+(?:a\s+)?pain|kill(?:s|ing)?\s+(?:me|my)|(?:do|does)(?:n'?t|\s+not)\s+suit|"
    r"(?:are|is)(?:n'?t|\s+not)\s+(?:comfortable|for\s+me|my\s+thing|my\s+style)|give\s+me\s+blisters|"
    r"makes?\s+(?:me|my\s+[a-z]+)\s+(?:too\s+[a-z]+|hurt|ache|sweat|itch))\b")
_CLAUSE_END = re.compile(r"[,.;!?]|\b(?:but|since|because|cause|cos|as|and\s+(?:i|we)|so\s+(?:i|we|show|give|can|could|"
                         r"please|let'?s|maybe))\b")
_NOT_CONTENT = frozenset({"this", "that", "these", "those", "it", "one", "ones", "and", "or",
                          "nor", "a", "an", "the", "please", "pls", "thanks", "for", "me", "us", "my", "him", "her",
                          "no", "not", "what", "i"})  # "no not those", "not what i asked for": no wish to avoid

_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:\w+\s+){0,3}(?:instructions?|prompts?|rules|"
    r"messages|guidelines)\b|\bsystem\s+prompt\b|\byou\s+are\s+now\b|\bact\s+as\b|"
    r"\bjailbreak\b|\bdeveloper\s+mode\b|\bpretend\s+(?:to\s+be|you)\b")

# "do"/"does" questions need their "?": "do it in red" is a request.
_QUESTION_START = re.compile(r"^(?:what|whats|wats|which|who|whose|when|where|is|are|how|tell\s+me|"
                             r"can\s+you\s+tell\s+me)\b")
# Chat inside a request, which describes no product: "omg #4 is perfect but for men", "love the 5th one".
# "love" of what is shown only: "i'd love a red dress" is a request.
_CHATTER = re.compile(r"\b(?:omg|omfg|wow|lol|haha+|ooh+|yay|aww+|ngl|tbh|imo)\b|"
                      r"(?<!'d\s)(?<!would\s)\b(?:i\s+)?(?:really\s+)?(?:love|adore)\b(?=\s+(?:it|this|that|these|those|them|the|#|\d))|"
                      r"\b(?:is|are|r|'s|'re|looks|seems)\s+(?:(?:so|really|very|just|absolutely|super)\s+)?(?:perfect|great|"
                      r"lovely|nice|cute|gorgeous|amazing|awesome|beautiful|stunning|pretty|fab|fabulous|cool|good|sweet)\b")
# Politeness around a request: "... if that's ok", "if possible". Its "that" points at nothing.
_POLITE = re.compile(r"\bif\s+(?:(?:that|it)(?:'s|\s+is)\s+(?:ok(?:ay)?|alright|fine|possible)|possible|you\s+(?:can|could|"
                     r"don'?t\s+mind))\b")
# Any question's form, requests' included: "can i ...", "do you ...", or a "?".
_ASKS = re.compile(r"^(?:can|could|do|does|did|will|would|is|are|how|when|what|where|which|why)\b|\?$")
# Questions that are really requests: answer them with results.
_REQUEST = re.compile(r"\b(?:do\s+you\s+have|have\s+you\s+got|(?:you|u)\s+got|got\s+(?:any|it|this|that|these|those|one|them)|"
                      r"(?:any|some)(?:thing|one)?\s+(?:like|similar)|similar\s+(?:to|ones?)|"
                      r"what\s+about|how\s+about|what\s+if|instead|rather|how\s+would|would\s+(?:it|this|that|they)|"
                      r"(?:could|can)\s+(?:it|this|that|they|these|those|you)|"
                      r"any\s+(?:similar|others?|more)|is\s+there|are\s+there|"
                      r"(?:can|could|may)\s+(?:i|we)\s+(?:see|get|have)|any(?:\s+ones?)?\s+(?:in|for)|"
                      r"available|come\s+in|show|find|search|look\s+for|more)\b|"
                      r"^(?:(?:and|so|ok|hmm|or)[\s,]+)?(?:(?:this|that|these|those|it|same)(?:\s+ones?)?|the\s+[a-z0-9]+\s+one|#\s*\d+)"
                      r"(?:\s+but)?\s+(?:in|for|as)\b|"
                      r"(?:^|[,.;!]\s*)(?:(?:but|and|or|so|ok|maybe|perhaps)\s+)*(?:in|for)\s+[a-z][a-z ]*[?!.\s]*$")  # "..., in red?"
# "what season is it for?", "which brand is the second one?": the noun asked about.
_ASKED_NOUN = re.compile(r"\b(?:what|which)(?:'s|\s+is|\s+are)?\s+(?:the\s+|its\s+|their\s+)?([a-z]+)")
_NOT_ASKED = frozenset({"is", "are", "it", "this", "that", "one", "ones", "the", "about", "if", "do", "does", "of",
                        "kind", "sort", "difference", "else", "you", "they", "them", "would", "should", "could", "can",
                        "will", "did", "goes", "go", "i", "we"})
# "is it machine washable?", "will the second one shrink?": what a yes/no question says of the item.
_YES_NO = re.compile(r"^(?:is|are|does|do|will|would|can|could|has|have)(?:n'?t)?\s+(?:it|this|that|they|these|those|"
                     r"the\s+[a-z0-9]+(?:\s+one)?|#\s*\d{1,2})\s+((?!(?:for|in|from|by|on|at|with|to|like|made)\b)"
                     r"[a-z][a-z'-]*(?:\s+[a-z][a-z'-]*){0,2})[\s?!.]*$")
# "tell me more about #4", "more info on the third", "details of the first one": the item's record.
_DETAILS_ASKED = re.compile(r"\btell\s+me\s+(?:a\s+bit\s+|more\s+)?about\b|\b(?:more\s+)?(?:info|information|details?|specs)\s+"
                            r"(?:on|of|about|for)\b")
# "more info on 3": a bare number there names a result, as "#3" does.
_DETAILS_OF_NUMBER = re.compile(rf"(?:{_DETAILS_ASKED.pattern})\s+(\d{{1,2}})\b(?![.,]\d|\s*[%$£€])")

# Chat shorthand and slips in the words around a change, which no pattern would read and which
# were searched as words ("wht about in whte"); values' own slips are the vocabulary's.
_CHAT_SPELLINGS = {
    **dict.fromkeys(("wht", "wat", "wut", "whta", "waht", "wht's"), "what"), "wats": "whats",
    **dict.fromkeys(("hw", "hwo", "hiw"), "how"),
    **dict.fromkeys(("abt", "abut", "abot", "abou", "abotu", "baout", "bout"), "about"),
    **dict.fromkeys(("smae", "sme", "saem"), "same"), **dict.fromkeys(("tht", "taht", "dat"), "that"),
    **dict.fromkeys(("ths", "thsi", "dis"), "this"), **dict.fromkeys(("shw", "shwo", "sho"), "show"),
    **dict.fromkeys(("insted", "instaed", "isntead"), "instead"),
    **dict.fromkeys(("simillar", "similiar", "simlar", "similer"), "similar"),
    **dict.fromkeys(("pleas", "pleae", "plase", "pleeze", "pleez"), "please"),
    **dict.fromkeys(("smth", "sth", "somethin"), "something"), "ur": "your", "w/": "with", "w/o": "without",
    "wanna": "want to", "lemme": "let me", "gimme": "give me", "cuz": "because", "coz": "because",
}
_CHAT_WORD = re.compile(r"(?<![\w'/])(?:" + "|".join(sorted(map(re.escape, _CHAT_SPELLINGS), key=len, reverse=True))
                        + r")(?![\w'/])")

_SMALLTALK = {  # checked in this order; the first that matches is the kind
    "injection": _INJECTION,
    "thanks": re.compile(r"\b(?:thanks|thank\s+(?:you|u|ya)|thx|thnx|thanx|tysm|cheers(?:\s+mate)?|much\s+appreciated)\b|"
                         r"(?:^|,\s*)ta(?=[\s!.]*$)"),
    "bye": re.compile(r"\b(?:bye|goodbye|see\s+you|that'?s\s+all|that\s+is\s+all)\b"),
    "help": re.compile(r"^help\b(?!\s+me)|\bwhat\s+can\s+you\s+do\b|"
                       r"\bhow\s+does\s+this\s+work\b|\bwho\s+are\s+you\b"),
    "greeting": re.compile(r"^(?:hi|hello|hey|hiya|howdy|yo|good\s+(?:morning|afternoon|"
                           r"evening|day))\b|\bhow\s+are\s+you(?:\s+doing)?\b"),
    "unsure": re.compile(r"\b(?:not\s+sure|never\s*mind|no\s+idea|idk|dunno|"
                         r"(?:do\s+not|don'?t)\s+know)\b|"
                         r"^(?:(?:hmm+|hm+|um+|maybe|perhaps|nah|nope|meh|not\s+really)[\s,.!?]*)+$"),  # "nah", "hmm maybe"
    "praise": re.compile(r"^(?:(?:ok(?:ay)?|oh|ah|wow|yes|yeah|yep|aw+|hmm+)[\s,!.]+)?(?:(?:(?:that|it|this)(?:'?s|\s+is)|"
                         r"these\s+are|i\s+love\s+(?:it|this|that|them))(?:\s+\w+)?\s+(?:nice|great|lovely|perfect|"
                         r"good|cool|awesome|beautiful|gorgeous|amazing|fine)\b|(?:nice|great|"
                         r"lovely|perfect|cool|awesome|beautiful|gorgeous|amazing)\b|(?:so+|very|really)\s+(?:nice|great|"
                         r"lovely|cool|beautiful|gorgeous|cute|pretty|stunning)\b|(?:cute|pretty|stunning)(?=\s*[,.!?]|$)|"
                         r"i\s+(?:really\s+)?(?:love|like)\s+(?:it|this|that|them|these|those)\b)"),
}
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
    limits: dict[str, Limit] = field(default_factory=dict)       # "under 50", "cheaper"
    unheld: tuple[str, ...] = ()                                 # aspects no column holds: size, stock
    borrowed: moves.Borrowed = field(default_factory=moves.Borrowed)
    something_else: bool = False                                 # "something else", "another one"
    recommend: bool = False                                      # "what do you recommend?"
    smalltalk: str | None = None                                 # first _SMALLTALK kind seen
    unclear: bool = False                                        # a result said by an unclear place on screen
    matching: bool = False                                       # "a matching bag": the colour carries over
    removed: list[tuple[int, int]] = field(default_factory=list)  # spans not to describe


class RulesRewriter:
    """Rewrites a message into a SearchIntent with rules; see the module docstring."""

    def __init__(self, vocabulary: Vocabulary | VocabularyMatcher, foreign: Callable[..., bool] | None = None):
        """`foreign(text)` says whether a message is in a language other than English
        (`chat.language`); without it every message is read as English."""
        self.matcher = (vocabulary if isinstance(vocabulary, VocabularyMatcher)
                        else VocabularyMatcher(vocabulary))
        self.foreign = foreign

    def rewrite(self, message: str, state: DialogueState, has_upload: bool = False
                ) -> SearchIntent:
        """The intent of `message`; `has_upload` means a photo came with this message."""
        text = _clean(message)
        command = self._command(text, state)
        if command is not None:
            return command
        reading = self._read(text, state)
        description = _describe(reading, self._misspelt(reading))
        corrected = self._corrected_pick(reading, state, has_upload)
        if corrected:
            return SearchIntent(action="undo", reference="result", result_index=corrected)
        earlier = self._back_to(reading, state, has_upload)
        if earlier:
            return SearchIntent(action="undo", set_attributes=earlier)
        if (_is_question(reading) or _asks_about_an_aspect(reading)) and not (has_upload and not self._asked_column(reading)):
            return self._answer(reading, state, has_upload)
        if reading.unclear and state.results:  # "the one on the right": which number, before anything changes
            return SearchIntent(action="smalltalk", small_talk="which")
        if reading.reset and not (reading.mentions or reading.negatives or has_upload):
            return SearchIntent(action="reset", reference="none")
        structured = (reading.mentions or reading.negatives or reading.drops or reading.indices
                      or reading.excluded or has_upload or reading.limits or reading.borrowed.take_from)
        kind = reading.smalltalk
        if reading.something_else and not structured and state.reference is None:
            return SearchIntent(action="more")
        if reading.recommend and not (structured or description):  # the best of this search, or what to ask
            return SearchIntent() if state.results else SearchIntent(action="smalltalk", small_talk="help")
        if not structured and not reading.unheld and (kind == "injection" or not (description or reading.pointer)):
            return SearchIntent(action="smalltalk", small_talk=kind or "")
        return self._search(reading, description, state, has_upload)

    def _misspelt(self, reading: _Reading) -> list[Mention]:
        """The mentions read from a misspelt word ("bleu", "blak")."""
        spelt = {(m.start, m.end) for m in self.matcher.find(reading.text, misspelt=False)}
        return [m for m in reading.mentions if (m.start, m.end) not in spelt]

    def _corrected_pick(self, reading: _Reading, state: DialogueState, has_upload: bool) -> int | None:
        """"no, I meant the second one" right after a pick: the number meant among the results
        the wrong one was picked from (the results on screen came from the wrong one), when the
        message changes nothing else; else None."""
        if (not moves.CORRECTION.search(reading.text) or len(reading.indices) != 1 or has_upload or reading.mentions
                or reading.negatives or reading.drops or reading.limits):
            return None
        shown = state.picked_from()
        return _resolve_index(reading.indices[0], shown) if shown is not None else None

    def _back_to(self, reading: _Reading, state: DialogueState, has_upload: bool) -> dict[str, str]:
        """"go back to the shoes from before": the values of an earlier search to return to, when
        the message names a kind and nothing to change, and an earlier search wanted them (a new
        search for shoes would lose that one's colour and results); else {}."""
        wanted = self._wanted(reading)
        if (not moves.BACK.search(reading.text) or has_upload or reading.negatives or reading.indices or reading.drops
                or not any(c in self.matcher.kind_columns for c in wanted) or state.back_to(wanted) is None):
            return {}
        return wanted

    def _command(self, text: str, state: DialogueState) -> SearchIntent | None:
        """A message that is a whole command (undo, more, compare) or not in English."""
        action = moves.command(text)
        if action:
            return SearchIntent(action=action)
        compared = moves.compared_results(text, state)
        if compared is not None:
            return SearchIntent(action="compare", compared=compared)
        if self.foreign is not None and not self.matcher.find(text, misspelt=False):
            misspelt = bool(self.matcher.find(text))  # "in blu": English with a slip, not Italian
            if (language.in_english(text) and not misspelt) or self.foreign(_without_small_talk(text), strict=misspelt):
                return SearchIntent(action="smalltalk", small_talk="foreign")
        return None

    def _read(self, text: str, state: DialogueState) -> _Reading:
        """Find references, negations, drops and attribute mentions in lower-cased text."""
        reading = _Reading(text)
        for kind, pattern in _SMALLTALK.items():
            for match in pattern.finditer(text):
                reading.smalltalk = reading.smalltalk or kind
                reading.removed.append(match.span())
        resets = [m.span() for m in moves.RESET.finditer(text)]
        reading.reset = bool(resets)
        reading.removed += resets
        reading.removed += [m.span() for m in _POLITE.finditer(text)]
        chat = list(reading.removed)  # "that's great", "forget that", "if that's ok" point at nothing
        reading.removed += [m.span() for m in _CHATTER.finditer(text)]  # "omg #4 is perfect but for men"
        pointers = [m.span() for m in _LIKE_POINTER.finditer(text)]
        pointers += [m.span() for m in _POINTER.finditer(text) if not _inside(m.span(), pointers)]
        pointers += [m.span() for m in _CHANGE_MARKER.finditer(text) if not _inside(m.span(), pointers)]
        matched = [m.span() for m in moves.MATCHED_POINTER.finditer(text)]  # "sandals to go with it": no pick
        pointers = [p for p in pointers if not _overlaps(p, chat + matched)]
        indices = [(m.span(), moves.in_comparison(_ordinal(m), state)) for m in _ORDINAL.finditer(text)]
        indices += [(m.span(), int(m.group(1))) for m in _NUMBER.finditer(text)]
        indices += [(m.span(1), int(m.group(1))) for m in _DETAILS_OF_NUMBER.finditer(text)]
        results_list = moves.listed_results(text, state)
        if results_list:  # "#1 and #2 in white": from the first (the reply says how to see the others)
            span, numbers = results_list
            indices = [(s, i) for s, i in indices if not _inside(s, [span])] + [(span, numbers[0])]
        places = [(m.span(), moves.position_number(m.group(), state)) for m in moves.POSITION.finditer(text)]
        places += moves.compared_picks(text, state, [i for _, i in indices])
        indices += [(span, n) for span, n in places if n]
        reading.unclear = any(n is None for _, n in places)
        for match in _NONE_OF.finditer(text):
            reading.excluded += range(1, len(state.results) + 1)
            reading.removed.append(match.span())
            pointers = [p for p in pointers if not _inside(p, [match.span()])]
        drops, spans = moves.drops(text, state, self.matcher)
        reading.limits, limit_spans = moves.limits(text)  # "less than 30", "no more than 50" negate nothing
        negated = self._read_negations(reading, state, pointers, indices, released=spans + limit_spans)
        # "the 0th one" names no result: read as words, not as a pick.
        reading.indices = [i for span, i in indices if not _inside(span, negated) and i != 0]
        reading.pointer = any(not _inside(p, negated) for p in pointers)
        reading.removed += pointers + [span for span, _ in indices]
        others, avoided, other_spans = moves.another(text, state, self.matcher)
        reading.drops += drops + others
        reading.negatives += [] if _points_elsewhere(reading.indices, state) else avoided
        reading.unheld, aspect_spans = moves.aspects_wanted(text, released=spans)
        complained, complaint_spans = moves.too_much(text, state, self.matcher)
        reading.negatives += complained
        reading.borrowed = moves.borrowed(text, state, self.matcher)
        reading.something_else = bool(moves.SOMETHING_ELSE.search(text)) and not reading.reset
        reading.removed += spans + other_spans + limit_spans + aspect_spans + complaint_spans + reading.borrowed.spans
        reading.removed += [m.span() for m in moves.SOMETHING_ELSE.finditer(text)]
        matching = [m.span() for m in moves.MATCHING.finditer(text)]
        reading.matching = bool(matching)
        reading.removed += matching
        recommended = [m.span() for m in moves.RECOMMEND.finditer(text)]
        reading.recommend = bool(recommended)
        reading.removed += recommended
        if reading.borrowed.spans:  # "#2's colour": the result named there is no pick of its own
            reading.indices = [reading.borrowed.look] if reading.borrowed.look else []
        if reading.something_else and state.reference_number():
            reading.excluded.append(state.reference_number())
        taken = spans + other_spans + limit_spans + aspect_spans + reading.borrowed.spans + [span for span, _ in places]
        reading.mentions = [m for m in reading.mentions if not _inside((m.start, m.end), taken)]
        self._first_of_lists(reading)
        self._shade_shifted(reading, state)
        self._matched_kinds(reading, state)
        return reading

    def _matched_kinds(self, reading: _Reading, state: DialogueState) -> None:
        """"skirts in the same colour as the jeans": a kind named as what to match is no wish but
        the search for it, this one or an earlier one, whose colour is wanted."""
        colour = self.matcher.colour_column or ""
        for mention in [m for m in reading.mentions if m.column in self.matcher.kind_columns]:
            if not moves.MATCHED.search(reading.text, 0, mention.start):
                continue
            wanted = {mention.column: mention.value}
            source = state if state.target_attributes().get(mention.column) == mention.value else state.back_to(wanted)
            value = source.target_attributes().get(colour) if source else None
            if value:
                reading.mentions[reading.mentions.index(mention)] = Mention(colour, value, mention.start, mention.end)

    def _shade_shifted(self, reading: _Reading, state: DialogueState) -> None:
        """"a bit darker", "a lighter blue": the shade the vocabulary knows as darker or lighter
        than the colour the words qualify, else, where the message names no colour, than the one
        wanted now, becomes the wanted colour. A colour named elsewhere in the message is the
        one wanted: "is green and darker" describes a green product darker than the one shown."""
        column = self.matcher.colour_column
        match = moves.SHADE_SHIFT.search(reading.text)
        if match is None:
            return
        named = [m for m in reading.mentions if m.column == column]
        qualified = [m for m in named if m.start >= match.end() and not reading.text[match.end():m.start].strip()]
        if named and not qualified:
            return
        colour = qualified[0].value if qualified else state.target_attributes().get(column or "")
        shade = moves.shade_shift(match, colour, self.matcher)
        if shade is None:
            return
        kept = [m for m in reading.mentions if m.column != column]
        reading.mentions = sorted([*kept, Mention(column, shade, *match.span())], key=lambda m: m.start)
        reading.removed.append(match.span())

    def _first_of_lists(self, reading: _Reading) -> None:
        """"red or blue dresses", "a dress and some heels": the first value of a list is searched
        (the assistant says the others, and searches the next where the first has nothing), and
        the rest are not wanted; no value of a list is described, as the search may end on any."""
        lists = moves.listed(reading.text, reading.mentions, self.matcher.kind_columns)
        tails = [m for values in lists for m in values[1:]]
        reading.mentions = [m for m in reading.mentions if m not in tails]
        reading.removed += [(m.start, m.end) for values in lists for m in values[:1]]
        for mention in tails:
            link = moves.LINK_BEFORE.search(reading.text, 0, mention.start)
            reading.removed.append((link.start() if link else mention.start, mention.end))

    def _read_negations(self, reading: _Reading, state: DialogueState,
                        pointers: list[tuple[int, int]],
                        indices: list[tuple[tuple[int, int], int]], released: list[tuple[int, int]] = ()
                        ) -> list[tuple[int, int]]:
        """Negated values, free text and results; positive mentions are what is left. A cue
        inside a released phrase ("no colour preference") or a price bound ("less than 30"),
        or saying what is shown is not it ("these aren't for women"), negates nothing."""
        mentions = self.matcher.find(reading.text)
        shown_is_not = _SHOWN_IS_NOT.match(reading.text)
        reading.removed += [shown_is_not.span()] if shown_is_not else []
        cues = (_negation_span(reading.text, cue) for cue in _NEGATION.finditer(reading.text)
                if not _inside(cue.span(), list(released)) and not (shown_is_not and cue.end() == shown_is_not.end()))
        spans = [span for span in cues if span]
        for _start, cue_end, end in spans:
            scope = [(cue_end, end)]
            values = [m.value for m in mentions if _inside((m.start, m.end), scope)]
            results = [i for span, i in indices if _inside(span, scope)]
            if any(_inside(p, scope) for p in pointers) and state.reference_number():
                results.append(state.reference_number())
            reading.excluded += results
            column = None if values else self._column_named(reading.text[cue_end:end])
            if column:  # "not keen on the colour": another colour, not the word "colour" avoided
                current = state.target_attributes().get(column)
                reading.drops.append(column)
                reading.negatives += [current] if current else []
            elif values or not results:  # "not so sporty": the occasion value, so that one asked for is released
                words = _free_words(reading.text[cue_end:end])
                reading.negatives += values or [self.matcher.occasion(w) or w for w in words]
        negated = [(start, end) for start, _, end in spans]
        reading.removed += [m.span() for m in _COMPLAINT.finditer(reading.text)]  # complaints describe no target
        for mention in mentions:  # "flats instead, heels hurt": heels are avoided
            complaint = _complaint_after(reading.text, mention)
            contrast = mention.column == self.matcher.colour_column or any(
                m.column == mention.column and m.value != mention.value for m in mentions)
            if complaint and contrast and not _inside((mention.start, mention.end), negated):
                reading.negatives.append(mention.value)
                negated.append((mention.start, complaint))
        reading.removed += negated
        reading.mentions = [m for m in mentions if not _inside((m.start, m.end), negated)]
        return negated

    def _column_named(self, phrase: str) -> str | None:
        """The column a word of `phrase` names ("the colour" -> the colour column), or None."""
        return next((c for c in map(self.matcher.column, re.findall(r"[a-z]+", phrase)) if c), None)

    def _search(self, reading: _Reading, description: str, state: DialogueState,
                has_upload: bool) -> SearchIntent:
        """A search intent: reference by the module's rules, then attribute changes."""
        index = _resolve_index(reading.indices[-1], state) if reading.indices else None
        kinds = self.matcher.kind_columns
        wanted = self._wanted(reading)
        new_kind = any(column in kinds for column in wanted)
        fresh = new_kind and not (state.reference is not None and _describes_current(reading.text, wanted, kinds))
        reference = _reference_kind(reading, index, has_upload, fresh)
        drops = list(reading.drops)
        if reference in ("none", "upload"):
            kept = {} if reading.reset else self._carried(state, reference, reading.matching)  # not after "start over"
            wanted.update({c: v for c, v in kept.items() if c not in wanted and c not in drops})
        elif new_kind:
            # One kind at a time: "this but as a dress" must not also keep "Topwear".
            drops += [c for c in kinds if c in state.constraints and c not in wanted]
        excluded = [_resolve_index(i, state) for i in reading.excluded]
        taken = reading.borrowed.take_from
        return SearchIntent(
            reference=reference, result_index=index,
            set_attributes={c: v for c, v in wanted.items() if c not in taken},
            drop_attributes=tuple(dict.fromkeys(drops)),
            negatives=tuple(dict.fromkeys(reading.negatives)),
            exclude_results=tuple(dict.fromkeys(i for i in excluded if state.result_id(i))),
            description=description, take_from=taken, limits=reading.limits, unheld=reading.unheld)

    def _carried(self, state: DialogueState, reference: str, matching: bool = False) -> dict[str, str]:
        """What outlives a new search: who the shopping is for; the colour wanted now, when the
        new kind is to match it ("a matching handbag"); and every wish of a search that had no
        kind yet ("for my brother", "black", then "maybe jeans": black jeans for men)."""
        kinds = self.matcher.kind_columns
        target = state.target_attributes()
        if reference == "none" and not any(column in kinds for column in target):
            return {c: v for c, v in state.constraints.items() if c in self.matcher.columns}
        people, colour = self.matcher.people_column or "", self.matcher.colour_column or ""
        carried = {people: state.constraints[people]} if people in state.constraints else {}
        shown = colour in target and target[colour] not in state.relaxed  # a colour the search gave up is not on screen
        return {**carried, colour: target[colour]} if matching and shown else carried

    def _wanted(self, reading: _Reading) -> dict[str, str]:
        """Column -> value of the positive mentions, the last of a column winning; but a colour
        said as a detail ("is black with white words", "has an orange graphic") gives way to one
        said of the item itself, and one said of a part ("with red buttons", "the print in red")
        is no colour of the item at all: its words are searched."""
        colour = self.matcher.colour_column
        wanted: dict[str, str] = {}
        details: dict[str, str] = {}
        kinds = [m.start for m in reading.mentions if m.column in self.matcher.kind_columns]
        for mention in reading.mentions:
            if mention.column == colour and _of_a_part(reading.text, mention, kinds, reading.removed):
                continue
            detail = mention.column == colour and _DETAIL.search(reading.text[max(0, mention.start - 25):mention.start])
            (details if detail else wanted)[mention.column] = mention.value
        return {**details, **wanted}

    def _answer(self, reading: _Reading, state: DialogueState, has_upload: bool) -> SearchIntent:
        """A question about a shown result, the current item or the photo."""
        index = _resolve_index(reading.indices[-1], state) if reading.indices else None
        reference = "result" if index is not None else "upload" if has_upload else "current"
        return SearchIntent(action="answer", reference=reference, result_index=index,
                            question=self._asked_column(reading))

    def _asked_column(self, reading: _Reading) -> str:
        """The attribute asked about: a column word ("what colour"), an aspect that may have no
        column ("how much", "what material"), the column of a value named in a yes/no question
        ("is it red?"), or the noun asked about ("what season is it for?"), which the answer
        looks up among the catalogue's columns."""
        aspect = moves.aspect_asked(reading.text) or ("length" if moves.LENGTH_WORDS.search(reading.text) else "")
        if aspect in ("price", "service"):  # "how much is the blue one?", "can i return the red one?"
            return aspect
        # "who makes it": a role word inside an aspect's phrase asks the aspect
        phrases = [m.span() for pattern in moves.ASPECTS_ASKED.values() for m in pattern.finditer(reading.text)]
        for word in re.finditer(r"[a-z]+", reading.text):
            skipped = _inside(word.span(), reading.removed) or (aspect and _inside(word.span(), phrases))
            column = None if skipped else self.matcher.column(word.group())
            if column:
                return column
        if aspect:
            return aspect
        if reading.mentions:
            return reading.mentions[0].column
        noun = _ASKED_NOUN.search(reading.text)
        if noun is None or noun.group(1) in _NOT_ASKED or _overlaps(noun.span(1), reading.removed):
            return self._asked_quality(reading)
        return noun.group(1)

    def _asked_quality(self, reading: _Reading) -> str:
        """What a yes/no question says of the item ("is it comfy?": "comfy"): the column of a
        value it names that no mention reads ("casual", an occasion said bare), else the words,
        which the answer looks up and otherwise says the catalogue does not record; "" when the
        message is no such question or its words are chat ("is it nice?")."""
        yes_no = _YES_NO.match(reading.text)
        if yes_no is None or _overlaps(yes_no.span(1), reading.removed):
            return ""
        quality = yes_no.group(1)
        return next((c for c in self.matcher.columns if self.matcher.value(c, quality)), quality)


def _points_elsewhere(indices: list[int], state: DialogueState) -> bool:
    """Whether the message names a shown result other than the item on screen: "which colours
    does #2 come in?" asks about #2, whose colour the reader does not know, so the current
    item's colour is not the one to leave out."""
    return any(state.result_id(i) is not None and i != state.reference_number() for i in indices)


def small_talk_kind(message: str) -> str:
    """The kind of small talk a message is ("thanks", "greeting", ...), or "" for none; for
    readers that know a turn is small talk but not which kind."""
    text = _clean(message)
    return next((kind for kind, pattern in _SMALLTALK.items() if pattern.search(text)), "")


def _without_small_talk(text: str) -> str:
    """The message without its English chat ("perfect, thx"), which lingua takes for another
    language when little else is said."""
    for pattern in _SMALLTALK.values():
        text = pattern.sub(" ", text)
    return text


def _clean(message: object) -> str:
    """Lower-cased, normalised, single-spaced text of at most MAX_MESSAGE_CHARS, its chat
    spellings as the patterns spell them ("wht abt" -> "what about")."""
    text = unicodedata.normalize("NFKC", message if isinstance(message, str) else "")
    text = text[:MAX_MESSAGE_CHARS].replace("\u2019", "'").replace("\u2018", "'")
    text = "".join(c if c.isprintable() else " " for c in text)
    text = re.sub(r"\s+", " ", text).strip().lower()
    return _CHAT_WORD.sub(lambda m: _CHAT_SPELLINGS[m.group()], text)


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


def _of_a_part(text: str, mention: Mention, kinds: list[int], removed: list[tuple[int, int]]) -> bool:
    """Whether a colour is said of a part of the item ("red buttons", "the logo in red"), not of
    the item: a small part's word right after it but no kind after that ("red button shirts" are
    red), or a part word before it that is not negated ("without stripes in red" is red)."""
    after = _PART_AFTER.match(text, mention.end)
    if after and not any(after.end() < start <= after.end() + 1 for start in kinds):
        return True
    before = _PART_BEFORE.search(text, 0, mention.start)
    return bool(before) and not _overlaps(before.span(), removed)


def _describes_current(text: str, wanted: dict[str, str], kinds: tuple[str, ...]) -> bool:
    """Whether a message naming a kind describes the item under discussion rather than asking
    for a new one: "the loose fitting shirt is aqua in color", "shirt tail hem" (a kind and
    nothing else, with no request in it), as crowd captions and feedback do."""
    if _REQUEST_CUE.search(text):
        return False
    return bool(_DESCRIBING.match(text)) or all(column in kinds for column in wanted)


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
        if end is None and (word.group() in _NEGATION_FILLER or word.group() == "for"):  # "not for the office"
            last = cue.end() + word.end()
            continue
        if word.group() in _NEGATION_END:
            break
        last = end = cue.end() + word.end()
        words += 1
        if words >= 4:
            break
    return (cue.start(), cue.end(), end) if end else None


def _complaint_after(text: str, mention: Mention) -> int | None:
    """Where the clause of a mentioned value ends when it complains about it ("heels hurt",
    "the black is too dark"); None when it makes no complaint. The caller avoids the
    value only where it is a colour or the message wants another value of its column: "the
    dress is too short" still wants a dress."""
    clause = _CLAUSE_END.search(text, mention.end)
    end = clause.start() if clause else len(text)
    return end if _COMPLAINT.search(text, mention.end, end) else None


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
    """A question about something shown (not a request phrased as a question, nor a complaint
    with a wish: "that's way too bright, maybe navy?")."""
    text = reading.text
    asks = (text.endswith("?") or _QUESTION_START.search(text)) and not moves.TOO.search(text)
    about = reading.indices or reading.pointer or re.search(r"\btell\s+me\b", text)
    # "what sizes does #3 come in?": asking after what no value names is a question, not a request
    unheld = moves.aspect_asked(text) and not reading.mentions
    details = _DETAILS_ASKED.search(text) and (reading.indices or reading.pointer) and not reading.mentions
    return bool(details or asks and about and (unheld or not _REQUEST.search(text)))


def _asks_about_an_aspect(reading: _Reading) -> bool:
    """"how long is delivery?", "is it on sale?": a question about what the catalogue may not
    record, asked of no result in particular, is answered (about the current item), not searched;
    so is any message about the shop's service ("is there free delivery", "can i return it")."""
    text = reading.text
    service = moves.SERVICE_WORDS.search(text)
    if not moves.aspect_asked(text) or reading.mentions and not (service and _ASKS.search(text)):
        return False  # "can i return the red one?" asks; "red heels with free delivery" is searched
    asks = (text.endswith("?") or _QUESTION_START.search(text)) and not _REQUEST.search(text)
    return bool(asks or service)


def _describe(reading: _Reading, respelt: list[Mention] = ()) -> str:
    """The free-text target: the message minus references, negations, commands and filler, with
    the `respelt` mentions (misspelt values: "bleu") in the catalogue's spelling, which the
    encoder knows."""
    edits = sorted([(s, e, "") for s, e in reading.removed]
                   + [(m.start, m.end, m.value.lower()) for m in respelt if not _overlaps((m.start, m.end), reading.removed)])
    kept, last = [], 0
    for start, end, replacement in edits:
        kept.append(reading.text[last:start] + replacement)
        last = max(last, end)
    kept.append(reading.text[last:])
    text = re.sub(r"\s+", " ", " ".join(kept))
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,.;:!?])[\s,.;:!?]+", r"\1 ", text)
    return without_filler(text)[:MAX_DESCRIPTION_CHARS]


