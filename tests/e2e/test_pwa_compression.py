"""Compressed answers, without a browser: the app's files and the API's JSON come as brotli where
the client accepts it, else gzip, each encoding with its own ETag and `Vary: Accept-Encoding`;
small answers, PNGs and streams go as they are; the long poll still answers."""

from __future__ import annotations

import gzip
import json
import threading
import time
import uuid
from pathlib import Path

import brotli
import pytest
from flask import Response, stream_with_context

PWA = Path(__file__).resolve().parents[2] / "pwa"
CHROME = "gzip, deflate, br, zstd"  # what Chromium sends
on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
DECODE = {"br": brotli.decompress, "gzip": gzip.decompress}


def get(client, path, **headers):
    response = client.get(path, headers=headers)
    response.get_data()
    response.close()
    return response


def body(response) -> bytes:
    """The answer's body as sent, decoded by its Content-Encoding."""
    encoding = response.headers.get("Content-Encoding")
    return DECODE[encoding](response.data) if encoding else response.data


@on_sqlite
@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/scripts/App.js",
        "/styles/base.css",
        "/manifest.webmanifest",
        "/sw.js",
        "/vendor/barcode-detector-3.2.2/zxing-exported.js",
        "/vendor/barcode-detector-3.2.2/zxing_reader.wasm",
    ],
)
def test_the_apps_files_come_as_brotli_else_gzip_each_with_its_own_etag(client, path):
    file = PWA / ("index.html" if path == "/" else path.removeprefix("/"))
    plain = get(client, path)
    assert "Content-Encoding" not in plain.headers and plain.data == file.read_bytes()
    etags = {plain.headers["ETag"]}
    for accepted, encoding in ((CHROME, "br"), ("gzip", "gzip"), ("br;q=0.5, gzip", "gzip")):
        response = get(client, path, **{"Accept-Encoding": accepted})
        assert response.headers["Content-Encoding"] == encoding, accepted
        assert body(response) == file.read_bytes()
        assert len(response.data) < 0.6 * len(file.read_bytes())
        assert int(response.headers["Content-Length"]) == len(response.data)
        assert "Accept-Encoding" in response.headers["Vary"]
        etag = response.headers["ETag"]
        assert etag.endswith(f':{encoding}"')
        etags.add(etag)
        # A revalidation of this encoding is a 304 without a body.
        again = get(client, path, **{"Accept-Encoding": accepted, "If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
    assert len(etags) == 3  # plain, br, gzip
    # The plain file's ETag does not stand for the gzip one: the gzip body comes.
    other = get(client, path, **{"Accept-Encoding": "gzip", "If-None-Match": plain.headers["ETag"]})
    assert other.status_code == 200 and other.headers["Content-Encoding"] == "gzip"


@on_sqlite
def test_pngs_and_small_files_go_as_they_are_and_vary_all_the_same(client):
    for path in ("/icons/icon-192.png", "/scripts/main.js"):  # main.js: under 500 bytes
        response = get(client, path, **{"Accept-Encoding": CHROME})
        assert "Content-Encoding" not in response.headers, path
        assert "Accept-Encoding" in response.headers["Vary"], path


@on_sqlite
def test_only_the_page_and_the_worker_carry_the_policy_headers(client):
    for path in ("/", "/sw.js"):
        assert "Content-Security-Policy" in get(client, path).headers, path
    for path in ("/scripts/App.js", "/styles/base.css", "/icons/icon-192.png"):
        response = get(client, path)
        assert "Content-Security-Policy" not in response.headers, path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path


@on_sqlite
def test_api_json_problems_and_svg_come_compressed_and_small_answers_plain(client, city):
    coop = city.make_cooperative("KSM")
    merchant = city.make_merchant(coop)
    document = get(client, "/api/v1/openapi.json", **{"Accept-Encoding": CHROME})
    assert document.headers["Content-Encoding"] == "br"
    assert body(document).startswith(b"{") and "Accept-Encoding" in document.headers["Vary"]
    assert document.headers["Cache-Control"] == "no-store"

    # A problem document long enough to be worth it (one error per unknown field).
    fields = {f"unknown_field_{n}": "x" for n in range(20)}
    problem = client.post(
        "/api/v1/auth/login",
        json={"phone": "+6281", "pin": "1", **fields},
        headers={"Accept-Encoding": "gzip"},
    )
    assert problem.status_code == 422 and problem.mimetype == "application/problem+json"
    assert problem.headers["Content-Encoding"] == "gzip"
    assert b"validation-failed" in body(problem)

    # A short problem and a short answer: not worth compressing.
    short = client.get("/api/v1/nope", headers={"Accept-Encoding": CHROME})
    assert short.status_code == 404 and "Content-Encoding" not in short.headers
    health = get(client, "/healthz", **{"Accept-Encoding": CHROME})
    assert "Content-Encoding" not in health.headers
    assert health.headers["Vary"] == "Accept-Encoding"

    qr = city.issue_qr(merchant, 12_500)
    svg = get(client, f"/api/v1/qr/{qr['id']}.svg", **{"Accept-Encoding": CHROME})
    assert svg.mimetype == "image/svg+xml" and svg.headers["Content-Encoding"] == "br"
    assert body(svg).lstrip().startswith(b"<")
    png = get(client, f"/api/v1/qr/{qr['id']}.png", **{"Accept-Encoding": CHROME})
    assert "Content-Encoding" not in png.headers


@on_sqlite
def test_the_long_poll_answers_compressed_when_a_payment_lands(app, client, city):
    coop = city.make_cooperative("KSM")
    merchant = city.make_merchant(coop, kind="angkot")
    member = city.make_member(coop)
    admin = city.make_admin(coop)
    assert city.cash_in(admin, member, 50_000).status_code == 201
    feed = city.get(merchant, f"/api/v1/merchants/{merchant.id}/payments").get_json()
    token = city.static_qr(merchant)["token"]
    headers = {**city.headers(merchant), "Accept-Encoding": CHROME}
    city.token(member)  # logged in before the poll starts: the payment is all that is left

    paid = []

    def pay_soon():
        time.sleep(0.5)
        with app.test_client() as payer:
            answer = payer.post(
                "/api/v1/payments",
                json={"token": token, "amount": 4_000, "pin": member.pin},
                headers=city.headers(member, uuid.uuid4().hex),
            )
            paid.append(answer.status_code)

    payer = threading.Thread(target=pay_soon)
    payer.start()
    started = time.monotonic()
    poll = client.get(
        f"/api/v1/merchants/{merchant.id}/payments?after={feed['feed_cursor']}&wait=10",
        headers=headers,
    )
    payer.join()
    assert paid == [201]
    assert poll.status_code == 200 and time.monotonic() - started < 10
    answer = json.loads(body(poll))
    assert [item["amount"] for item in answer["items"]] == [4_000]
    assert poll.headers["Content-Encoding"] == "br"


@on_sqlite
def test_a_streamed_answer_is_never_held_in_a_compressor(app):
    def chunks():
        yield "a" * 2_000
        yield "b" * 2_000

    app.add_url_rule(
        "/stream-test",
        "stream_test",
        lambda: Response(stream_with_context(chunks()), mimetype="text/plain"),
    )
    with app.test_client() as client:
        response = client.get("/stream-test", headers={"Accept-Encoding": CHROME})
        assert "Content-Encoding" not in response.headers
        assert response.get_data(as_text=True) == "a" * 2_000 + "b" * 2_000
