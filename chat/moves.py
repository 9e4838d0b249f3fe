"""The dialogue moves a shopper makes besides naming what they want: commands (undo, more,
compare, start over, remove a filter), aspects the catalogue may not record (price, size,
stock), numeric bounds ("under 50"), attributes borrowed from another result ("in the colour
of #2") and "another colour".

Each reader is a pure function of the cleaned, lower-cased message (and, where a move refers
to what is on screen, the dialogue state): it returns what it found and the character spans
it used, so that the rules reader leaves those words out of the searched text. The LLM reader
takes these moves from the rules (`chat.llm_reader`): they are closed-class phrasings that
patterns read exactly, and the fine-tuned model was never taught them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from chat.intent import Limit
from chat.state import DialogueState
from retrieval.vocabulary import Mention, VocabularyMatcher

Span = tuple[int, int]

_FILLER = (r"(?:(?:oh|ok(?:ay)?|hmm+|hm|um+|meh|no|nope|nah|oops|ugh|argh|eh|sorry|wait|actually|please|pls|"
           r"(?:can|could|may)\s+(?:you|we|i)|let'?s|let\s+me|i\s+want\s+to|i'?d\s+like\s+to|just|so|well|and|then|the|me|us)"
           r"\b[\s,.!?]*)*")
# What may follow a whole command: thanks, punctuation, emoji ("more pls 🙏").
_END = r"[\W_]*(?:(?:please|pls|plz|thanks|thank\s+you|thx|ty)\b)?[\W_]*$"
# A verdict before "go back" ("that's worse, go back"; "no that was better, undo").
_VERDICT = (r"(?:(?:that|this|it|those|these|they)(?:'s|'re|\s+(?:is|are|was|were|looks?))\s+(?:(?:way|much|even|so)\s+)?"
            r"(?:worse|wrong|bad|terrible|awful|better(?:\s+before)?|not\s+(?:it|right|what\s+i\s+(?:meant|wanted)))[\s,.!]+)?")
_EARLIER = r"(?:previous|prev|last|earlier|old|other|original)"

UNDO = re.compile(
    rf"^{_FILLER}{_VERDICT}{_FILLER}(?:undo(?:\s+(?:that|it|this|the\s+last(?:\s+(?:step|change|one))?))?(?:[\s,.!]+undo)*|"
    rf"return\s+to\s+(?:the\s+)?{_EARLIER}\s+(?:results?|ones|search|page)|"
    r"(?:go|going|step|take\s+(?:me|us))\s+back(?:\s+(?:one|a|1)(?:\s+(?:step|turn|search))?)?(?:\s+to\s+(?:the\s+)?"
    rf"{_EARLIER}\s+(?:results?|ones?|search|page|step))?|"
    r"back(?:\s+to\s+(?:the\s+)?(?:previous|last|earlier)\s+(?:results?|ones|search))?|"
    r"(?:show\s+(?:me\s+)?)?(?:the\s+)?(?:(?:last|earlier)\s+(?:results?|ones|search)|(?:previous|prev)(?:\s+(?:results?|ones|search))?)"
    r"(?:\s+again)?|"
    rf"(?:i\s+)?(?:preferred|liked)\s+(?:the\s+)?{_EARLIER}\s+(?:results?|ones|search)(?:\s+better)?|"
    rf"(?:the\s+)?(?:ones|results?)\s+(?:before|earlier)\s+(?:was|were)\s+better|"
    rf"(?:(?:can|could)\s+(?:i|we)\s+have|give\s+me|bring|i\s+want)\s+(?:the\s+)?{_EARLIER}\s+(?:results?|ones|search)\s+back|"
    rf"bring\s+back\s+(?:the\s+)?{_EARLIER}\s+(?:results?|ones|search)|"
    r"(?:show\s+(?:me\s+)?)?what\s+(?:i|we)\s+had\s+(?:before|earlier)|"
    r"revert(?:\s+(?:that|it))?|restore(?:\s+(?:that|it|the\s+last\s+ones))?|take\s+(?:that|it)\s+back|"
    r"put\s+it\s+back(?:\s+(?:how|the\s+way)\s+it\s+was)?|"
    r"(?:go\s+)?back\s+to\s+(?:what|how)\s+(?:we\s+had|it\s+was|they\s+were)(?:\s+before)?|"
    r"(?:that|it|those|the\s+last\s+ones?)\s+(?:was|were)\s+better(?:\s+before)?(?:,?\s+go\s+back)?)"
    rf"{_END}")
MORE = re.compile(
    rf"^{_FILLER}(?:(?:show|see|load|give|get)\s+(?:me\s+|us\s+)?(?:some\s+|a\s+few\s+)?more(?:\s+(?:results|options|of\s+(?:these|those|them)))?|"
    r"(?:some\s+|any\s+|a\s+few\s+|a\s+couple\s+(?:of\s+)?)?more(?:\s+(?:results|options|please))?|"
    r"next(?:\s+(?:page|results|ones|\d+))?|page\s+\d+|(?:gimme|give\s+me)\s+more|"
    r"(?:show\s+(?:me\s+)?|see\s+)?the\s+rest|(?:what\s+)?other\s+options(?:\s+are\s+there|\s+do\s+you\s+have)?|"
    r"(?:what|anything)\s+else(?:\s+(?:do\s+you\s+have|have\s+you\s+got|(?:have\s+)?(?:you|u)(?:'ve)?\s+got|is\s+there))?"
    r"(?:\s+(?:like\s+(?:this|these|that|those|them|it)|in\s+(?:this|that|the\s+same)\s+(?:style|vein)))?|"
    r"more\s+(?:like\s+(?:these|those|them)|of\s+(?:these|those|them)|in\s+(?:this|that|the\s+same)\s+style)|"
    r"(?:show\s+(?:me\s+)?)?(?:the\s+)?next\s+(?:page|results|ones|few|set|batch|lot|bunch)|keep\s+going|moar|"
    r"keep\s+(?:them|em|'em|those|these)\s+coming|(?:(?:show|see)\s+(?:me\s+)?)?(?:some\s+|any\s+)?other(?:s|\s+ones)|"
    r"(?:are\s+there\s+|(?:you\s+)?got\s+|do\s+you\s+have\s+)?(?:any\s+)?(?:more|others)(?:\s+like\s+(?:these|those|them))?)"
    rf"\??{_END}")
# "go back to the shoes", "the bags from before", "the shoes again": an earlier search, named by what it wanted.
BACK = re.compile(r"\bback\s+to\b|\b(?:from|you\s+showed(?:\s+me)?|(?:i|we)\s+(?:saw|had|looked\s+at))\s+"
                  r"(?:before|earlier|at\s+first)\b|\b(?:the\s+)?(?:earlier|previous)\s+(?=[a-z])|\bagain\b")
# The item on screen as what to match, not what to search from: "sandals to go with it".
MATCHED_POINTER = re.compile(r"\b(?:(?:to\s+)?(?:match|go\s+with)|goes\s+with|matching)\s+(?:it|this|that|them|these|those)\b")
# Before a kind that is what to match, not what is wanted: "in the same colour as the jeans", "to match my shoes".
MATCHED = re.compile(r"\b(?:same\s+(?:colou?r|shade)\s+as|(?:to\s+)?match(?:es|ing)?|to\s+go\s+with|goes\s+with)\s+"
                     r"(?:the|my|those|these|that|her|his)\s+$")
# "no, I meant the second one", "wrong one, the third": the last turn picked the wrong result.
CORRECTION = re.compile(r"\b(?:i\s+)?meant\b|\bi\s+mean\b|\bwrong\s+one\b")
# "a matching bag", "a belt to match", "shoes in the same colour": the next kind in the colour wanted now.
MATCHING = re.compile(r"\bmatching\b|\bto\s+(?:match|go\s+with)(?:\s+(?:it|this|that|them|these|those))?\b|"
                      r"\b(?:in\s+)?(?:the\s+)?same\s+(?:colou?r|shade)\b")
# "something else" / "another one": the current item is not it; show the next best instead.
SOMETHING_ELSE = re.compile(r"\b(?:something|anything)\s+else\b|\b(?:another|a\s+different)\s+(?:one|option|pick)\b|"
                            r"\banother\b(?=\s*(?:[,.!?]|please|$))|\bnot\s+keen\s+on\s+(?:this|that)(?:\s+one)?\b|"
                            r"\bdifferent\s+ones\b|\bnext\s+one\b")
# "what do you recommend?", "surprise me": the best of the current search, no words searched.
RECOMMEND = re.compile(r"\bwhat\s+(?:do|would|will|can|could)\s+(?:you|u)\s+(?:recommend|suggest|advise|pick)\b|"
                       r"\b(?:any|some|your)\s+(?:suggestions?|recommendations?|recs|ideas|tips)\b|\bsurprise\s+me\b|"
                       r"\b(?:recommend|suggest)\s+(?:me\s+)?(?:something|anything)\b|\bwhat'?s\s+your\s+(?:pick|favou?rite)\b")
_BETTER = r"(?:better|nicer|best|prettier|cuter|classier|worse|the\s+best)"
COMPARE = re.compile(r"\bcompare\b|\bcomparison\b|\b(?:vs\.?|versus)\b|\bdiff(?:erences?)?\s+between\b|"
                     r"\bhow\s+(?:do|does|are|is)\s+.{1,40}\s+(?:differ|different)\b|\bdifferent\s+from\s+#|"
                     rf"\bwhich\s+(?:one\s*)?(?:is|'s)\s+{_BETTER}\b|\b{_BETTER}\s+than\s+(?:the\s+)?(?:#|\d|number\b|"
                     r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last)\b)|"
                     r"\bwhich\s+(?:one\s+)?(?:would|should|do)\s+(?:you|i)\s+(?:pick|choose|recommend|go\s+for|get|prefer)\b|"
                     r"^(?:#\s*)?\d{1,2}\s+or\s+(?:#\s*)?\d{1,2}\s*\??$|\bside\s+by\s+side\b")
# Right after a comparison: "the other one", "the former", "the latter" name one of the results compared.
OTHER_COMPARED = re.compile(r"\bthe\s+(other|former|latter)(?:\s+(?:one|item|result|option|pick))?\b")
# The same said of no comparison: which result is meant is unclear ("the other colour" is no pick).
OTHER_PICK = re.compile(r"\bthe\s+(?:(?:former|latter)|other(?:\s+(?:one|item|result|option|pick)|(?=\s*(?:[,.!?]|$))))\b")
# A result said by where it sits on screen: "the one on the left", "top left one", "the middle one".
# The grid's width varies with the screen, so only the left (and top left) is surely #1 and the
# bottom right the last; any other place is asked about. "the right one" may mean the correct
# one, and is asked about too.
_SIDE = r"(?:left|right|middle|centre|center)"
_ROW = r"(?:top|bottom|upper|lower|first\s+row|last\s+row)"
POSITION = re.compile(
    rf"\b(?:on|at|in)\s+the\s+(?:(?:very|far)\s+)?(?:{_ROW}[\s-]+)?{_SIDE}\b(?!\s+of\b)"
    rf"|\b(?:{_ROW}[\s-]+)?{_SIDE}(?:[\s-]?most)?\s+(?:one|item|pic|picture|photo|option|result|product)\b"
    rf"|\b(?:{_ROW}[\s-]+)?(?:left|right)[\s-]?most\b|\b{_ROW}[\s-]+(?:left|right)\b")
_BARE_NUMBER = re.compile(r"(?<![\w$£€.])(\d{1,2})(?![\w.%]|\s*(?:\$|£|€|rs|inr|usd|eur|gbp|dollars?|pounds?|euros?)\b)")
_FIRST_N = re.compile(r"\b(?:the\s+)?(first|top|last|bottom)\s+(two|three|four|2|3|4)\b")
_COUNT = {"two": 2, "three": 3, "four": 4}

RESET = re.compile(
    r"\b(?:start(?:ing)?\s+(?:over|again|afresh|fresh|from\s+(?:the\s+beginning|scratch|zero))|new\s+(?:search|plan)|reset|"
    r"begin\s+again|(?:a\s+)?fresh\s+start|clean\s+slate|from\s+scratch|change\s+of\s+plans?|"
    r"(?:scrap|scratch|disregard)\s+(?:that|this|it|everything|all\s+(?:of\s+)?that)|"
    r"ignore\s+(?:everything|all\s+(?:of\s+)?(?:that|this)|what\s+i\s+said)(?:\s+(?:i\s+said|before|above|so\s+far|earlier))*|"
    r"clear\s+(?:all|everything|the\s+search|search)(?!\s+(?:the\s+|my\s+)?(?:filters|constraints|chips))|"
    r"forget\s+(?:it|that|this|everything|all\s+(?:of\s+)?(?:that|this)|(?:about\s+)?(?:all\s+)?(?:that|this|those|these)"
    r"(?:\s+ones)?|what\s+i\s+said)|"
    r"(?:something|anything)\s+(?:completely|totally|entirely)\s+different|"
    r"(?:never\s*mind|nvm)\s+(?:all\s+)?(?:that|this|those|these|everything)|(?:a\s+)?(?:different|new|other)\s+thing(?:\s+now)?|"
    r"(?:let'?s\s+)?try\s+something\s+(?:else|different)(?=\s*[:,-]))\b")

# "remove the colour filter", "drop red", "any gender", "colour doesn't matter".
_DROP_VERB = (r"(?:drop|remove|clear|lose|ignore|skip|delete|cancel|scrap|get\s+rid\s+of|take\s+(?:off|away|out)|"
              r"forget(?:\s+about)?|never\s*mind)")
DROPS = (
    re.compile(rf"\b{_DROP_VERB}\s+(?:the\s+|that\s+|my\s+)?([a-z][a-z ]*?)(?:\s+(?:filter|chip|constraint|bit|part|requirement))?\b"
               r"(?=\s*(?:[,.;!?]|$|and\b|but\b|please\b|then\b|filters?\b))"),
    re.compile(r"\b(?:any|whatever|every|all)\s+([a-z]+)\b(?!\s+of\b)"),
    re.compile(r"\b([a-z]+)\s+(?:doesn'?t|does\s+not|don'?t|do\s+not)\s+matter\b"),
    re.compile(r"\b([a-z]+)(?:\s+isn'?t|(?:'s|\s+is)?\s+not)\s+(?:important|a\s+must|needed|required|essential|"
               r"an?\s+(?:issue|problem)|a\s+(?:big\s+)?deal)\b"),
    re.compile(r"\b(?:do\s+not|don'?t)\s+(?:care|mind)\s+(?:about\s+|what\s+|which\s+)?(?:the\s+)?([a-z]+)\b"),
    re.compile(r"\bno\s+([a-z]+)\s+preference\b"),
    re.compile(r"\b(?:(?:doesn'?t|does\s+not|don'?t|do\s+not)\s+(?:have|need)\s+to\s+be|needn'?t\s+be|not\s+necessarily)\s+(?:for\s+|in\s+|an?\s+)?([a-z]+(?:\s+[a-z]+)?)\b"),
    re.compile(r"\bnot\s+(?:fussed|bothered|picky)\s+(?:about|on)\s+(?:the\s+)?([a-z]+)\b"),
)
ALL_FILTERS = re.compile(rf"\b{_DROP_VERB}\s+(?:all\s+(?:the\s+|my\s+)?|the\s+|my\s+)?(?:filters|constraints|chips)\b|"
                         r"\bno\s+filters\b|\bwithout\s+(?:any\s+)?filters\b")
# "in another colour", "a different type", "what colours does it come in?": leave the current
# value out, say nothing new.
ANOTHER = re.compile(r"\b(?:(?:in\s+)?(?:(?:some|any|an|a)\s+)?(?:other|another|different|diff|alternative|new|wrong)\s+|"
                     r"(?:what|which)\s+(?=colou?rs?\s+(?:does|do|is|are)\s+(?:it|this|that|they|these|those|the\s+\w+)"
                     r"(?:\s+one)?\s+(?:come|available)))(colou?rs?|shades?|types?|kinds?|genders?)(?:ways?)?\b")

# "too bright", "it's a bit too formal", "hmm, these are way too girly for me": a complaint about
# what is on screen that names no value (one naming it, "the black is too dark", is the rules').
TOO = re.compile(r"(?:^|[,.;!?]\s*)(?:(?:hmm+|hm|meh|ugh|nah|no|nope|um+|oh|ok(?:ay)?|but|and|well|honestly)[\s,.!]+)*"
                 r"(?:(?:it|this|that|these|those|they)(?:\s+ones?)?(?:'s|'re|\s+(?:is|are|looks?|seems?|feels?|was|were))\s+)?"
                 r"(?:(?:a|bit|little|tad|way|far|much|just|really|kinda|slightly|so|rather|quite)\s+)*too\s+([a-z]+)"
                 r"(?:\s+for\s+(?:me|us|my\s+(?:taste|liking)))?(?:\s+(?:tbh|imo|honestly|ngl|lol))?(?=\s*(?:[,.;!?]|$))")
# "a bit darker", "in a lighter shade": the current colour's darker or lighter neighbour.
SHADE_SHIFT = re.compile(r"\b(?:(?:a\s+)?(?:bit|little|tad|touch|slightly|much|way|lot)\s+)?(darker|deeper|lighter|paler)\b"
                         r"(?:\s+(?:shades?|colou?rs?|tones?|versions?|ones?))?")
# Complaints about how the colour looks: the current colour is avoided too, as in "the black is too dark".
COLOUR_QUALITIES = frozenset({"bright", "dark", "light", "pale", "dull", "loud", "garish", "neon", "vivid", "bold",
                              "flashy", "colourful", "colorful", "drab", "muted", "washed"})
_NOT_QUALITIES = frozenset({"much", "many", "far", "late", "early", "soon"})


# Aspects a shopper asks about or for that a fashion catalogue may not record. A catalogue
# column with the aspect's name answers it (`chat.catalog_facts`); otherwise the reply says
# it is not recorded and the words are not searched.
PRICE_WORDS = re.compile(r"\b(?:cheap(?:er|est)?|less\s+expensive|more\s+affordable|affordable|inexpensive|budget|"
                         r"bargain|on\s+sale|discount(?:ed)?|lower\s+price[sd]?|low[\s-]cost|not\s+(?:too|so)\s+expensive|"
                         r"(?:(?:way|far|much|a\s+bit|bit)\s+)?too\s+(?:expensive|pricey|costly|dear)|costs?\s+too\s+much)\b")
PRICEY_WORDS = re.compile(r"\b(?:more\s+expensive|pricier|premium|high[\s-]end|luxury|luxurious|designer)\b")
_AMOUNT = r"(?:[$£€]|rs\.?\s*|inr\s*|usd\s*)?\s*(\d+(?:[.,]\d+)?)\s*(?:[$£€]|dollars?|pounds?|euros?|bucks|rs|rupees|inr|usd)?"
AT_MOST = re.compile(rf"\b(?:under|below|less\s+than|cheaper\s+than|max(?:imum)?|up\s+to|within|no\s+more\s+than|at\s+most|"
                     rf"not\s+over|not\s+more\s+than|budget\s+(?:of|is)|for\s+less\s+than)\s+{_AMOUNT}")
AT_LEAST = re.compile(rf"\b(?:over|above|more\s+than|at\s+least|min(?:imum)?|pricier\s+than)\s+{_AMOUNT}")
BETWEEN = re.compile(rf"\bbetween\s+{_AMOUNT}\s+and\s+{_AMOUNT}")
PRICE_QUESTION = re.compile(r"\bhow\s+much\b|\bprice[sd]?\b|\bcosts?\b|\bexpensive\b|\bcheap\b|\bworth\b|"
                            r"\bon\s+sale\b|\bdiscount(?:s|ed)?\b|\boffers?\b")
SIZE_WORDS = re.compile(r"\bsizes?\b|\bsizing\b|\bruns?\s+(?:small|large|big|narrow|wide)\b|"
                        r"\b(?:(?:a|bit|little|tad|way|far|much|really|so|kinda|slightly)\s+)*too\s+(?:big|small|large|tight|loose|baggy|snug)\b|\bxx?s\b|\bxx{0,2}l\b|\bplus[\s-]size\b|\bpetite\b|\bin\s+my\s+size\b|"
                        r"\bsize\s+\d+\b|\buk\s+\d+\b|\beu\s+\d+\b|\bus\s+\d+\b|"
                        r"\bin\s+(?:an?\s+)?(?:(?:extra|x)[\s-]?)?(?:small|medium|large)\b(?!\s+(?:size|bag|print|check|pattern|logo))")
# The shop's service, never a product's attribute: a message about it asks, whatever its words.
SERVICE_WORDS = re.compile(r"\b(?:free\s+)?deliver(?:y|ed|s)?\b|\b(?:free\s+)?ship(?:s|ping|ped)?\b|\bdispatch(?:ed)?\b|\barriv(?:e|es|al)\b|"
                           r"\breturns?\s+policy\b|\b(?:return|exchange)(?:able|\s+(?:it|them|this|these|those|the\s+[a-z]+(?:\s+ones?)?|#\s*\d+))\b|"
                           r"\brefunds?\b")
STOCK_WORDS = re.compile(r"\bin\s+stock\b|\bout\s+of\s+stock\b|\bstock\b|\bsold\s+out\b|\bavailab(?:le|ility)\b(?!\s+in\b)")
MATERIAL_WORDS = re.compile(r"\bmaterials?\b|\bfabrics?\b|\bmade\s+(?:of|from|out\s+of)\b|\bwhat\s+is\s+it\s+made\b|"
                            r"\bcotton\b|\bleather\b|\bsilk\b|\bwool(?:len)?\b|\blinen\b|\bpolyester\b|\bsynthetic\b|\bwaterproof\b")
BRAND_WORDS = re.compile(r"\bbrands?\b|\bmake\b(?=\s+is\b)|\bwho\s+makes\b|\bmanufacturer\b|\blabel\b")
# Sleeve and hem lengths: the catalogue records neither (no column; of its 11,242 titles none says
# "full sleeve" or "long sleeve", 5 "short sleeve", 3 "sleeveless"), so the encoder never learnt
# them either: searched as words they only blurred the search and stuck to later turns. Not an
# aspect asked about: "is longer and darker" describes (crowd captions); "does it have long
# sleeves?" is answered as any quality the catalogue does not record.
LENGTH_WORDS = re.compile(r"\b(?:long(?:er)?|short(?:er)?|full|half|three[\s-]quarter|3/4|elbow|cap|no)[\s-]*sleeve[sd]?\b|"
                          r"\bsleeveless\b|\b(?:longer|shorter)\b(?:\s+(?:ones?|length|hems?|cut|version))?|"
                          r"\b(?:knee|ankle|floor|mid[\s-]?calf|calf|full)[\s-]+length\b|\b(?:maxi|midi)\b")
# The service first: "is delivery expensive?" asks about delivery, not a price.
ASPECTS_ASKED = {"service": SERVICE_WORDS, "price": PRICE_QUESTION, "size": SIZE_WORDS, "stock": STOCK_WORDS,
                 "material": MATERIAL_WORDS, "brand": BRAND_WORDS}
# In a request only these are read as aspects: material words there describe the look ("a
# leather jacket"), and are searched as words.
ASPECTS_WANTED = {"size": SIZE_WORDS, "stock": STOCK_WORDS, "service": SERVICE_WORDS, "length": LENGTH_WORDS}

# "the colour of #2", "#2's colour", "in the colour of the second one", "the style of #4".
_REF = (r"(?:#\s*\d{1,2}|(?:number|no\.?|result|item|option|product|pic|picture|photo)\s*#?\s*\d{1,2}|"
        r"(?:the\s+)?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|last|"
        r"\d{1,2}(?:st|nd|rd|th))(?:\s+(?:one|item|result|product|option|pic|picture|photo|look))?|"
        r"(?:this|that|it|my\s+photo|the\s+photo|my\s+picture|the\s+picture|the\s+one\s+i\s+(?:picked|chose|clicked)))")
_ASPECT = r"(colou?r|shade|hue|tone|type|kind|category|gender|style|look|shape|design|cut|silhouette|model|vibe|feel)"
_NUMBERED = re.compile(r"#\s*\d{1,2}|\b(?:number|no\.?|result|item|option)\s*#?\s*\d{1,2}\b|\b(?:the\s+)?(?:first|second|"
                       r"third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|last|\d{1,2}(?:st|nd|rd|th))"
                       r"\s+(?:one|item|result|product|option|pic|picture|photo|look)\b")
ASPECT_OF = re.compile(rf"\b(?:the\s+|same\s+)?{_ASPECT}\s+(?:of|from|as)\s+(?:the\s+)?({_REF}|\d{{1,2}}\b)")
REF_ASPECT = re.compile(rf"({_REF}|(?<![\w.$£€])\d{{1,2}}(?='s\b))'?s\s+{_ASPECT}\b")  # "#2's colour", "2's colour"
_LIKE_BARE = re.compile(r"\blike\s+(\d{1,2})\b(?![.,]\d|\s*(?:%|\$|£|€))")  # "like 4 but in 2's colour"
LOOK_WORDS = frozenset({"style", "look", "shape", "design", "cut", "silhouette", "model", "vibe", "feel"})
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
             "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12}


# Results listed together: "#1 and #2", "numbers 2, 4 or 5", "show 2 and 4".
_LISTED_REF = r"(?:#\s*|(?:numbers?|nos?\.?|results?|items?|options?)\s*#?\s*)?\d{1,2}(?![\w.%$£€])"
RESULT_LIST = re.compile(rf"(?P<cue>\b(?:show|see|pick|take|like|love|want|get|both|either|between)\s+(?:me\s+|us\s+)?)?"
                         rf"(?<![\w.$£€])(?P<list>{_LISTED_REF}(?:\s*(?:,|&|/|\band\b|\bor\b|\bplus\b)\s*{_LISTED_REF})+)")
# Between values of one column said as alternatives: "red or blue", "red, blue or green", "blue/green".
_OR_FILLER = r"maybe|perhaps|even|else|an?|some"
_OR = re.compile(rf"\s*,?\s*(?:or|/)\s*(?:(?:{_OR_FILLER})\s+)*")
_COMMA = re.compile(r"\s*,\s*")
# Between kinds wanted both: "a dress and some heels", "shirts plus ties".
_AND_FILLER = r"also|an?|some|the|maybe|perhaps|matching|then"
_AND = re.compile(rf"\s*,?\s*(?:and|plus|&|as\s+well\s+as)\s+(?:(?:{_AND_FILLER})\s+)*")
# Either link as it ends right before a listed value, so the reader can leave it out of the text
# with the value ("red or blue dresses": " or blue"); words of other columns before it stay.
LINK_BEFORE = re.compile(rf"(?:\s*,)?\s*(?:\b(?:or|and|plus|as\s+well\s+as)\b|/|&)?\s*(?:\b(?:{_OR_FILLER}|{_AND_FILLER})\s+)*$")


# The column names a catalogue may give an aspect.
ASPECT_NAMES = {
    "price": ("price", "mrp", "cost", "amount", "selling price", "sale price"),
    "material": ("material", "fabric", "composition"),
    "size": ("size", "sizes"),
    "stock": ("stock", "in stock", "availability", "inventory", "quantity"),
    "brand": ("brand", "brand name", "make", "manufacturer", "label"),
    "length": ("length", "sleeve", "sleeves", "sleeve length"),
}


@dataclass
class Borrowed:
    """Attributes taken from shown results, and which result gives the look (None: the current
    item, or the photo sent with the message)."""

    take_from: dict[str, int] = field(default_factory=dict)
    look: int | None = None
    spans: list[Span] = field(default_factory=list)


def command(text: str) -> str | None:
    """"undo" or "more" when the whole message is that command, else None."""
    if UNDO.match(text):
        return "undo"
    if MORE.match(text):
        return "more"
    return None


def compared_results(text: str, state: DialogueState) -> tuple[int, ...] | None:
    """The result numbers a "compare" message sets side by side (() when it names too few), or
    None when the message is no comparison."""
    if not COMPARE.search(text) or not state.results:
        return None
    first_n = _FIRST_N.search(text)
    if first_n:  # "the first two", "the last three"
        count = min(_COUNT.get(first_n.group(2)) or int(first_n.group(2)), len(state.results))
        start = len(state.results) - count + 1 if first_n.group(1) in ("last", "bottom") else 1
        return tuple(range(start, start + count))
    numbers = [result_number(m.group(0), state) for m in re.finditer(_REF, text)]
    numbers += [int(m.group(1)) for m in _BARE_NUMBER.finditer(text)]
    found = tuple(dict.fromkeys(n for n in numbers if n and 1 <= n <= len(state.results)))
    return found if len(found) >= 2 else ()


def compared_picks(text: str, state: DialogueState, named: Sequence[int]) -> list[tuple[Span, int | None]]:
    """Results named by their place in the comparison just made: "the former", "the latter", and
    "the other one", the compared result that is neither the item on screen nor one of `named`
    (the results the message names otherwise), where exactly one is. With no comparison just
    made, or where it could mean either, such a phrase comes back with None: which result it
    means is to be asked."""
    compared = state.compared_numbers()
    if len(compared) < 2:
        return [(m.span(), None) for m in OTHER_PICK.finditer(text)]
    left = [n for n in compared if n not in named and n != state.reference_number()]
    picks = []
    for match in OTHER_COMPARED.finditer(text):
        number = {"former": compared[0], "latter": compared[-1]}.get(match.group(1), left[0] if len(left) == 1 else None)
        picks.append((match.span(), number))
    return picks


def position_number(place: str, state: DialogueState) -> int | None:
    """The result a place on screen surely names, whatever the grid's width: the left or top
    left is #1, the bottom right the last; None for any other place."""
    words = set(re.findall(r"[a-z]+", place.replace("most", " ")))
    if "left" in words and not words & {"bottom", "lower", "last"}:
        return 1
    if "right" in words and words & {"bottom", "lower", "last"} and state.results:
        return len(state.results)
    return None


