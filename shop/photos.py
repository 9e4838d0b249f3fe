"""Catalogue photos served by product id, so the page never shows where the files live.

Gradio's own file route takes absolute server paths (`gradio_api/file=/data/.../123.jpg`),
which leaks the server's layout into every image URL and needs the photo folders opened to
it. This route answers `photo/<id>` for products of the catalogue only, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from retrieval.catalog import Catalog

PHOTO_PATH = "/photo/{product_id}"
CACHE_SECONDS = 24 * 3600  # a product's photo does not change while the app runs


def photo_url(product_id: str) -> str:
    """The URL of a product's photo, relative to the page (works behind a path prefix too)."""
    return "photo/" + quote(str(product_id), safe="")


def photo_route(catalog: Callable[[], Catalog | None]) -> Route:
    """The route serving photos of `catalog()` (None while loading: everything is 404)."""

    async def photo(request: Request) -> Response:
        served = catalog()
        product_id = request.path_params["product_id"]
        if served is None or product_id not in served:
            return Response("No such product photo.", status_code=404)
        return FileResponse(served.image_path(product_id), headers={"Cache-Control": f"public, max-age={CACHE_SECONDS}"})

    return Route(PHOTO_PATH, photo, methods=["GET"])
