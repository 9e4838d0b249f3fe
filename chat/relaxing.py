"""What gives way when a search's filters leave nothing, in which order, and what to say.

Shoppers name a kind and a person as what they are after, and a colour as a wish: after
"dresses for women" then "in burgundy", the colour gives way, not the dresses. So, in order:

1. A kind and a person the shopper said and the catalogue never has together ("for men
   instead" on dresses): the older of the two gives way. An older kind is swapped for the kinds nearest to the query
   that the new person has (the first searched, all offered); an older person is dropped.
2. Values guessed from a photo or swapped in by an earlier search (the nearest kind for a
   person), oldest first: they were never said. Each later step is tried with them back
   first, so a guess stays out only where it has to.
3. A colour gives way to its neighbours first (Burgundy -> Maroon, Charcoal -> Grey).
4. Other wishes (colour, occasion, a price limit), fewer before more, the newest kept longest.
5. Last, the kind or the person as well, the same way.

Pure logic over a `search(filters)` the caller provides; `Relaxed` says what was searched
instead, for the reply and the chips.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

Filters = dict[str, list[str]]
Search = Callable[[Filters], list]

NEAREST_KINDS = 3  # kinds offered for a person the asked kind does not exist for
_NEAREST_POOL = 40  # hits whose kinds are counted to find the nearest


@dataclass(frozen=True)
class Roles:
    """Which constraint columns are the kind and the person; the colour's neighbour values."""

    kind: str | None
    person: str | None
    colour: str | None
    neighbours: Callable[[str], Sequence[str]] = lambda value: ()


@dataclass(frozen=True)
class Relaxed:
    """A search that found something, and what it searched instead of what was asked."""

    hits: list
    left_out: tuple[str, ...] = ()                            # constraint values not searched
    swapped: dict[str, tuple[str, str]] = field(default_factory=dict)  # column -> (asked, searched)
    offered: tuple[str, ...] = ()                              # nearest kinds, when a kind was swapped


def relax(search: Search, filters: Filters, constraints: Mapping[str, str], roles: Roles,
          guessed: Sequence[str] = (), kind_of: Callable[[object], str] | None = None,
          avoid: Filters | None = None) -> Relaxed:
    """Search with every filter, then give way in the module's order until something is found.
    `constraints` (column -> wanted value, oldest first) are the filters that may give way;
    `avoid` (column -> values still allowed) holds whatever gives way, and other filters hold
    always. `kind_of(hit)` reads a hit's kind."""
    hits = search(filters)
    if hits:
        return Relaxed(hits)
    avoid = avoid or {}
    said = {c: v for c, v in constraints.items() if c not in guessed}  # a guess gives way by going (step 2)
    filters, swapped, offered, left = _settle_kind_and_person(search, filters, said, roles, kind_of, avoid)
    constraints = {c: swapped[c][1] if c in swapped else v for c, v in constraints.items()
                   if v not in left}
    widest = _without(filters, constraints, list(constraints), avoid).filters
    if not search(widest):  # what must hold (values to avoid) leaves nothing, whatever gives way
        return Relaxed([], tuple(constraints.values()) + left, swapped, offered)
    for attempt in _attempts(filters, constraints, roles, guessed, avoid):
        hits = search(attempt.filters)
        if hits:
            return Relaxed(hits, (*left, *attempt.left_out), {**swapped, **attempt.swapped}, offered)
    return Relaxed([], tuple(constraints.values()) + left, swapped, offered)


@dataclass(frozen=True)
class _Attempt:
    filters: Filters
    left_out: tuple[str, ...] = ()
    swapped: dict[str, tuple[str, str]] = field(default_factory=dict)


