"""The item a search starts from, shared by the retriever and the dialogue state.

One class for both sides: the retriever creates it (from a catalogue record, or from a
photo with inferred attributes) and the dialogue state keeps it between turns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

ReferenceSource = Literal["catalog", "upload"]


@dataclass(frozen=True)
class Reference:
    """The item a search starts from: a catalogue product the shopper picked, or a photo.

    `attributes` are the catalogue's for a product and inferred ones for an upload; `vector`
    is its image embedding, stored as a read-only float32 copy so no caller can mutate it.
    """

    source: ReferenceSource
    product_id: str | None = None
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)
    attributes: dict[str, str] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict, compare=False, repr=False)  # of inferred attributes
    # An upload's likeliest values per column with their probabilities, best first: a guess
    # too unsure to act on can still offer its top two to the shopper.
    ranked: dict[str, tuple[tuple[str, float], ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.vector is not None:
            vector = np.array(self.vector, dtype=np.float32)
            vector.flags.writeable = False
            object.__setattr__(self, "vector", vector)
        object.__setattr__(self, "attributes", dict(self.attributes))

    def describe(self) -> str:
        """A few words for a prompt: "product 1563 (Tshirts, Blue)" or "the shopper's photo"."""
        name = f"product {self.product_id}" if self.source == "catalog" else "the shopper's photo"
        values = ", ".join(self.attributes.values())
        return f"{name} ({values})" if values else name