def in_comparison(number: int, state: DialogueState) -> int:
    """A result said by its place right after a comparison counts among the results compared:
    after "compare 2 and 5", "the second one" is #5 and "the first one" #2; -1 is "the last"."""
    compared = state.compared_numbers()
    if len(compared) < 2 or not (number == -1 or 1 <= number <= len(compared)):
        return number
    return compared[number - 1] if number > 0 else compared[-1]


def result_number(phrase: str, state: DialogueState) -> int | None:
    """The 1-based result a reference phrase names: "#3", "the second one", "last", "this"
    (the current item, when it is shown)."""
    phrase = phrase.strip()
    digits = re.search(r"\d{1,2}", phrase)
    if digits:
        return int(digits.group())
    if re.search(r"\blast\b", phrase):
        return len(state.results) or None
    word = next((w for w in re.findall(r"[a-z]+", phrase) if w in _ORDINALS), None)
    if word:
        return _ORDINALS[word]
    return state.reference_number()


def borrowed(text: str, state: DialogueState, matcher: VocabularyMatcher) -> Borrowed:
    """"the colour of #2 with the style of #4": the colour from result 2, the look (the image
    searched from, and its kind) from result 4. A result named without an aspect ("like #1 but
    in #3's colour") is the look. Nothing when the message borrows no attribute."""
    found = Borrowed()
    pairs = [(m.group(1), m.group(2), m.span()) for m in ASPECT_OF.finditer(text)]
    pairs += [(m.group(2), m.group(1), m.span()) for m in REF_ASPECT.finditer(text)]
    attributes = [(a, r, s) for a, r, s in pairs if a not in LOOK_WORDS]
    if not attributes:
        return found
    for aspect, ref, span in pairs:
        number = result_number(ref, state) if not re.search(r"photo|picture", ref) else None
        found.spans.append(span)
        if aspect in LOOK_WORDS:
            found.look = number
            continue
        column = matcher.column(aspect)
        if column and number:
            found.take_from[column] = number
    if found.look is None:  # "like #1 but in #3's colour": the result named bare is the look
        taken = set(found.take_from.values())
        bare = [result_number(m.group(0), state) for m in [*re.finditer(_NUMBERED, text), *_LIKE_BARE.finditer(text)]
                if not any(s <= m.start() < e for s, e in found.spans)]
        found.look = next((n for n in bare if n and n not in taken), None)
    if found.look is not None and state.result_id(found.look) is not None:
        for column in matcher.kind_columns[:1]:
            found.take_from.setdefault(column, found.look)
    return found


