"""Match words in free text to the catalogue's attribute values.

The catalogue hands us its vocabulary (column -> value -> count). Everything in this module is
generic English (plurals, spelling variants, colour shades, people words, a few garment
synonyms) resolved against those values at build time, so the same code serves any catalogue
whose attribute values are English words, and never proposes a value the catalogue lacks.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, Indel

Vocabulary = Mapping[str, Mapping[str, int]]

# Columns with more distinct values than this are titles or ids, not attributes to filter on.
MAX_ATTRIBUTE_VALUES = 150

# Longest phrase (in words) a mention may span: "necklace and chains", "t shirt" -> "tshirts".
_MAX_MENTION_WORDS = 5

# Canonical spellings, applied to both catalogue values and text so either spelling matches.
_SPELLING = {
    "gray": "grey", "color": "colour", "colors": "colours", "colored": "coloured",
    "multicolor": "multicolour", "multicolored": "multicoloured", "jewelry": "jewellery",
    "pajamas": "pyjamas", "pajama": "pyjama", "favorite": "favourite",
}

# Words that only exist in the plural: "short dress" must not match "Shorts".
_PLURALIA_TANTUM = frozenset({
    "shorts", "trousers", "jeans", "tights", "leggings", "jeggings", "pants", "glasses",
    "sunglasses", "eyeglasses", "capris", "pyjamas", "briefs", "boxers", "overalls",
    "dungarees", "clothes", "knickers", "chinos", "joggers", "sweatpants", "goggles",
    "headphones", "earphones", "suspenders",
})

# Values spelt like function words never count as mentions ("a", "one", "it").
_STOPWORDS = frozenset({
    "a", "an", "the", "and", "or", "of", "in", "on", "for", "to", "with", "it", "this",
    "that", "one", "is", "be", "no", "not", "any", "all", "me", "my", "i", "you", "s",
})

# Shade or colour word -> catalogue colours to try, nearest first.
_SHADES: dict[str, tuple[str, ...]] = {
    "navy": ("navy blue", "navy", "dark blue", "blue"),
    "navy blue": ("navy", "dark blue", "blue"),
    "dark blue": ("navy blue", "navy", "dark blue", "blue"),
    "indigo": ("navy blue", "navy", "indigo", "blue"),
    "midnight blue": ("navy blue", "navy", "blue"),
    "light blue": ("light blue", "sky blue", "blue"),
    "sky blue": ("sky blue", "light blue", "blue"),
    "baby blue": ("light blue", "sky blue", "blue"),
    "royal blue": ("royal blue", "blue"),
    "cobalt": ("blue",),
    "turquoise": ("turquoise blue", "turquoise", "teal", "blue"),
    "aqua": ("turquoise blue", "aqua", "teal", "blue"),
    "cyan": ("turquoise blue", "cyan", "teal", "blue"),
    "teal": ("teal", "turquoise blue", "green", "blue"),
    "crimson": ("red",), "scarlet": ("red",), "cherry": ("red",), "ruby": ("red",),
    "vermilion": ("red",),
    "dark red": ("maroon", "burgundy", "red"),
    "wine": ("burgundy", "maroon", "wine", "red"),
    "claret": ("burgundy", "maroon", "red"),
    "oxblood": ("burgundy", "maroon", "red"),
    "burgundy": ("burgundy", "maroon", "red"),
    "maroon": ("maroon", "burgundy", "red"),
    "silvery": ("silver", "grey", "metallic"),
    "silver": ("silver", "grey", "metallic"),
    "golden": ("gold", "yellow", "metallic"),
    "gold": ("gold", "yellow", "metallic"),
    "charcoal": ("charcoal", "grey", "black"),
    "dark grey": ("charcoal", "grey"),
    "light grey": ("light grey", "grey"),
    "ivory": ("off white", "ivory", "cream", "white"),
    "eggshell": ("off white", "cream", "white"),
    "cream": ("cream", "off white", "white"),
    "beige": ("beige", "cream", "tan", "khaki"),
    "camel": ("tan", "camel", "beige", "brown"),
    "sand": ("beige", "tan", "khaki"),
    "chocolate": ("coffee brown", "brown"),
    "coffee": ("coffee brown", "brown"),
    "mocha": ("coffee brown", "brown"),
    "dark brown": ("coffee brown", "brown"),
    "tan": ("tan", "beige", "brown"),
    "khaki": ("khaki", "olive", "beige"),
    "olive": ("olive", "green"),
    **dict.fromkeys(("olive green", "army green", "military green"), ("olive", "green")),
    "charcoal grey": ("charcoal", "grey"),
    "dark green": ("olive", "dark green", "green"),
    "mint": ("sea green", "mint", "green"),
    "seafoam": ("sea green", "green"),
    "emerald": ("green",), "jade": ("green",), "forest green": ("green",),
    "bottle green": ("green",),
    "lime": ("lime green", "lime", "green"),
    "neon green": ("fluorescent green", "lime green", "green"),
    "lavender": ("lavender", "purple"),
    "lilac": ("lavender", "lilac", "purple"),
    "violet": ("purple", "violet"),
    "plum": ("purple", "plum", "maroon"),
    "mauve": ("mauve", "purple", "pink"),
    "fuchsia": ("magenta", "fuchsia", "pink"),
    "hot pink": ("magenta", "pink"),
    "magenta": ("magenta", "pink", "purple"),
    "rose": ("pink",), "blush": ("pink", "peach"),
    "baby pink": ("pink",), "light pink": ("pink",),
    "coral": ("peach", "coral", "orange", "pink"),
    "salmon": ("peach", "salmon", "pink"),
    "apricot": ("peach", "orange"),
    "peach": ("peach", "orange"),
    "rust": ("rust", "orange", "brown"),
    "terracotta": ("rust", "orange", "brown"),
    "burnt orange": ("rust", "orange"),
    "mustard": ("mustard", "yellow"),
    "ochre": ("mustard", "yellow"),
    "copper": ("copper", "bronze", "brown"),
    "bronze": ("bronze", "copper", "gold"),
    "multicolour": ("multi", "multicolour"),
    "multicoloured": ("multi", "multicolour"),
    "colourful": ("multi", "multicolour"),
    "nude": ("nude", "beige"),
    "taupe": ("taupe", "grey", "brown"),
    "jet black": ("black",), "snow white": ("white",),
    "sapphire": ("royal blue", "blue", "navy blue"), "powder blue": ("light blue", "sky blue", "blue"),
    "ice blue": ("light blue", "sky blue", "blue"), "periwinkle": ("lavender", "blue"),
    "tangerine": ("orange",), "pumpkin": ("orange",), "amber": ("mustard", "orange", "yellow"),
    **dict.fromkeys(("aubergine", "eggplant"), ("purple", "maroon")), "orchid": ("lavender", "purple"),
    **dict.fromkeys(("onyx", "ebony", "jet"), ("black",)),
    **dict.fromkeys(("lemon", "canary", "sunflower", "butter yellow"), ("yellow",)),
    **dict.fromkeys(("merlot", "marsala", "oxblood red"), ("burgundy", "maroon", "red")),
    "chartreuse": ("lime green", "green"), "pistachio": ("lime green", "sea green", "green"),
    "forest": ("green",), **dict.fromkeys(("sage", "moss"), ("olive", "sea green", "green")),
    **dict.fromkeys(("raspberry", "berry", "cerise"), ("magenta", "pink")), "blood red": ("red", "maroon"),
    "rainbow": ("multi", "multicolour"),
    **dict.fromkeys(("caramel", "cognac", "toffee", "fawn"), ("tan", "beige", "brown")),
    **dict.fromkeys(("pearl", "bone", "optic white"), ("off white", "white")),
    **dict.fromkeys(("oatmeal", "stone", "ecru"), ("beige", "cream")), "champagne": ("beige", "cream", "gold"),
    **dict.fromkeys(("slate", "ash", "gunmetal", "graphite"), ("charcoal", "grey")),
    **dict.fromkeys(("brick", "cinnamon"), ("rust", "red", "brown")), "mahogany": ("coffee brown", "brown", "maroon"),
    "rose gold": ("copper", "gold", "pink"), "neon pink": ("magenta", "pink"),
    **{f"{stem}ish": (colour,) for stem, colour in (
        ("redd", "red"), ("grey", "grey"), ("gray", "grey"), ("blu", "blue"), ("blue", "blue"), ("green", "green"),
        ("pink", "pink"), ("orang", "orange"), ("yellow", "yellow"), ("brown", "brown"), ("purpl", "purple"),
        ("black", "black"), ("whit", "white"), ("gold", "gold"))},
    "orangey": ("orange",),
}

# Basic colour words: a column whose values use them is the colour column.
_COLOUR_WORDS = frozenset({
    "black", "white", "grey", "red", "green", "blue", "yellow", "orange", "pink", "purple",
    "brown", "beige", "gold", "silver", "navy", "maroon", "cream", "olive", "teal",
    "turquoise", "khaki", "tan", "peach", "lavender", "magenta", "mauve", "mustard", "rust",
    "burgundy", "charcoal", "copper", "bronze", "nude", "taupe", "multi", "metallic",
    "lime", "violet", "indigo",
})

# People words -> catalogue values to try, first present wins ("my son" -> Boys, else Kids).
_WOMEN = ("women", "woman", "ladies", "female", "womens")
_MEN = ("men", "man", "gents", "male", "mens")
_GIRLS = ("girls", "girl", "kids", "children")
_BOYS = ("boys", "boy", "kids", "children")
_KIDS = ("kids", "children", "child", "baby", "infant")
_CHILD_WORDS = ("kid", "child", "children", "toddler")  # a boy or a girl, unsaid (plurals fold in)
_PEOPLE: dict[str, tuple[str, ...]] = {
    **dict.fromkeys((
        "woman", "women", "lady", "ladies", "female", "womenswear", "wife", "girlfriend",
        "mum", "mom", "mother", "mommy", "mummy", "mama", "sister", "aunt", "auntie", "grandma",
        "grandmother", "granny", "gran", "nan", "nana", "grandmum", "grandmom", "fiancee", "bride",
        "bridesmaid", "missus", "wifey", "stepmum", "stepmom", "stepmother", "godmother",
        "mother in law", "sister in law", "daughter in law", "niece in law", "for her", "herself",
        "gf", "my sis", "wmn", "womn", "wmns", "ladys",  # chat shorthand; a bare "sis" may be said to the assistant
    ), _WOMEN),
    **dict.fromkeys((
        "man", "men", "gent", "gents", "gentleman", "gentlemen", "male", "menswear",
        "husband", "hubby", "boyfriend", "dad", "daddy", "papa", "father", "brother", "uncle",
        "grandpa", "grandad", "granddad", "grandfather", "gramps", "fiance", "groom", "groomsman",
        "stepdad", "stepfather", "godfather", "father in law", "brother in law", "son in law",
        "for him", "himself", "guy",
        "bf", "hubs", "my bro",
    ), _MEN),
    **dict.fromkeys(("girl", "daughter", "niece", "granddaughter", "stepdaughter", "goddaughter"), _GIRLS),
    **dict.fromkeys(("boy", "son", "nephew", "grandson", "stepson", "godson"), _BOYS),
    **dict.fromkeys((*_CHILD_WORDS, "baby", "infant"), _KIDS),
}
# Said of no one person: the catalogue's value for everyone (`VocabularyMatcher._everyone`).
_EVERYONE = ("unisex", "gender neutral", "genderless", "men and women", "women and men", "male and female",
             "female and male", "both genders", "both sexes", "all genders", "for either", "for anyone", "for everyone")
_PEOPLE_VALUES = _WOMEN + _MEN + _GIRLS + _BOYS + _KIDS + ("unisex",)

# Everyday names for garments and occasions -> catalogue values to try, nearest first.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("tee", "tee shirt"), ("t shirts", "tees", "tops")),
    **dict.fromkeys(("polo", "polo shirt", "polo tee"), ("polos", "t shirts")),
    "sneakers": ("casual shoes", "sneakers", "sports shoes", "shoes"),
    "trainers": ("sports shoes", "trainers", "sneakers", "casual shoes", "shoes"),
    "running shoes": ("sports shoes", "running shoes", "shoes"),
    "shoe": ("shoes", "casual shoes", "footwear"),
    "boots": ("boots", "booties"),
    **dict.fromkeys(("hoodie", "hoody"), ("hoodies", "sweatshirts")),
    **dict.fromkeys(("jumper", "pullover"), ("sweaters", "jumpers", "sweatshirts")),
    "cardigan": ("cardigans", "sweaters"),
    **dict.fromkeys(("coat", "overcoat"), ("coats", "jackets")),
    "blazer": ("blazers", "jackets"),
    "purse": ("wallets", "purses", "handbags", "clutches"),
    "bag": ("bags", "handbags"),
    **dict.fromkeys(("school bag", "schoolbag", "rucksack"), ("backpacks", "bags")),
    "tote": ("totes", "handbags"),
    "wristwatch": ("watches",),
    "sari": ("sarees", "saris"),
    **dict.fromkeys(("chappals", "chappal"), ("sandals", "flip flops", "slippers")),
    "kicks": ("sports shoes", "sneakers", "casual shoes"),
    "sunnies": ("sunglasses",),
    **dict.fromkeys(("glasses", "specs", "spectacles"), ("eyewear", "eyeglasses", "sunglasses")),
    **dict.fromkeys(("slippers", "sliders", "slides"), ("slippers", "flip flops", "sandals")),
    **dict.fromkeys(("gown", "frock"), ("dresses",)),
    "blouse": ("blouses", "tops", "shirts"),
    **dict.fromkeys(("tank top", "camisole", "cami"), ("tops",)),
    **dict.fromkeys(("joggers", "sweatpants", "trackies"), ("track pants", "joggers")),
    "pants": ("trousers", "pants", "track pants"),
    "denims": ("jeans",),
    **dict.fromkeys(("swimsuit", "bikini", "swimming costume", "bathing suit"), ("swimwear",)),
    **dict.fromkeys(("necklace", "chain"), ("necklaces", "necklace and chains", "pendants")),
    "beanie": ("beanies", "caps", "hats"),
    "scarf": ("scarves", "scarf", "stoles", "mufflers"),
    **dict.fromkeys(("pumps", "stilettos"), ("heels",)),
    **dict.fromkeys(("loafers", "brogues", "oxfords"), ("formal shoes", "casual shoes")),
    **dict.fromkeys(("gym", "workout", "athletic", "running", "sportswear", "activewear"),
                    ("sports", "sportswear", "activewear")),
    **dict.fromkeys(("office", "business", "work"), ("formal", "office", "business")),
    **dict.fromkeys(("everyday", "daily"), ("casual",)),
    **dict.fromkeys(("night out", "evening"), ("party", "evening")),
    **dict.fromkeys(("holiday", "vacation"), ("travel", "holiday", "vacation")),
    "autumn": ("fall", "autumn"), "fall": ("fall", "autumn"),
}

# Occasions, read only where said as occasions ("for the office", "at the gym", "gym wear",
# "casual friday"): "formal" alone is no filter, as a caption saying "is more formal" must not
# narrow the search to one usage value.
_OCCASION_VALUES = frozenset({"casual", "formal", "party", "sports", "ethnic", "travel", "home", "smart casual",
                              "office", "work", "wedding", "festive", "beach", "evening"})
# Holidays and lounging fall back on the casual value where the catalogue has no value of their own.
_OCCASIONS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("office", "work", "business", "meeting", "meetings", "interview", "interviews", "formal",
                     "job interview", "black tie"),
                    ("formal", "office", "business", "smart casual")),
    **dict.fromkeys(("gym", "workout", "workouts", "running", "training", "sport", "sports", "yoga", "jogging",
                     "active", "athletic", "sporty"),
                    ("sports", "sportswear", "activewear")),
    **dict.fromkeys(("party", "parties", "night out", "clubbing", "dinner", "evening", "date night"),
                    ("party", "evening")),
    **dict.fromkeys(("everyday", "daily wear", "weekend", "weekends", "casual", "casual friday"),
                    ("casual",)),
    **dict.fromkeys(("travel", "travelling", "holiday", "holidays", "vacation", "trip", "beach", "beach holiday"),
                    ("travel", "holiday", "vacation", "beach", "casual")),
    **dict.fromkeys(("home", "lounge", "lounging", "sleep", "sleeping", "bed"), ("home", "loungewear", "casual")),
    **dict.fromkeys(("festival", "festivals", "festive", "diwali", "eid", "puja", "wedding", "weddings", "ethnic",
                     "traditional"),
                    ("ethnic", "festive", "wedding")),
}
# Occasions of several words that say themselves with no "for" ("casual friday").
_OCCASIONS_SAID_BARE = frozenset({"casual friday", "casual fridays", "beach holiday", "night out", "date night",
                                  "black tie", "job interview"})
# Before an occasion: "for the office", "to wear to a wedding", "at the gym", "on holiday".
# Or asked for as what is wanted: "something casual", "anything formal" (but "something more
# casual" is relative to what is shown, which may be casual already: no filter).
_OCCASION_BEFORE = re.compile(r"\b(?:for|to|at|on)\s+(?:(?:the|a|an|my|our)\s+|wear(?:ing)?\s+(?:to|at)\s+(?:the\s+|a\s+)?)?$|"
                              r"\b(?:something|anything)\s+$")
# After one: "gym wear", "office clothes", "wedding outfit", "casual ones"; or joined, "sportswear".
_OCCASION_CLOTHES = r"(?:wear|clothes|clothing|outfits?|gear|attire|garb|kit)"
_RELATIVE = re.compile(r"\b(?:more|less|bit|little|tad)\s+$")  # "more casual ones": than what is shown
_OCCASION_AFTER = re.compile(rf"\s*(?:{_OCCASION_CLOTHES}|ones|stuff|things|options)\b")
_OCCASION_JOINED = re.compile(rf"([a-z]+?){_OCCASION_CLOTHES}")
_OCCASION_WORDS = 2  # "night out"
# An occasion value held by fewer products than this share of its column is no filter: "for a
# night out" filtered on the catalogue's 3 Party products would show them and nothing else.
MIN_OCCASION_SHARE = 0.01

# Words naming a *role* of a column, resolved from the values rather than the column's name.
_COLOUR_ROLE = frozenset({"colour", "shade", "hue", "tone"})
_PEOPLE_ROLE = frozenset({"gender", "sex", "who", "whom"})
_KIND_ROLE = frozenset({"type", "kind", "sort", "category"})
# Column-name words that mark a column as "what the thing is" (articleType, sub_category).
_KIND_NAME_WORDS = frozenset({"type", "category", "kind", "article", "product", "item", "class"})
_COLUMN_SYNONYMS = {"occasion": "usage", "use": "usage", "fabric": "material"}

_WORD = re.compile(r"[^\W_]+")
_NAME_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


@dataclass(frozen=True)
class Mention:
    """An attribute value found in text; start/end are character offsets into that text."""

    column: str
    value: str
    start: int
    end: int


def attribute_vocabulary(vocabulary: Vocabulary, max_values: int = MAX_ATTRIBUTE_VALUES
                         ) -> dict[str, dict[str, int]]:
    """Keep the columns small enough to be attributes, and only their non-empty string values."""
    kept = {}
    for column, values in vocabulary.items():
        clean = {v: int(n) for v, n in values.items() if isinstance(v, str) and v.strip()}
        if 0 < len(clean) <= max_values:
            kept[str(column)] = clean
    return kept


def normalise_word(word: str) -> str:
    """Fold case, accents, spelling and plural so "T-Shirts", "tshirt" and "t shirt" meet
    ("fiancé" and "fiance" too)."""
    word = _folded(word)
    word = _SPELLING.get(word, word)
    if word not in _PLURALIA_TANTUM and len(word) > 3 and not word.endswith(("ss", "us")):
        if word.endswith(("ches", "shes", "sses", "xes", "zes")):
            word = word[:-2]
        elif word.endswith("s"):
            word = word[:-1]
        if word.endswith("ie"):  # hoodies/hoody/hoodie, accessories/accessory meet at "y"
            word = word[:-2] + "y"
    return _SPELLING.get(word, word)


def _folded(word: str) -> str:
    """Case- and accent-folded: "Fiancé" -> "fiance"."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@functools.cache
