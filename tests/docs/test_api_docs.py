"""`/docs` works on a closed network: the page and every asset it loads come from the node.

Also: `/metrics` on the API port says where the metrics are, and a tx submitted twice
says that its first copy committed. One in-process validator (tests/api/support.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest

from bftx.api.docs import ASSETS
from bftx.exchange import Side
from tests.api.support import LiveCluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCluster]:
    live = LiveCluster(tmp_path_factory.mktemp("cluster") / "testnet")
    try:
        live.start()
        yield live
    finally:
        live.close()


class References(HTMLParser):
    """Every URL a page loads by itself: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


def page_references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    # the page's script also names the OpenAPI document it loads
    return parser.urls + re.findall(r"url: '([^']+)'", html)


def test_docs_page_and_every_asset_it_references_are_served_by_the_node(
    cluster: LiveCluster,
) -> None:
    page = cluster.http.get(f"{cluster.api_url()}/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    references = page_references(page.text)
    assert len(references) >= 4, references  # css, favicon, bundle, openapi.json
    for url in references:
        assert url.startswith("/"), f"{url} is not on the node: the page needs the internet"
        asset = cluster.http.get(f"{cluster.api_url()}{url}")
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
    bundle = cluster.http.get(f"{cluster.api_url()}/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in bundle.text


def test_register_docs_adds_the_page_and_one_route_for_the_listed_assets() -> None:
    from fastapi import FastAPI

    from bftx.api.docs import register_docs

    app = FastAPI(docs_url=None, redoc_url=None)
    register_docs(app)
    paths = {getattr(route, "path", "") for route in app.routes}
    assert {"/docs", "/docs/assets/{name}"} <= paths
    assert set(ASSETS) == {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"}


def test_only_the_listed_assets_are_served(cluster: LiveCluster) -> None:
    for name in ("index.html", "..%2Fswagger-initializer.js", "swagger-initializer.js"):
        response = cluster.http.get(f"{cluster.api_url()}/docs/assets/{name}")
        assert response.status_code == 404, name


def test_fastapi_cdn_pages_are_not_served(cluster: LiveCluster) -> None:
    assert cluster.http.get(f"{cluster.api_url()}/redoc").status_code == 404
    assert "cdn" not in cluster.http.get(f"{cluster.api_url()}/docs").text.lower()


def test_metrics_on_the_api_port_say_which_port_has_them(cluster: LiveCluster) -> None:
    node = cluster.testnet.nodes[0]
    response = cluster.http.get(f"{cluster.api_url()}/metrics")
    assert response.status_code == 404
    assert f"http://{node.metrics_host}:{node.metrics_port}/metrics" in response.json()["detail"]
    metrics = cluster.http.get(f"http://{node.metrics_host}:{node.metrics_port}/metrics")
    assert metrics.status_code == 200


def test_resubmitting_a_committed_tx_says_the_first_copy_committed_and_where(
    cluster: LiveCluster,
) -> None:
    (trader,) = cluster.fresh_traders(1)
    tx = cluster.order_tx(trader, cluster.nonce(trader), Side.BUY, 100, 1)
    committed = cluster.wait_committed(cluster.submit(tx))
    again = cluster.http.post(f"{cluster.api_url()}/v1/txs", json={"tx": "0x" + tx.hex()}).json()
    assert not again["accepted"] and again["code"] in ("nonce_used", "duplicate_tx")
    assert f"already committed at height {committed['height']}" in again["message"]


def test_a_new_tx_with_a_used_nonce_keeps_the_plain_message(cluster: LiveCluster) -> None:
    (trader,) = cluster.fresh_traders(1)
    nonce = cluster.nonce(trader)
    cluster.wait_committed(cluster.submit(cluster.order_tx(trader, nonce, Side.BUY, 100, 1)))
    other = cluster.order_tx(trader, nonce, Side.BUY, 101, 1)  # same nonce, different tx
    refused = cluster.http.post(
        f"{cluster.api_url()}/v1/txs", json={"tx": "0x" + other.hex()}
    ).json()
    assert refused["code"] == "nonce_used" and "already committed" not in refused["message"]


def test_docs_and_their_assets_need_no_signature_on_a_permissioned_network(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    closed = LiveCluster(
        tmp_path_factory.mktemp("permissioned") / "testnet", permissioned_reads=True
    )
    try:
        closed.start()
        assert closed.http.get(f"{closed.api_url()}/v1/status").status_code == 401  # reads closed
        page = closed.http.get(f"{closed.api_url()}/docs")
        assert page.status_code == 200
        for url in page_references(page.text):
            assert closed.http.get(f"{closed.api_url()}{url}").status_code == 200, url
    finally:
        closed.close()