def listed(text: str, mentions: Sequence[Mention], kinds: Sequence[str]) -> list[tuple[Mention, ...]]:
    """Values of one column said as a list of wishes, in the order said: alternatives joined by
    "or" ("red or blue", "red, blue or green"), and kinds joined by "and" too ("a dress and some
    heels"); words of other columns between them do not count ("red shirts or blue ones"). A
    search holds one value a column, so the readers search the first and the reply names the
    rest. Colours joined by "and" are one item's ("a black and white shirt"): no list."""
    blanked = _blanked(text, mentions)
    lists = []
    for column in dict.fromkeys(m.column for m in mentions):
        found = [m for m in mentions if m.column == column]
        run, joined = [found[0]], False
        for before, after in zip(found, found[1:]):
            gap = blanked[before.end:after.start]
            link = _OR.fullmatch(gap) or (column in kinds and _AND.fullmatch(gap))
            if link or _COMMA.fullmatch(gap):
                run.append(after)
                joined = joined or bool(link)
                continue
            lists += [tuple(run)] if joined else []
            run, joined = [after], False
        lists += [tuple(run)] if joined else []
    return [values for values in lists if len({m.value for m in values}) > 1]


RESULTS = "#"  # the key of shown results in a reply's listed values ("#1 and #2": "#2")


