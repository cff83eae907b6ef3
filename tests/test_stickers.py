"""The A4 sticker sheet: each QR on a page, painted from the SVG and read by zxing-cpp, is the
active sticker of the merchant whose name stands above it; only the cooperative's admin prints it.
"""

from __future__ import annotations

import io
import re
import zipfile
from xml.etree import ElementTree

import jwt
import zxingcpp
from problems import assert_problem

from gateway import registry, stickers
from gateway.db import db, transaction
from gateway.models import QrCode, QrKind, QrStatus

SVG = "{http://www.w3.org/2000/svg}"
PIXELS_PER_MM = 8
RECTANGLE = re.compile(r"M(-?[\d.]+) (-?[\d.]+)h([\d.]+)v([\d.]+)h-([\d.]+)z")


def paint(svg: bytes) -> memoryview:
    """Paint every filled path of an A4 SVG page into grey pixels, the way a printer would put
    ink on paper, so that zxing-cpp reads the page as a camera would."""
    root = ElementTree.fromstring(svg)
    assert (root.get("width"), root.get("height")) == ("210mm", "297mm")
    assert root.get("viewBox") == "0 0 210 297"
    width, height = 210 * PIXELS_PER_MM, 297 * PIXELS_PER_MM
    image = bytearray(b"\xff") * (width * height)
    for path in root.iter(f"{SVG}path"):
        drawing = path.get("d")
        rectangles = RECTANGLE.findall(drawing)
        # Every command of the path is a rectangle this painter understands: nothing is skipped.
        assert "".join(RECTANGLE.sub("", drawing)) == ""
        for x, y, across, down, back in rectangles:
            assert across == back
            left, right = (
                round(float(x) * PIXELS_PER_MM),
                round((float(x) + float(across)) * PIXELS_PER_MM),
            )
            top, bottom = (
                round(float(y) * PIXELS_PER_MM),
                round((float(y) + float(down)) * PIXELS_PER_MM),
            )
            for row in range(top, bottom):
                image[row * width + left : row * width + right] = b"\x00" * (right - left)
    return memoryview(bytes(image)).cast("B", shape=(height, width))


def stickers_on(svg: bytes) -> list[dict]:
    """Each sticker group on the page: its merchant, its texts and the cell it occupies."""
    root = ElementTree.fromstring(svg)
    found = []
    for group in root.iter(f"{SVG}g"):
        if group.get("class") != "sticker":
            continue
        frame = group.find(f"{SVG}rect")
        left, top = float(frame.get("x")), float(frame.get("y"))
        found.append(
            {
                "merchant": group.get("data-merchant"),
                "texts": ["".join(node.itertext()) for node in group.iter(f"{SVG}text")],
                "box": (
                    left,
                    top,
                    left + float(frame.get("width")),
                    top + float(frame.get("height")),
                ),
            }
        )
    return found


def decode_page(svg: bytes) -> list[tuple[str, float, float]]:
    """Every QR zxing-cpp finds on the painted page: its text and its centre, in millimetres."""
    results = []
    for barcode in zxingcpp.read_barcodes(paint(svg), formats=zxingcpp.BarcodeFormat.QRCode):
        position = barcode.position
        corners = (
            position.top_left,
            position.top_right,
            position.bottom_left,
            position.bottom_right,
        )
        x = sum(point.x for point in corners) / 4 / PIXELS_PER_MM
        y = sum(point.y for point in corners) / 4 / PIXELS_PER_MM
        results.append((barcode.text, x, y))
    return results


def active_sticker_tokens(city) -> dict[str, str]:
    """The active static QR token of every merchant, by merchant public id."""
    with city.app.app_context():
        rows = db.session.execute(
            db.select(QrCode.token, QrCode.merchant_id).where(
                QrCode.kind == QrKind.STATIC, QrCode.status == QrStatus.ACTIVE
            )
        ).all()
        from gateway.models import Merchant

        ids = dict(db.session.execute(db.select(Merchant.id, Merchant.public_id)).all())
        return {ids[merchant_id]: token for token, merchant_id in rows}


def merchant_names(city, merchants) -> dict[str, str]:
    with city.app.app_context():
        return {m.id: registry.get_merchant(db.session, m.id).name for m in merchants}


