"""What gives way when filters leave nothing (chat.relaxing), over a small in-memory table with
a real filter search: a kind and a person that never meet, a colour the rest lacks, guesses
from a photo."""

from dataclasses import dataclass

import pytest

from chat.assistant import _as_searched
from chat.relaxing import Roles, relax
from chat.state import DialogueState

# (colour, kind, person): what the table holds.
ROWS = [("Black", "Dresses", "Women"), ("Maroon", "Dresses", "Women"), ("Blue", "Kurtas", "Men"),
        ("Black", "Kurtas", "Men"), ("White", "Shirts", "Men"), ("Black", "Heels", "Women"),
        ("Grey", "Tshirts", "Men"), ("Red", "Tshirts", "Women")]
COLUMNS = ("colour", "kind", "person")
NEIGHBOURS = {"Burgundy": ("Maroon", "Red"), "Charcoal": ("Grey", "Black")}
ROLES = Roles(kind="kind", person="person", colour="colour", neighbours=lambda v: NEIGHBOURS.get(v, ()))


@dataclass(frozen=True)
class Hit:
    row: tuple[str, str, str]


def search(filters):
    """The rows passing every filter; Kurtas first, as if nearest to the query (a dress)."""
    passing = [Hit(r) for r in ROWS if all(r[COLUMNS.index(c)] in allowed for c, allowed in filters.items())]
    return sorted(passing, key=lambda h: h.row[1] != "Kurtas")


def kind_of(hit):
    return hit.row[1]


def run(constraints, avoid=None, guessed=()):
    filters = {**(avoid or {}), **{c: [v] for c, v in constraints.items()}}
    return relax(search, filters, constraints, ROLES, guessed=guessed, kind_of=kind_of, avoid=avoid)


def test_what_matches_is_searched_as_asked():
    found = run({"colour": "Black", "kind": "Dresses", "person": "Women"})
    assert [h.row for h in found.hits] == [("Black", "Dresses", "Women")] and not found.left_out and not found.swapped


def test_a_person_the_kind_lacks_swaps_the_older_kind_for_the_nearest_the_person_has():
    """"dresses for women", then "for men instead": there are no men's dresses."""
    found = run({"kind": "Dresses", "colour": "Black", "person": "Men"})
    assert found.swapped == {"kind": ("Dresses", "Kurtas")} and found.offered[0] == "Kurtas"
    assert {h.row for h in found.hits} == {("Black", "Kurtas", "Men")}


def test_a_kind_the_person_lacks_drops_the_older_person():
    """"t-shirts for men", then "heels instead": heels, for whoever has them."""
    found = run({"person": "Men", "kind": "Heels"})
    assert found.left_out == ("Men",) and {h.row for h in found.hits} == {("Black", "Heels", "Women")}


def test_a_rare_colour_gives_way_to_its_neighbour_before_the_kind_or_person():
    found = run({"kind": "Dresses", "person": "Women", "colour": "Burgundy"})
    assert found.swapped == {"colour": ("Burgundy", "Maroon")} and not found.left_out
    assert {h.row for h in found.hits} == {("Maroon", "Dresses", "Women")}


def test_a_colour_with_no_neighbour_there_is_left_out_and_the_older_kind_kept():
    found = run({"kind": "Shirts", "person": "Men", "colour": "Pink"})
    assert found.left_out == ("Pink",) and {h.row for h in found.hits} == {("White", "Shirts", "Men")}


def test_a_guess_from_a_photo_gives_way_first():
    found = run({"person": "Women", "kind": "Kurtas", "colour": "Blue"}, guessed=("person",))
    assert found.left_out == ("Women",) and {h.row for h in found.hits} == {("Blue", "Kurtas", "Men")}


@pytest.mark.parametrize("avoid", [{"colour": []}, {"colour": ["Pink"]}])
def test_values_to_avoid_hold_and_say_so_when_they_leave_nothing(avoid):
    found = run({"kind": "Dresses", "person": "Women"}, avoid=avoid)
    assert found.hits == [] and set(found.left_out) == {"Dresses", "Women"}


def test_what_a_released_colour_avoided_still_holds():
    """"red t-shirts, not black" for women: red gives way, black stays out."""
    found = run({"kind": "Tshirts", "person": "Men", "colour": "Red"}, avoid={"colour": ["Grey", "Red", "White"]})
    assert found.left_out == ("Red",) and {h.row for h in found.hits} == {("Grey", "Tshirts", "Men")}


def test_a_kind_guessed_from_a_photo_is_left_out_not_swapped():
    found = run({"kind": "Dresses", "person": "Men"}, guessed=("kind",))
    assert found.left_out == ("Dresses",) and not found.swapped and not found.offered
    assert {h.row[2] for h in found.hits} == {"Men"}


def test_a_kind_swapped_in_for_a_person_gives_way_before_a_newer_colour():
    """Dresses "for men instead" searched Kurtas (never said); then "in grey": grey things for
    men, not the grey dropped to show kurtas again."""
    swapped = run({"kind": "Dresses", "person": "Men"})
    assert swapped.swapped == {"kind": ("Dresses", "Kurtas")}
    state = _as_searched(DialogueState(constraints={"kind": "Dresses", "person": "Men"}), swapped)
    assert state.constraints["kind"] == "Kurtas" and state.guessed == ("kind",)
    grey = run({**state.constraints, "colour": "Grey"}, guessed=state.guessed)
    assert [h.row for h in grey.hits] == [("Grey", "Tshirts", "Men")] and grey.left_out == ("Kurtas",)


def test_a_guess_that_gave_way_for_nothing_comes_back_with_the_next_step():
    """A photo taken for women's things, then "in pink" "like a kurta": leaving out the guess alone
    finds no pink kurta, the colour's neighbour does, and for women as guessed; the guess stayed
    out ("There are no Kurtas for Women, so I left out Women" over a women's kurta)."""
    rows = [("Maroon", "Kurtas", "Women"), ("Black", "Kurtas", "Men")]
    neighbours = {"Pink": ("Maroon", "Black")}
    roles = Roles(kind="kind", person="person", colour="colour", neighbours=lambda v: neighbours.get(v, ()))
    constraints = {"person": "Women", "colour": "Pink", "kind": "Kurtas"}

    def search_rows(filters):
        return [Hit(r) for r in rows if all(r[COLUMNS.index(c)] in allowed for c, allowed in filters.items())]

    found = relax(search_rows, {c: [v] for c, v in constraints.items()}, constraints, roles, guessed=("person",),
                  kind_of=kind_of)
    assert found.swapped == {"colour": ("Pink", "Maroon")} and found.left_out == ()
    assert [h.row for h in found.hits] == [("Maroon", "Kurtas", "Women")]