def listed_results(text: str, state: DialogueState) -> tuple[Span, tuple[int, ...]] | None:
    """Shown results said as a list to start from ("#1 and #2 in white", "show 2 and 4 but for
    men"): the list's span and its numbers in the order said, or None. A search starts from one
    result, so the readers start from the first and the reply says how to see the others. Bare
    numbers count only after a word that picks results ("show 2 and 4"): "2 or 3 colours" is none."""
    for match in RESULT_LIST.finditer(text):
        numbers = tuple(dict.fromkeys(int(n) for n in re.findall(r"\d{1,2}", match.group("list"))))
        marked = match.group("cue") or re.search(r"#|\b(?:numbers?|nos?|results?|items?|options?)\b", match.group("list"))
        if marked and len(numbers) > 1 and all(1 <= n <= len(state.results) for n in numbers):
            return match.span("list"), numbers
    return None


def _blanked(text: str, mentions: Sequence[Mention]) -> str:
    """`text` with each mention's words as spaces, keeping every offset."""
    for mention in mentions:
        text = text[:mention.start] + " " * (mention.end - mention.start) + text[mention.end:]
    return text


def limits(text: str) -> tuple[dict[str, Limit], list[Span]]:
    """Price wishes: "cheaper" (below the current item), "under 50", "between 20 and 40"."""
    spans: list[Span] = []
    at_most = at_least = None
    for match in BETWEEN.finditer(text):
        low, high = sorted((_number(match.group(1)), _number(match.group(2))))
        at_least, at_most = low, high
        spans.append(match.span())
    for pattern, is_max in ((AT_MOST, True), (AT_LEAST, False)):
        for match in pattern.finditer(text):
            if any(s <= match.start() < e for s, e in spans):
                continue
            if is_max:
                at_most = _number(match.group(1))
            else:
                at_least = _number(match.group(1))
            spans.append(match.span())
    relative = ""
    for pattern, direction in ((PRICE_WORDS, "lower"), (PRICEY_WORDS, "higher")):
        for match in pattern.finditer(text):
            relative = relative or direction
            spans.append(match.span())
    if at_most is None and at_least is None and not relative:
        return {}, []
    return {"price": Limit(at_most=at_most, at_least=at_least, than_current="" if at_most or at_least else relative)}, spans


