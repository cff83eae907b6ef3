"""The A4 sticker sheet: many merchants' static QR stickers at once, print-shop ready.

A cooperative with 200 taxi drivers prints their stickers together: each A4 page (SVG, in
millimetres) holds a grid of stickers, each with the merchant's name, the cooperative's name,
"Scan untuk bayar" and the merchant's *active* static QR (issued on first use, exactly as the
merchant's own sticker: `qr.static_for`, one active sticker per merchant). Dashed cut lines mark
each sticker; the page's foot names the cooperative and the page number.

The QR is drawn as one path of dark modules in absolute page coordinates, with a quiet zone of
four modules, at a module size a phone camera reads at arm's length (about 0.5 mm).
"""

from __future__ import annotations

import io
import math
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from xml.sax.saxutils import escape, quoteattr

import segno
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway import qr
from gateway.errors import NotFound, ValidationFailed
from gateway.keys import KeyRing
from gateway.models import Cooperative, Merchant, MerchantKind

PAGE_WIDTH_MM = 210
PAGE_HEIGHT_MM = 297
MARGIN_MM = 10
FOOTER_MM = 7
COLUMNS = 3
ROWS = 4
PER_PAGE = COLUMNS * ROWS
CELL_WIDTH_MM = (PAGE_WIDTH_MM - 2 * MARGIN_MM) / COLUMNS
CELL_HEIGHT_MM = (PAGE_HEIGHT_MM - 2 * MARGIN_MM - FOOTER_MM) / ROWS
QR_SIZE_MM = 44  # with its quiet zone
QUIET_ZONE_MODULES = 4
NAME_CHARACTERS_MAX = 26  # beyond this the name is squeezed into the sticker's width


@dataclass(frozen=True)
class Sticker:
    merchant_id: str
    merchant_name: str
    cooperative_name: str
    qr_id: str
    url: str


def _merchants(cooperative: Cooperative, kind: str | None):
    if kind is not None and kind not in set(MerchantKind):
        raise ValidationFailed(
            "kind must be shop, angkot, taxi or other.",
            "kind harus shop, angkot, taxi atau other.",
        )
    statement = select(Merchant).where(Merchant.cooperative_id == cooperative.id)
    if kind is not None:
        statement = statement.where(Merchant.kind == kind)
    return statement


def check_page(
    session: Session, cooperative: Cooperative, kind: str | None, page: int | None
) -> None:
    """Refuse, before any sticker is issued, a kind that is none, a page the sheet does not
    have, or (`page` None: the whole sheet) a cooperative with no merchants to print."""
    count = session.scalar(
        select(func.count()).select_from(_merchants(cooperative, kind).subquery())
    )
    pages = math.ceil(count / PER_PAGE)
    if page is None and not pages:
        raise NotFound(
            "This cooperative has no merchants to print stickers for.",
            "Koperasi ini belum punya merchant untuk dicetak stikernya.",
        )
    if page is not None and not 1 <= page <= pages:
        raise NotFound(
            f"The sheet has {pages} pages; there is no page {page}.",
            f"Lembar stiker ini {pages} halaman; tidak ada halaman {page}.",
        )


def cooperative_stickers(
    session: Session,
    ring: KeyRing,
    settings: qr.QrSettings,
    cooperative: Cooperative,
    kind: str | None = None,
) -> list[Sticker]:
    """Each merchant of the cooperative (of one kind, if given) with its active sticker, issuing
    the sticker of a merchant that has none; in the order of their names."""
    stickers = []
    statement = _merchants(cooperative, kind)
    for merchant in session.scalars(statement.order_by(Merchant.name, Merchant.id)):
        code = qr.static_for(session, ring, settings, merchant)
        stickers.append(
            Sticker(
                merchant_id=merchant.public_id,
                merchant_name=merchant.name,
                cooperative_name=cooperative.name,
                qr_id=code.public_id,
                url=qr.url_for_token(settings, code.token),
            )
        )
    return stickers


def page_count(stickers: list[Sticker]) -> int:
    return math.ceil(len(stickers) / PER_PAGE)


@lru_cache(maxsize=4096)
def _qr_runs(url: str) -> tuple[int, tuple[tuple[int, int, int], ...]]:
    """The QR of `url` (with its quiet zone) as its width in modules and each row's runs of
    dark modules (row, first column, length). Encoding is the slow part (segno tries all
    eight masks), so it is done once per URL, wherever the sticker lands on a page."""
    code = segno.make(url, error="m", micro=False)
    size = code.symbol_size(border=QUIET_ZONE_MODULES)[0]
    runs = []
    for row_index, row in enumerate(code.matrix_iter(border=QUIET_ZONE_MODULES)):
        column = 0
        while column < size:
            if not row[column]:
                column += 1
                continue
            length = 1
            while column + length < size and row[column + length]:
                length += 1
            runs.append((row_index, column, length))
            column += length
    return size, tuple(runs)


def _qr_path(url: str, x_mm: float, y_mm: float) -> str:
    """The dark modules of `url`'s QR as one SVG path at (x, y), QR_SIZE_MM wide: a rectangle
    per run of dark modules in a row."""
    size, runs = _qr_runs(url)
    module = QR_SIZE_MM / size
    return "".join(
        f"M{x_mm + column * module:.3f} {y_mm + row * module:.3f}"
        f"h{length * module:.3f}v{module:.3f}h{-length * module:.3f}z"
        for row, column, length in runs
    )


