"""Is a message English? The readers read English only, so a message in another language must
change nothing: searched as words, "zapatos negros por favor" kept the old filters and showed
whatever the words' vectors were near.

The decision is lingua's (a maintained n-gram detector built for short text), over the
languages shoppers here most likely write besides English and those it most often mistakes
English for; a message is foreign where another language is clearly likelier than English.
The caller asks only about messages that name no catalogue value, and more strictly where a
word looked like a misspelt one: lingua takes misspelt English for Czech or Latin ("sapphre
pls"). Measured on the development files: `python -m benchmarks.language_check`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

# A message is foreign where lingua finds another language at least this many times likelier
# than English; three times more where a word looked like a misspelt catalogue value (and the
# message has three words or more). Chosen on the development files, where no English message
# reaches it (`benchmarks/language_check.py`; at 3 two captions, "is suede.", do).
FOREIGN_RATIO, STRICT_RATIO, STRICT_MIN_WORDS = 5.0, 15.0, 3
MIN_WORDS = 2  # "hola", "nope": one word is too little to tell a language by
_LETTERS = re.compile(r"[^\W\d_]+")
_LANGUAGES = ("ENGLISH", "SPANISH", "FRENCH", "GERMAN", "ITALIAN", "PORTUGUESE", "DUTCH", "TURKISH", "POLISH",
              "SWEDISH", "DANISH", "BOKMAL", "FINNISH", "ROMANIAN", "CZECH", "HUNGARIAN", "INDONESIAN", "MALAY",
              "TAGALOG", "VIETNAMESE", "CATALAN", "CROATIAN", "SLOVAK", "AFRIKAANS", "SWAHILI", "LATIN",
              "HINDI", "RUSSIAN", "UKRAINIAN", "GREEK", "ARABIC", "HEBREW", "PERSIAN", "CHINESE", "JAPANESE",
              "KOREAN", "THAI", "BENGALI", "TAMIL", "URDU")


@functools.cache
def _detector():
    """lingua's detector over `_LANGUAGES`; its models load on first use (about a second)."""
    from lingua import Language, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(*(getattr(Language, name) for name in _LANGUAGES)).build()


def odds_against_english(text: str) -> float:
    """How many times likelier lingua finds the likeliest other language than English (0 when
    English is the likeliest)."""
    from lingua import Language

    values = _detector().compute_language_confidence_values(text)
    if not values or values[0].language == Language.ENGLISH:
        return 0.0
    english = next((v.value for v in values if v.language == Language.ENGLISH), 0.0)
    return values[0].value / max(english, 1e-6)


class ForeignCheck:
    """Says whether a message is in another language than English (see the module).

    `shop_words` are this shop's words that no English model knows (the catalogue's titles:
    "kurta", "dupatta", brand names): a message made mostly of them is English, whatever
    lingua makes of it ("lehenga choli")."""

    def __init__(self, shop_words: Iterable[str] = ()):
        self.shop_words = frozenset(w.casefold() for w in shop_words)

    def __call__(self, text: str, strict: bool = False) -> bool:
        """`strict` for a message in which a word looked like a misspelt catalogue value
        ("scarpe da ginnastica", where "scarpe" is near "scarf")."""
        words = _LETTERS.findall(text.casefold())
        if len(words) < (STRICT_MIN_WORDS if strict else MIN_WORDS):
            return False
        if sum(w in self.shop_words for w in words) * 2 >= len(words):
            return False
        return odds_against_english(text) >= (STRICT_RATIO if strict else FOREIGN_RATIO)