def _settle_kind_and_person(search: Search, filters: Filters, constraints: Mapping[str, str], roles: Roles,
                            kind_of: Callable[[object], str] | None, avoid: Filters
                            ) -> tuple[Filters, dict[str, tuple[str, str]], tuple[str, ...], tuple[str, ...]]:
    """Step 1: where the kind and the person never meet, the older gives way."""
    kind, person = roles.kind, roles.person
    if not (kind in constraints and person in constraints and kind in filters and person in filters):
        return filters, {}, (), ()
    if search({kind: filters[kind], person: filters[person]}):
        return filters, {}, (), ()
    order = list(constraints)
    if order.index(person) < order.index(kind):  # "heels instead" after "t-shirts for men"
        return _without(filters, constraints, [person], avoid).filters, {}, (), (constraints[person],)
    without_kind = _without(filters, constraints, [kind, roles.colour] if roles.colour in constraints else [kind],
                            avoid).filters
    hits = search(without_kind) if kind_of else []
    kinds = list(dict.fromkeys(k for k in map(kind_of, hits[:_NEAREST_POOL]) if k)) if kind_of else []
    if not kinds:
        return _without(filters, constraints, [kind], avoid).filters, {}, (), (constraints[kind],)
    swapped = {kind: (constraints[kind], kinds[0])}
    return {**filters, kind: [kinds[0]]}, swapped, tuple(kinds[:NEAREST_KINDS]), ()


def _attempts(filters: Filters, constraints: Mapping[str, str], roles: Roles, guessed: Sequence[str],
              avoid: Filters) -> Iterator[_Attempt]:
    """Steps 2-5, each a set of filters to search (first as step 1 left them)."""
    yield _Attempt(filters)
    droppable = [c for c in constraints if c in filters]
    guesses = [c for c in droppable if c in guessed]
    for left_out in _relaxations(guesses):
        yield _without(filters, constraints, left_out, avoid)
    said = [c for c in droppable if c not in guessed]
    kept = _giving_way(filters, (), constraints, said, roles, avoid)
    if not guesses:
        yield from kept
        return
    # Each later step first with the guesses back: they gave way first, but need not stay out
    # when what gives way next finds something with them (a Beige clutch for women, not "no
    # clutches for women" over a women's clutch).
    without = _giving_way(_without(filters, constraints, guesses, avoid).filters,
                          tuple(constraints[c] for c in guesses), constraints, said, roles, avoid)
    for attempts in zip(kept, without):
        yield from attempts


def _giving_way(base: Filters, gone: tuple[str, ...], constraints: Mapping[str, str], said: Sequence[str],
                roles: Roles, avoid: Filters) -> Iterator[_Attempt]:
    """Steps 3-5 from `base` (`gone`: what it already leaves out): the colour's neighbours, then
    the other wishes, then the kind or the person as well."""
    colour = roles.colour if roles.colour in said else None
    if colour:
        asked = constraints[colour]
        for value in roles.neighbours(asked):
            if value.casefold() != asked.casefold():
                yield _Attempt({**base, colour: [value]}, gone, {colour: (asked, value)})
    wishes = [c for c in said if c not in (roles.kind, roles.person)]
    for left_out in _relaxations(wishes):
        yield _without(base, constraints, left_out, avoid, gone)
    for left_out in _relaxations(said):
        yield _without(base, constraints, left_out, avoid, gone)


def _without(filters: Filters, constraints: Mapping[str, str], columns: Sequence[str], avoid: Filters,
             gone: tuple[str, ...] = ()) -> _Attempt:
    """`filters` with the constraints of `columns` left out (what they avoid still holds)."""
    kept = {c: v for c, v in filters.items() if c not in columns}
    kept.update({c: avoid[c] for c in columns if c in avoid})
    return _Attempt(kept, gone + tuple(constraints[c] for c in columns if c in constraints))


def _relaxations(columns: Sequence[str]) -> Iterator[tuple[str, ...]]:
    """The sets of columns to leave out, in the order to try them; `columns` is oldest first.
    A newer one goes only once no set of older ones finds anything, and fewer go before more."""
    for newest, column in enumerate(columns):
        for size in range(newest + 1):
            for older in itertools.combinations(columns[:newest], size):
                yield (*older, column)