def too_much(text: str, state: DialogueState, matcher: VocabularyMatcher) -> tuple[list[str], list[Span]]:
    """What a bare complaint ("too formal", "that's too bright") avoids, and its spans: the
    quality, as "not so formal" avoids it (an occasion's word as its value, "too sporty":
    Sports, so that an occasion asked for is released), and for a colour's look ("too bright",
    "too dark") the colour on screen as well. A price complaint ("too expensive") is left to
    `limits`, which reads it as "cheaper", and a fit complaint ("too tight") to `aspects_wanted`
    (sizes are not in the catalogue)."""
    avoided, spans = [], []
    colour = state.target_attributes().get(matcher.colour_column or "")
    for match in TOO.finditer(text):
        quality = match.group(1)
        if quality in _NOT_QUALITIES or PRICE_WORDS.search(match.group()) or SIZE_WORDS.search(match.group()):
            continue
        avoided += [colour] if colour and quality in COLOUR_QUALITIES else []
        avoided.append(matcher.occasion(quality) or quality)
        spans.append(match.span())
    return list(dict.fromkeys(avoided)), spans


def shade_shift(match: re.Match, colour: str | None, matcher: VocabularyMatcher) -> str | None:
    """"a bit darker" (`match`, of SHADE_SHIFT): the catalogue colour a shade darker or lighter
    than `colour` (the one the words qualify, else the one wanted now), as the vocabulary's shade
    words say ("dark blue" is Navy Blue, so Navy Blue is darker than Blue and Blue lighter than
    Navy Blue); None when the vocabulary knows no such shade, and the words are searched."""
    if colour is None:
        return None
    way, opposite = ("dark", "light") if match.group(1) in ("darker", "deeper") else ("light", "dark")
    shade = _shade(f"{way} {colour}", matcher)
    if shade in (None, colour):  # lighter than Navy Blue: the colour whose dark shade it is
        shade = next((v for v in matcher.vocabulary[matcher.colour_column]
                      if v != colour and _shade(f"{opposite} {v}", matcher) == colour), None)
    return shade if shade != colour else None


