"""Text helpers shared by the readers, the assistant and the replies: what of a phrase
describes the product.

`without_filler` strips the words around a request that describe nothing ("can you show me",
"please", "maybe"): the rules search what is left, and the replies quote a search's text only
where it says more. `text_left` keeps a search's text true to the latest turn.
"""

from __future__ import annotations

import re

from chat import moves
from chat.intent import SearchIntent
from retrieval.vocabulary import Mention, VocabularyMatcher, without_mentions

# Leading words that carry no description ("I'm after a ...", "can you show me some ...").
_LEAD_FILLER = re.compile(
    r"^(?:(?:so\s+much|a\s+lot|hi|hello|hey|ok(?:ay)?|so|well|and|also|now|then|but|maybe|"
    r"perhaps|please|pls|plz|just|yes|yeah|yep|no|nah|nope|great|cool|nice|perfect|lovely|awesome|good|fine|"
    r"sure|oh|um+|hm+|uh+|ugh|meh|erm+|eh|idk|dunno|oops|sorry|possibly|actually|instead|there|thanks|thank\s+you|wow|lol|either)\b"
    r"|i\s+(?:said|meant|mean)\b|(?:i\s+was|i'?m)\s+wondering\s+if\b"
    r"|(?:what|how)\s+about\b|(?:(?:go(?:ing)?|take\s+(?:me|us)|bring\s+(?:me|us))\s+)?back\s+to\b|(?:make|change|turn|switch)"
    r"(?:\s+(?:it|that|this|them|these|those))?"
    r"(?:\s+(?:to|into))?\b|help\s+me(?:\s+(?:find|choose|pick|get))?\b"
    r"|(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:after|looking\s+for|searching\s+for|hunting\s+for|"
    r"shopping\s+for|trying\s+to\s+find|in\s+the\s+market\s+for)\b"
    r"|(?:i'?d|i\s+would|we'?d)\s+(?:like|love|prefer)(?:\s+to\s+(?:see|find|buy|get|have))?\b"
    r"|(?:(?:i|we)\s+(?:(?:actually|really|just|also|still|now|do)\s+)?)?(?:want|need|like|prefer)(?:\s+to\s+(?:see|find|buy|get|have))?\b"
    r"|(?:she|he|they)\s+(?:(?:really|also|usually|always)\s+)?(?:likes?|loves?|wants?|needs?|prefers?|wears?)\b"
    r"|(?:can|could|would|will)\s+(?:you|u|i|we)(?:\s+please)?(?:\s+(?:show|find|get|see|have|"
    r"search\s+for|look\s+for|give))?(?:\s+(?:me|us))?\b"
    r"|(?:show|find|get|give|search\s+for|look\s+for|looking\s+for|searching\s+for|search|"
    r"see)(?:\s+(?:me|us))?\b"
    r"|(?:(?:do|have)\s+)?(?:you|u)\s+(?:have|got|sell|stock)(?:\s+any)?\b|(?:any\s+)?chance(?:\s+of)?\b"
    r"|(?:(?:what|how)\s+)?(?:would|will|does|do)\s+(?:(?:it|this|they|that)\s+)?(?:work|look(?:\s+(?:good|nice|ok|okay))?)(?:\s+like)?\b"
    r"|what\s+if(?:\s+(?:it|they))?\s+(?:was|were|is|came)\b|do(?=\s+in\b)"
    r"|let'?s|let\s+us|got(?:\s+(?:it|this|that|one|any|them))?|(?:a\s+)?(?:bit|little|tad)|only|combine|mix"
    r"|(?:would|will|is|are)\s+(?:it|this|they|that)?\s*(?:be\s+)?(?:available|come)"
    r"|(?:do|does)\s+(?:(?:it|they|this|these|those|them)\s+)?come(?:\s+in)?|available|(?:is|are)\s+there(?:\s+(?:any|one|some))?"
    r"|i'?d\s+rather(?:\s+have)?|rather\s+have|i'?d\s+have|(?:i'?ll|i\s+will)\s+(?:take|have|go\s+(?:for|with)|get)"
    r"|what\s+(?:does|do)"
    r"|what'?s|whats|what\s+is|things?\s+that\s+(?:are|is)"
    r"|(?:a|an|the|some|any|something|anything|one|ones|like|in|more|or|of|it|them)\b)[\s,.;:!?-]*")
