"""``/docs``: the interactive API documentation (Swagger UI), served entirely by the node.

FastAPI's default page loads Swagger UI from a public CDN, so on a closed
network it stays blank. The node serves the assets itself instead, from the
``swagger-ui-bundle`` package (Swagger UI's release files repackaged for
Python, Apache-2.0, like Swagger UI itself): we do not vendor a JavaScript
bundle into this repository, and its version is pinned by ordinary Python
packaging. Only the files the page references are served, from a fixed list.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
ASSET_CACHE_S = 86_400
ASSETS: dict[str, str] = {  # file name -> media type: everything the page loads
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


def assets_directory() -> Path:
    return Path(str(swagger_ui_path))


def register_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Serve Swagger UI at ``/docs`` and its assets under ``/docs/assets/``.

    Build the app with ``docs_url=None, redoc_url=None`` so FastAPI's CDN
    pages are not registered too.
    """
    directory = assets_directory()
    missing = [name for name in ASSETS if not (directory / name).is_file()]
    if missing:  # a broken install: say so at start-up, not as a blank page later
        raise RuntimeError(f"swagger-ui-bundle in {directory} lacks {', '.join(missing)}")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
        )

    @app.get(ASSETS_PATH + "/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise StarletteHTTPException(404, f"no such documentation asset: {name}")
        return FileResponse(
            directory / name,
            media_type=media_type,
            headers={"Cache-Control": f"public, max-age={ASSET_CACHE_S}"},
        )


def register_metrics_pointer(app: FastAPI, metrics_url: Callable[[], str]) -> None:
    """``GET /metrics`` on the API port: a 404 that says where the Prometheus metrics are.

    Metrics have their own listener (``[metrics]`` in config.toml) so that a
    scraper never competes with traders; a user who tries the API port gets
    the right address instead of a bare 404.
    """

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> None:
        raise StarletteHTTPException(
            404,
            f"metrics are served on their own port: {metrics_url()} (the [metrics] section of "
            "the node's config.toml)",
        )
