"""Text helpers shared by the readers and the replies: what of a phrase describes the product.

`without_filler` strips the words around a request that describe nothing ("can you show me",
"please", "maybe"): the rules search what is left, the LLM reader's grounding checks whether
a search's text still says anything, and the replies quote it only where it does.
"""

from __future__ import annotations

import re

# Leading words that carry no description ("I'm after a ...", "can you show me some ...").
_LEAD_FILLER = re.compile(
    r"^(?:(?:so\s+much|a\s+lot|hi|hello|hey|ok(?:ay)?|so|well|and|also|now|then|but|maybe|"
    r"perhaps|please|pls|plz|just|yes|yeah|yep|no|nah|nope|great|cool|nice|perfect|lovely|awesome|good|fine|"
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
    r"|let'?s|let\s+us"
    r"|(?:a|an|the|some|any|something|anything|one|ones|like|in|more)\b)[\s,.;:!?-]*")
_TRAIL_FILLER = re.compile(r"[\s,.;:!?-]*\b(?:please|pls|plz|thanks|thank\s+you|instead|then|too|again|since|because|as|"
                           r"and|or|but|in|for|with|like|maybe|perhaps|my|our|your|their|the|a|an|of|to)$")


def without_filler(text: str) -> str:
    """`text` without the leading and trailing words that describe nothing ("can you show me",
    "maybe", "please"); "" when no word is left."""
    text = text.strip(" ,.;:!?-")
    previous = None
    while previous != text:
        previous = text
        text = _LEAD_FILLER.sub("", text, count=1).strip(" ,.;:!?-")
        text = _TRAIL_FILLER.sub("", text).strip(" ,.;:!?-")
    return text if re.search(r"[^\W\d_]{2}", text) else ""