def _shade(phrase: str, matcher: VocabularyMatcher) -> str | None:
    """The colour value a shade phrase names ("dark blue": Navy Blue), or None."""
    mention = matcher.canonical(phrase)
    return mention.value if mention and mention.column == matcher.colour_column else None


def aspects_wanted(text: str, released: Sequence[Span] = ()) -> tuple[tuple[str, ...], list[Span]]:
    """Aspects a request names that no attribute column holds in a fashion catalogue (size,
    stock): said in the reply, left out of the searched text. One named in a `released`
    phrase ("size doesn't matter") is no wish."""
    found, spans = [], []
    for aspect, pattern in ASPECTS_WANTED.items():
        for match in pattern.finditer(text):
            if any(s <= match.start() < e for s, e in released):
                continue
            found.append(aspect)
            spans.append(_phrase_around(text, match.span()))
    return tuple(dict.fromkeys(found)), spans


def aspect_asked(text: str) -> str:
    """The aspect a question asks about that is no attribute column: "price", "material", ...,
    or "" for none."""
    return next((aspect for aspect, pattern in ASPECTS_ASKED.items() if pattern.search(text)), "")


def drops(text: str, state: DialogueState, matcher: VocabularyMatcher) -> tuple[list[str], list[Span]]:
    """Columns the shopper releases: "any colour", "drop the gender", "remove red", "no filters"."""
    if ALL_FILTERS.search(text):
        return list(state.constraints), [m.span() for m in ALL_FILTERS.finditer(text)]
    columns, spans = [], []
    for pattern in DROPS:
        for match in pattern.finditer(text):
            column = _released_column(match.group(1).strip(), state, matcher)
            if column:
                columns.append(column)
                spans.append(match.span())
    return columns, spans


