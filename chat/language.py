"""Is a message English? The readers read English only, so a message in another language must
change nothing: searched as words, "zapatos negros por favor" kept the old filters and showed
whatever the words' vectors were near. A short request made only of colour, person and joining
words ("en noir svp") is told foreign by a table, which also says it in English for the reply
to suggest ("in black please"): lingua cannot tell three words apart reliably.

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


# Short requests in the common European languages (French, Spanish, Italian, German, Portuguese,
# Dutch) say a colour or a person in a few words ("en noir svp", "uguale ma blu", "für damen");
# lingua cannot tell three words apart reliably ("en noir svp" is only 3 times likelier French
# than English), and a table can: a message made only of these words is foreign, and is said in
# English word by word for the reply to suggest. It is not searched: the readers read English,
# and a reading of some words of another language would be right only where the table is whole.
_COLOURS = {
    "black": "noir noire noirs noires negro negra negros negras schwarz schwarze schwarzen nero nera neri nere "
             "preto preta pretos pretas zwart zwarte",
    "white": "blanc blanche blancs blanches blanco blanca blancos blancas weiss weiß weisse weiße weissen weißen "
             "bianco bianca bianchi bianche branco branca brancos brancas witte",
    "red": "rouge rouges rojo roja rojos rojas rot rote roten rosso rossa rossi rosse vermelho vermelha vermelhos rood rode",
    "blue": "bleu bleue bleus bleues azul azules blau blaue blauen blu azzurro azzurra blauw blauwe",
    "green": "vert verte verts vertes verde verdes grün grüne grünen gruen verdi groen groene",
    "yellow": "jaune jaunes amarillo amarilla amarillos gelb gelbe gelben giallo gialla gialli amarelo amarela geel gele",
    "pink": "rosa rosado rosada rosados roze",
    "grey": "gris grise grises grau graue grauen grigio grigia grigi cinza grijs grijze",
    "brown": "marrón braun braune braunen marrone castaño marrom bruin bruine",
    "purple": "morado morada violett lila roxo roxa paars paarse",
    "orange": "naranja arancione laranja oranje",
    "silver": "argenté argentée plateado plateada silber argento prateado prateada zilver",
    "gold": "doré dorée dorado dorada oro dourado dourada goud",
}
_PEOPLE = {
    "women": "femme femmes mujer mujeres dama damas damen frau frauen donna donne mulher mulheres vrouw vrouwen",
    "men": "homme hommes hombre hombres caballero caballeros herren mann männer uomo uomini homem homens heren",
    "boys": "garçon garçons garcon garcons niño niños nino ninos jungen junge ragazzo ragazzi bambino bambini menino "
            "meninos jongen jongens",
    "girls": "fille filles niña niñas nina ninas mädchen madchen ragazza ragazze bambina bambine menina meninas meisje "
             "meisjes",
}
# The words around them, as the English reading needs them ("" for none).
_AROUND = {
    "in": "en in em im",
    "for": "pour para für fur fuer per voor",
    "same": "même meme pareil igual mismo misma mismos gleich gleiche uguale stesso stessa mesmo mesma zelfde hetzelfde",
    "but": "mais pero aber ma mas maar",
    "please": "svp stp bitte favor favore alsjeblieft graag",
    "": "s'il vous plaît plait por le la les un une des el los las una uno der die das ein eine den il lo gli "
        "o os as um uma het de een y et und e con avec mit com met aussi también tambien auch anche também ook "
        "merci gracias danke grazie obrigado obrigada bedankt",
}
_PERSON = {word: english for english, words in _PEOPLE.items() for word in words.split()}
_COLOUR = {word: english for english, words in _COLOURS.items() for word in words.split()}
_AROUND_WORDS = {word: english for english, words in _AROUND.items() for word in words.split()}


def in_english(text: str) -> str | None:
    """A short request said in another language, in English ("en noir svp": "in black please",
    "uguale ma blu": "same but blue", "pour femme": "for women"), when every word is one of the
    table's and one names a colour or a person; None otherwise."""
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.casefold())
    if not any(w in _PERSON or w in _COLOUR for w in words):
        return None
    said: list[str] = []
    for word in words:
        if word in _PERSON:
            said += [_PERSON[word]] if said[-1:] == ["for"] else ["for", _PERSON[word]]
        elif word in _COLOUR or word in _AROUND_WORDS:
            said += [w for w in [_COLOUR.get(word) or _AROUND_WORDS[word]] if w]
        else:
            return None
    return " ".join(said)


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