def english_words() -> frozenset[str] | set[str]:
    """An English dictionary (pyspellchecker's word list), so that a real word ("back",
    "blank") is never taken for a misspelt value ("black")."""
    from spellchecker import SpellChecker

    return SpellChecker().word_frequency.dictionary.keys()


def without_mentions(text: str, mentions: Iterable[Mention]) -> str:
    """`text` with the mentions' words taken out (their offsets are into `text`), spaces tidied."""
    for mention in sorted(mentions, key=lambda m: m.start, reverse=True):
        text = text[:mention.start] + " " + text[mention.end:]
    return re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r"\s+", " ", text)).strip()


def phrase_key(text: str) -> str:
    """The lookup key of a phrase: its normalised words joined without spaces."""
    return "".join(normalise_word(w) for w in _WORD.findall(text))


def column_words(column: str) -> list[str]:
    """Split a column name into normalised words: "baseColour" -> ["base", "colour"]."""
    return [normalise_word(w) for w in _NAME_WORD.findall(column)]


class VocabularyMatcher:
    """Finds catalogue attribute values mentioned in text, longest phrase first.

    Built once per catalogue: every lookup table is resolved against the vocabulary here, so
    a shade or synonym whose candidates are all absent simply never matches.
    """

    def __init__(self, vocabulary: Vocabulary, max_values: int = MAX_ATTRIBUTE_VALUES):
        self.vocabulary = attribute_vocabulary(vocabulary, max_values)
        self.columns = tuple(self.vocabulary)
        self.colour_column = self._role_column(
            lambda v: bool(_COLOUR_WORDS & {normalise_word(w) for w in _WORD.findall(v)}))
        people = {phrase_key(v) for v in _PEOPLE_VALUES}
        self.people_column = self._role_column(lambda v: phrase_key(v) in people)
        occasion = self._role_column(lambda v: v in _OCCASION_VALUES)
        self.occasion_column = occasion if occasion not in (self.colour_column, self.people_column) else None
        self._by_column = self._index_columns()
        self._index = self._index_values()
        self.kind_columns = self._kind_columns()
        self._add_table(_SHADES, self.colour_column)
        self._add_table(_PEOPLE, self.people_column)
        everyone = self._everyone()
        self._add_table(dict.fromkeys(_EVERYONE, (everyone,) if everyone else ()), self.people_column)
        self._add_table(_SYNONYMS, None)
        self._occasions = self._resolved(_OCCASIONS, self.occasion_column)
        fuzzy_columns = {self.colour_column, *self.kind_columns}  # people words are short and common
        self._fuzzy_keys = sorted(k for k, (c, _) in self._index.items() if len(k) >= 4 and k.isalpha()
                                  and c in fuzzy_columns)
        self.children = self._children()

    def _index_columns(self) -> dict[str, dict[str, str]]:
        """column -> key -> value; the most frequent value wins a key ("T-Shirt" vs "Tshirts")."""
        by_column: dict[str, dict[str, str]] = {}
        for column, values in self.vocabulary.items():
            keys: dict[str, str] = {}
            for value in sorted(values, key=values.get):
                key = phrase_key(value)
                if key and value.casefold() not in _STOPWORDS:
                    keys[key] = value
            by_column[column] = keys
        return by_column

    def _index_values(self) -> dict[str, tuple[str, str]]:
        """key -> (column, value). A value in several columns ("Watches") goes to the column
        where it is most frequent, ties to the finer column (more values): that is the
        reading a shopper most likely means."""
        index: dict[str, tuple[str, str]] = {}
        rank: dict[str, tuple[int, int]] = {}
        for column, keys in self._by_column.items():
            if column == self.occasion_column:  # read in occasion phrases only (`find`)
                continue
            for key, value in keys.items():
                score = (self.vocabulary[column][value], len(self.vocabulary[column]))
                if key not in rank or score > rank[key]:
                    index[key], rank[key] = (column, value), score
        return index

    def _role_column(self, is_role_value) -> str | None:
        """The column with most values of a role (colour words, people words), if >= 2."""
        counts = {c: sum(is_role_value(v.casefold()) for v in vals)
                  for c, vals in self.vocabulary.items()}
        best = max(counts, key=counts.get, default=None)
        return best if best is not None and counts[best] >= 2 else None

    def _everyone(self) -> str | None:
        """The people value that no person's word names (Unisex beside Men, Women, Boys and
        Girls): the catalogue's value for everyone, where it has exactly one."""
        if self.people_column is None:
            return None
        named = {self._index[k][1] for k in map(phrase_key, _PEOPLE) if self._index.get(k, ("",))[0] == self.people_column}
        rest = [v for v in self.vocabulary[self.people_column] if v not in named]
        return rest[0] if len(rest) == 1 else None

    def _kind_columns(self) -> tuple[str, ...]:
        """Columns saying what the item is, finest first; by name, else the largest column."""
        others = [c for c in self.columns if c not in (self.colour_column, self.people_column, self.occasion_column)]
        kinds = [c for c in others if _KIND_NAME_WORDS & set(column_words(c))]
        if not kinds and others:
            kinds = [max(others, key=lambda c: len(self.vocabulary[c]))]
        return tuple(sorted(kinds, key=lambda c: -len(self.vocabulary[c])))

    def _add_table(self, table: Mapping[str, tuple[str, ...]], column: str | None) -> None:
        """Add word -> first present candidate; real values always beat table entries."""
        for word, candidates in table.items():
            key = phrase_key(word)
            if key in self._index:
                continue
            for candidate in map(phrase_key, candidates):
                target = self._lookup(candidate, column)
                if target:
                    self._index[key] = target
                    break

    def _resolved(self, table: Mapping[str, tuple[str, ...]], column: str | None) -> dict[str, tuple[str, str]]:
        """word key -> (column, value): the first of a word's candidates that `column` has, held
        by at least `MIN_OCCASION_SHARE` of its products (a rarer one filters a search down to it)."""
        if column is None:
            return {}
        values = self.vocabulary[column]
        common = {phrase_key(v) for v, n in values.items() if n >= MIN_OCCASION_SHARE * sum(values.values())}
        resolved = {}
        for word, candidates in table.items():
            keys = (phrase_key(c) for c in candidates if phrase_key(c) in common)
            target = next(filter(None, (self._lookup(key, column) for key in keys)), None)
            if target:
                resolved[phrase_key(word)] = target
        return resolved

    def _lookup(self, key: str, column: str | None) -> tuple[str, str] | None:
        """A value by key, in one column or in any."""
        if column is None:
            return self._index.get(key)
        value = self._by_column.get(column, {}).get(key)
        return (column, value) if value else None

    def find(self, text: str, misspelt: bool = True) -> list[Mention]:
        """All non-overlapping mentions, longest phrase first ("navy blue" beats "blue"); then,
        with `misspelt`, a misspelt value ("bleu", "blak") where a word is no English word but
        within one or two edits of exactly one value's name; then occasions said as such ("for
        the office"). A turn reads its message in several places (the rules, the LLM reader's
        grounding, the replies): the reading is remembered, not redone."""
        return list(self._found(text, misspelt))

    @functools.lru_cache(maxsize=2048)  # noqa: B019 - one matcher per catalogue, alive as long as the shop
    def _found(self, text: str, misspelt: bool) -> tuple[Mention, ...]:
        words = list(_WORD.finditer(text))
        keys = [normalise_word(w.group()) for w in words]
        candidates = []
        for i in range(len(words)):
            for n in range(1, min(_MAX_MENTION_WORDS, len(words) - i) + 1):
                target = self._index.get("".join(keys[i:i + n]))
                if target:
                    candidates.append((-n, i, target))
        taken: set[int] = set()
        mentions = []
        for negative_n, i, (column, value) in sorted(candidates):
            span = set(range(i, i - negative_n))
            if not span & taken:
                taken |= span
                mentions.append(Mention(column, value, words[i].start(),
                                        words[i - negative_n - 1].end()))
        for i, word in enumerate(words):
            target = None if i in taken or not misspelt else self._misspelt(word.group())
            if target:
                mentions.append(Mention(*target, word.start(), word.end()))
        mentions += self._occasion_mentions(text, mentions)
        return tuple(sorted(mentions, key=lambda m: m.start))

    def _misspelt(self, word: str) -> tuple[str, str] | None:
        """The colour or kind a misspelt word names: one edit for words of up to five letters,
        two for longer ones, the first letter kept, and only where no other value is as near."""
        folded = _folded(word)
        if len(folded) < 4 or not folded.isalpha() or folded in _STOPWORDS or folded in english_words():
            return None
        limit = 1 if len(folded) <= 5 else 2
        near = process.extract(normalise_word(folded), self._fuzzy_keys, scorer=DamerauLevenshtein.distance,
                               score_cutoff=limit, limit=5)
        near += process.extract(folded, self._fuzzy_keys, scorer=DamerauLevenshtein.distance,
                                score_cutoff=limit, limit=5)
        if not near:
            return None
        # A slip keeps the first letter ("blak", "bleu"); "eine" is no misspelt "wine". Of two
        # values as near, a letter left out ("gren": green) beats one replaced (grey).
        forms = (folded, normalise_word(folded))
        near = [(min(DamerauLevenshtein.distance(f, key) for f in forms), min(Indel.distance(f, key) for f in forms), key)
                for key, _, _ in near if key[0] == folded[0]]
        if not near:
            return None
        best = min(near)[:2]
        targets = {self._index[key] for *distance, key in near if tuple(distance) == best}
        return targets.pop() if len(targets) == 1 else None

    def _occasion_mentions(self, text: str, found: list[Mention]) -> list[Mention]:
        """Occasions said as such, as the occasion column's values where the catalogue has them:
        after "for", "to", "at" or "on" ("for the office": Formal, "on holiday"), asked for bare
        ("something casual"), before a word for clothes or ones ("gym wear": Sports, "formal ones",
        not "more formal ones"), joined to "wear" ("sportswear"), or a phrase that is one ("casual
        friday"); the longest phrase first, none overlapping a value already found."""
        lowered = text.lower()
        words = list(_WORD.finditer(lowered))
        mentions = [*found]
        for i, word in enumerate(words):
            for n in range(min(_OCCASION_WORDS, len(words) - i), 0, -1):
                begin, end = word.start(), words[i + n - 1].end()
                phrase = lowered[begin:end]
                target = self._occasions.get(phrase_key(phrase))
                said = (phrase in _OCCASIONS_SAID_BARE or _OCCASION_BEFORE.search(lowered, 0, begin)
                        or _OCCASION_AFTER.match(lowered, end) and not _RELATIVE.search(lowered, 0, begin))
                if target and said and not any(m.start < end and begin < m.end for m in mentions):
                    mentions.append(Mention(*target, begin, end))
                    break
            joined = _OCCASION_JOINED.fullmatch(word.group())
            target = joined and self._occasions.get(phrase_key(joined.group(1)))
            if target and not any(m.start < word.end() and word.start() < m.end for m in mentions):
                mentions.append(Mention(*target, word.start(), word.end()))
        return mentions[len(found):]

    def occasion(self, word: str) -> str | None:
        """The occasion value a word names said bare ("sporty": Sports, "formal": Formal): for
        what the shopper avoids, where no search is narrowed to it (`find` reads no bare word)."""
        target = self._occasions.get(phrase_key(word))
        return target[1] if target else None

    def neighbours(self, colour: str) -> tuple[str, ...]:
        """The catalogue colours nearest to `colour`, nearest first, itself left out: its shade
        table entry ("Burgundy" -> Maroon, Red; "Charcoal" -> Grey, Black), then the colours its
        name is made of ("Lime Green" -> Green, "Grey Melange" -> Grey)."""
        if self.colour_column is None:
            return ()
        candidates = list(_SHADES.get(_folded(colour), ()))
        words = colour.split()
        if len(words) > 1:
            candidates += reversed(words)
        found = (self._lookup(phrase_key(c), self.colour_column) for c in candidates)
        values = [target[1] for target in found if target]
        return tuple(v for v in dict.fromkeys(values) if v.casefold() != colour.casefold())

    def _children(self) -> tuple[str, ...]:
        """The people values a child word leaves open: the catalogue's boys' and girls' values
        where it has no one value for children (then "kids" names nothing), else none."""
        if self.people_column is None or any(self.canonical(w) for w in _CHILD_WORDS):
            return ()
        values = [self._lookup(phrase_key(v), self.people_column) for v in ("boys", "girls")]
        return tuple(v[1] for v in values if v) if all(values) else ()

    def names_children(self, text: str) -> bool:
        """Whether `text` asks for children's things without saying boys or girls ("socks for
        kids"), in a catalogue where that leaves two values open (`children`)."""
        return bool(self.child_mentions(text))

    def child_mentions(self, text: str) -> list[Mention]:
        """The words of `text` that ask for children without saying boys or girls ("kids"), as
        mentions of the people column with no value, where that leaves two values open."""
        if not self.children:
            return []
        return [Mention(self.people_column, "", m.start(), m.end()) for m in _WORD.finditer(text)
                if normalise_word(m.group()) in _CHILD_WORDS]

    def canonical(self, text: str) -> Mention | None:
        """The value a whole phrase names ("navy" -> Navy Blue), or None."""
        target = self._index.get(phrase_key(text))
        return Mention(target[0], target[1], 0, len(text)) if target else None

    def value(self, column: str, text: str) -> str | None:
        """The column's value a phrase names, matched case- and spelling-insensitively; a
        longer phrase naming exactly one of the column's values ("for my wife") also counts."""
        key = phrase_key(text)
        exact = self._lookup(key, column) or self._index.get(key)
        if exact and exact[0] == column:
            return exact[1]
        named = {m.value for m in self.find(text) if m.column == column}
        return named.pop() if len(named) == 1 else None

    def column(self, word: str) -> str | None:
        """The column a word names: its own name, a role ("color", "type", "who") or the head
        word of its name ("season" -> "season", "occasion" -> "usage")."""
        key = phrase_key(word)
        for column in self.columns:
            if phrase_key(column) == key:
                return column
        if key in _COLOUR_ROLE:
            return self.colour_column
        if key in _PEOPLE_ROLE:
            return self.people_column
        if key in _KIND_ROLE:
            return self.kind_columns[0] if self.kind_columns else None
        key = _COLUMN_SYNONYMS.get(key, key)
        heads = [c for c in self.columns if column_words(c)[-1:] == [key]]
        return max(heads, key=lambda c: len(self.vocabulary[c]), default=None)

    def example(self) -> str:
        """A short example query built from the commonest colour and kind ("black tshirts")."""
        words = [max(self.vocabulary[c], key=self.vocabulary[c].get)
                 for c in (self.colour_column, *self.kind_columns[:1]) if c]
        return " ".join(words).lower()