def another(text: str, state: DialogueState, matcher: VocabularyMatcher) -> tuple[list[str], list[str], list[Span]]:
    """"in another colour": the columns to release and the current values to avoid."""
    columns, avoided, spans = [], [], []
    for match in ANOTHER.finditer(text):
        column = matcher.column(match.group(1))
        if column is None:
            continue
        current = state.target_attributes().get(column)
        columns.append(column)
        avoided += [current] if current else []
        spans.append(match.span())
    return columns, avoided, spans


def aspect_column(aspect: str, columns: Sequence[str]) -> str | None:
    """The catalogue column that records `aspect` ("price": a "price" or "mrp" column, also
    "price_inr"), or None when the catalogue has none: then the shopper is told so."""
    names = {_key(n) for n in ASPECT_NAMES.get(aspect, (aspect,))}
    exact = next((c for c in columns if _key(c) in names), None)
    return exact or next((c for c in columns if any(len(n) >= 4 and n in _key(c) for n in names)), None)


def _key(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.casefold())


def _released_column(words: str, state: DialogueState, matcher: VocabularyMatcher) -> str | None:
    """The column a released phrase names: a column word ("colour") or a constrained value
    ("red"); or an aspect no column holds ("size isn't important"), released by its name so
    that its words are neither searched nor avoided."""
    column = matcher.column(words) or next((a for a, p in ASPECTS_WANTED.items() if p.fullmatch(words)), None)
    if column:
        return column
    value = matcher.canonical(words)
    if value and state.constraints.get(value.column, "").casefold() == value.value.casefold():
        return value.column
    return None


def _phrase_around(text: str, span: Span) -> Span:
    """A matched aspect word with the preposition and article before it ("in size 10", "in stock")."""
    before = re.search(r"(?:\b(?:in|is|are|it'?s|with|for|a|an|the|my|your)\s+)*$", text[:span[0]])
    return (before.start() if before else span[0], span[1])


def _number(text: str) -> float:
    return float(text.replace(",", ""))