_TRAIL_FILLER = re.compile(r"[\s,.;:!?-]*\b(?:please|pls|plz|thanks|thank\s+you|instead|then|too|again|since|because|as|though|tho|"
                           r"is\s+(?:ok|okay|fine|good)|works|(?:does|do)\s+(?:it|they)\s+come\s+in|come\s+in|available|"
                           r"and|or|but|in|for|with|like|maybe|perhaps|my|our|your|their|the|a|an|of|to)$")


# Words that describe no product: pronouns, auxiliaries, determiners, prepositions and chat.
# Text made of these only ("i'm ... anymore", "same thing", "is there one") is no search.
_FUNCTION_WORDS = frozenset("""
    i im ive id ill me my mine we us our you your youre it its they them their this that these those
    one ones thing things stuff option options something anything everything nothing
    am is are was were be been being do does did dont doesnt have has had get got can could would will
    should might must shall may
    a an the some any another other others same such so very really quite just only also too either
    and or but if then than as of in on at by for from to with without about into over again anymore
    there here now still yet already ever not no yes ok okay please thanks hmm well else instead
    similar different what which who how when where why all both each more most much many few
    tbh ngl imo honestly lol asked said meant wanted
""".split())


def without_filler(text: str) -> str:
    """`text` without the leading and trailing words that describe nothing ("can you show me",
    "maybe", "please"); "" when no word is left that could describe a product."""
    text = re.sub(r"^[^\w(]+|[^\w)]+$", "", text)  # punctuation and emoji around the words
    previous = None
    while previous != text:
        previous = text
        text = _LEAD_FILLER.sub("", text, count=1).strip(" ,.;:!?-")
        text = _TRAIL_FILLER.sub("", text).strip(" ,.;:!?-")
    words = [w.replace("'", "") for w in re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())]
    return text if any(len(w) > 1 and w not in _FUNCTION_WORDS for w in words) else ""


def text_left(description: str, intent: SearchIntent, matcher: VocabularyMatcher) -> str | None:
    """The search's free text without the values that `intent`, refining the search, sets
    otherwise, avoids or releases ("black slim jeans", then "make them blue": "slim jeans";
    then "any colour": "slim jeans"); "" when nothing but catalogue values and filler is left,
    None when the turn changes nothing the text names. Text must not go on searching for, or a
    reply quoting, what the shopper has changed: "for the kids" goes once the person is said,
    and "darker" (searched as words where no darker shade is known) once the colour is."""
    if intent.reference in ("none", "upload") or not description:
        return None  # a new search starts without the old text
    text = description.lower()
    mentions = matcher.find(text) + matcher.child_mentions(text) + _shade_words(text, matcher)
    avoided = {n.casefold() for n in intent.negatives}
    changed = [m for m in mentions if m.value.casefold() in avoided or m.column in intent.drop_attributes
               or intent.set_attributes.get(m.column, m.value).casefold() != m.value.casefold()]
    if not changed:
        return None
    if not without_filler(without_mentions(text, mentions)):
        return ""  # it said nothing but catalogue values ("women's jeans")
    return without_filler(without_mentions(text, changed))


def _shade_words(text: str, matcher: VocabularyMatcher) -> list[Mention]:
    """"darker", "a lighter shade": words about the colour, as mentions of the colour column
    with no value of their own, so that a turn setting or releasing the colour takes them out."""
    column = matcher.colour_column
    return [Mention(column, "", *match.span()) for match in moves.SHADE_SHIFT.finditer(text)] if column else []