def _text(x: float, y: float, size: float, value: str, *, bold=False, colour="#000", fit=None):
    weight = ' font-weight="bold"' if bold else ""
    squeeze = ""
    if fit is not None and len(value) > NAME_CHARACTERS_MAX:
        squeeze = f' textLength="{fit:.1f}" lengthAdjust="spacingAndGlyphs"'
    return (
        f'<text x="{x:.2f}" y="{y:.2f}" font-family="sans-serif" font-size="{size}"{weight}'
        f' fill="{colour}" text-anchor="middle"{squeeze}>{escape(value)}</text>'
    )


def _sticker(sticker: Sticker, x: float, y: float) -> str:
    centre = x + CELL_WIDTH_MM / 2
    width = CELL_WIDTH_MM - 8
    qr_x = centre - QR_SIZE_MM / 2
    qr_y = y + 14
    return (
        f'<g class="sticker" data-merchant={quoteattr(sticker.merchant_id)}>'
        f'<rect x="{x + 1.5:.2f}" y="{y + 1.5:.2f}" width="{CELL_WIDTH_MM - 3:.2f}"'
        f' height="{CELL_HEIGHT_MM - 3:.2f}" rx="3" fill="none" stroke="#0b6e4f"'
        ' stroke-width="0.6"/>'
        + _text(centre, y + 8, 4.2, sticker.merchant_name, bold=True, fit=width)
        + _text(centre, y + 12.5, 3, sticker.cooperative_name, fit=width)
        + f'<path class="qr" fill="#000" d="{_qr_path(sticker.url, qr_x, qr_y)}"/>'
        + _text(
            centre, qr_y + QR_SIZE_MM + 3.6, 3.4, "Scan untuk bayar", bold=True, colour="#0b6e4f"
        )
        + _text(centre, qr_y + QR_SIZE_MM + 6.6, 2.2, "Interkop · pembayaran antar koperasi")
        + "</g>"
    )


def render_page(stickers: list[Sticker], page: int, cooperative_name: str) -> bytes:
    """Page `page` (from 1) of the sheet as an A4 SVG: up to PER_PAGE stickers and cut lines."""
    pages = page_count(stickers)
    if not 1 <= page <= pages:
        raise NotFound(
            f"The sheet has {pages} pages; there is no page {page}.",
            f"Lembar stiker ini {pages} halaman; tidak ada halaman {page}.",
        )
    on_page = stickers[(page - 1) * PER_PAGE : page * PER_PAGE]
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{PAGE_WIDTH_MM}mm"'
        f' height="{PAGE_HEIGHT_MM}mm" viewBox="0 0 {PAGE_WIDTH_MM} {PAGE_HEIGHT_MM}">',
        f'<rect width="{PAGE_WIDTH_MM}" height="{PAGE_HEIGHT_MM}" fill="#fff"/>',
    ]
    # Cut lines between the stickers, dashed and light, across the whole grid.
    cut = 'stroke="#999" stroke-width="0.2" stroke-dasharray="2 1.5"'
    bottom = MARGIN_MM + ROWS * CELL_HEIGHT_MM
    for column in range(COLUMNS + 1):
        x = MARGIN_MM + column * CELL_WIDTH_MM
        parts.append(
            f'<line class="cut" x1="{x:.2f}" y1="{MARGIN_MM}" x2="{x:.2f}"'
            f' y2="{bottom:.2f}" {cut}/>'
        )
    for row in range(ROWS + 1):
        y = MARGIN_MM + row * CELL_HEIGHT_MM
        parts.append(
            f'<line class="cut" x1="{MARGIN_MM}" y1="{y:.2f}"'
            f' x2="{PAGE_WIDTH_MM - MARGIN_MM}" y2="{y:.2f}" {cut}/>'
        )
    for index, sticker in enumerate(on_page):
        row, column = divmod(index, COLUMNS)
        parts.append(
            _sticker(sticker, MARGIN_MM + column * CELL_WIDTH_MM, MARGIN_MM + row * CELL_HEIGHT_MM)
        )
    parts.append(
        _text(
            PAGE_WIDTH_MM / 2,
            PAGE_HEIGHT_MM - MARGIN_MM,
            2.8,
            f"{cooperative_name} · stiker QR · halaman {page} dari {pages}",
        )
    )
    parts.append("</svg>\n")
    return "".join(parts).encode()


def page_file_name(code: str, page: int, pages: int) -> str:
    return f"stiker-{code}-{page:0{len(str(pages))}d}.svg"


def render_zip(stickers: list[Sticker], cooperative: Cooperative) -> bytes:
    """Every page of the sheet, one SVG each, in a zip a print shop opens."""
    pages = page_count(stickers)
    if not pages:
        raise NotFound(
            "This cooperative has no merchants to print stickers for.",
            "Koperasi ini belum punya merchant untuk dicetak stikernya.",
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for page in range(1, pages + 1):
            archive.writestr(
                page_file_name(cooperative.code, page, pages),
                render_page(stickers, page, cooperative.name),
            )
    return buffer.getvalue()