def test_each_qr_on_the_sheet_is_the_active_sticker_of_the_merchant_named_on_it(city):
    kts = city.make_cooperative("KTS", kind="transport")
    admin = city.make_admin(kts)
    drivers = [city.make_merchant(kts, kind="taxi") for _ in range(14)]
    shop = city.make_merchant(kts, kind="shop")
    # One driver already had a sticker and lost it: the sheet prints the new one.
    old = city.static_qr(drivers[3])
    rotated = city.post(drivers[3], f"/api/v1/merchants/{drivers[3].id}/static-qr/rotate", None)
    assert rotated.status_code == 201
    # A name with markup and a very long one.
    with city.app.app_context():

        def rename(session):
            registry.get_merchant(session, drivers[0].id).name = 'Taksi <Pak> "Budi" & Anak'
            registry.get_merchant(session, drivers[1].id).name = "Taksi " + "Panjang Sekali " * 6

        transaction(db.session, rename)
    names = merchant_names(city, drivers + [shop])
    path = f"/api/v1/cooperatives/{kts}/stickers.svg"

    first = city.get(admin, f"{path}?kind=taxi")
    assert first.status_code == 200, first.get_data(as_text=True)[:300]
    assert first.mimetype == "image/svg+xml" and first.headers["X-Page-Count"] == "2"
    second = city.get(admin, f"{path}?kind=taxi&page=2")
    tokens = active_sticker_tokens(city)
    assert tokens[drivers[3].id] != old["token"]
    seen = []
    for page, expected_count in ((first.data, 12), (second.data, 2)):
        on_page = stickers_on(page)
        decoded = decode_page(page)
        assert len(on_page) == len(decoded) == expected_count
        for text, x, y in decoded:
            assert text.startswith("http://gateway.test/pay#")
            token = text.split("#", 1)[1]
            merchant_id = jwt.decode(token, options={"verify_signature": False})["sub"]
            # The token is that merchant's active sticker, and sits inside that merchant's frame.
            assert tokens[merchant_id] == token
            (cell,) = [
                s
                for s in on_page
                if s["box"][0] < x < s["box"][2] and s["box"][1] < y < s["box"][3]
            ]
            assert cell["merchant"] == merchant_id
            assert cell["texts"][:3] == [names[merchant_id], "Koperasi KTS", "Scan untuk bayar"]
            seen.append(merchant_id)
        assert "halaman" in ElementTree.tostring(ElementTree.fromstring(page), encoding="unicode")
    assert sorted(seen) == sorted(driver.id for driver in drivers)  # each driver once, no shop
    # And each printed QR pays: the gateway verifies it as that merchant's.
    member = city.make_member(kts)
    verified = city.post(member, "/api/v1/qr/verify", {"token": tokens[drivers[3].id]}, key=None)
    assert verified.status_code == 200 and verified.get_json()["merchant"]["id"] == drivers[3].id

    # Without a kind: every merchant, shop too; the zip holds each page as the page answers it.
    everything = city.get(admin, path)
    assert everything.headers["X-Page-Count"] == "2"
    archive = city.get(admin, f"/api/v1/cooperatives/{kts}/stickers.zip")
    assert archive.status_code == 200 and archive.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.data)) as opened:
        assert opened.namelist() == ["stiker-KTS-1.svg", "stiker-KTS-2.svg"]
        assert opened.read("stiker-KTS-1.svg") == everything.data
        assert opened.read("stiker-KTS-2.svg") == city.get(admin, f"{path}?page=2").data
    # Printing twice issues nothing new: the same active stickers.
    assert active_sticker_tokens(city) == tokens | {shop.id: active_sticker_tokens(city)[shop.id]}
    assert len(active_sticker_tokens(city)) == 15

    # A bad request is refused before any sticker is issued.
    newcomer = city.make_merchant(kts, kind="taxi")
    before = city.count(QrCode)
    assert_problem(city.get(admin, f"{path}?page=3"), 404, "not-found")
    for bad in ("0", "-1", "x", "1.5"):
        assert_problem(city.get(admin, f"{path}?page={bad}"), 422, "validation-failed")
    assert_problem(city.get(admin, f"{path}?kind=bus"), 422, "validation-failed")
    zipped = f"/api/v1/cooperatives/{kts}/stickers.zip?kind=bus"
    assert_problem(city.get(admin, zipped), 422, "validation-failed")
    assert city.count(QrCode) == before
    assert newcomer.id not in active_sticker_tokens(city)


def test_only_the_cooperatives_own_admin_prints_its_sticker_sheet(city):
    kts = city.make_cooperative("KTS", kind="transport")
    ksm = city.make_cooperative("KSM")
    city.make_merchant(kts, kind="taxi")
    foreign_admin = city.make_admin(ksm)
    network = city.make_staff("network_admin")
    driver = city.make_merchant(kts, kind="taxi")
    member = city.make_member(kts)
    before = city.count(QrCode)
    for stranger in (foreign_admin, network, driver, member):
        for suffix in ("svg", "zip"):
            answer = city.get(stranger, f"/api/v1/cooperatives/{kts}/stickers.{suffix}")
            assert_problem(answer, 403, "forbidden")
    assert city.client.get(f"/api/v1/cooperatives/{kts}/stickers.svg").status_code == 401
    assert city.count(QrCode) == before  # a refusal issues no sticker
    # A cooperative with no merchants has no sheet to print.
    empty_admin = city.make_admin(ksm)
    assert_problem(
        city.get(empty_admin, f"/api/v1/cooperatives/{ksm}/stickers.zip"), 404, "not-found"
    )
    assert_problem(
        city.get(empty_admin, f"/api/v1/cooperatives/{ksm}/stickers.svg"), 404, "not-found"
    )


def test_the_cli_writes_the_sheet_one_svg_per_page(city, runner, tmp_path):
    kts = city.make_cooperative("KTS", kind="transport")
    drivers = [city.make_merchant(kts, kind="taxi") for _ in range(13)]
    result = runner.invoke(
        args=["stickers", "--cooperative", "KTS", "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert "13 stickers on 2 pages" in result.output
    pages = sorted((tmp_path / "out").iterdir())
    assert [page.name for page in pages] == ["stiker-KTS-1.svg", "stiker-KTS-2.svg"]
    tokens = active_sticker_tokens(city)
    decoded = [text for page in pages for text, _, _ in decode_page(page.read_bytes())]
    assert sorted(text.split("#", 1)[1] for text in decoded) == sorted(
        tokens[driver.id] for driver in drivers
    )
    missing = runner.invoke(args=["stickers", "--cooperative", "NOPE", "--out", str(tmp_path)])
    assert missing.exit_code != 0 and "no cooperative" in missing.output
    assert stickers.PER_PAGE == 12
