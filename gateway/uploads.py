"""Files a cooperative's office uploads: a sheet of rows from CSV or XLSX, columns found by header.

An office keeps its lists in Excel. It uploads either the workbook (`.xlsx`, read with
python-calamine, a maintained Rust reader that is fast on ten thousand rows) or a CSV that Excel
saved. Both come out the same: the header row and the data rows as text, each row with the
number a person sees in Excel (the header is row 1), so a report can say "row 14, column nomor_hp".

What Excel does to a file is undone here, once, for every importer:

- a CSV saved by Excel in Indonesia is often separated by `;` (the comma is the decimal mark) and
  may start with a byte-order mark or be in Windows-1252, not UTF-8;
- a phone typed into a number cell comes back as the number 81234567890.0: an integral number
  is read as its digits, so the importer sees "81234567890" (it restores the leading 0 itself);
- a date cell comes back as a date, written here as ISO text;
- blank rows are skipped (their numbers are not reused).

Columns are matched by header with `find_columns`: a header is compared after lower-casing and
turning spaces and dashes into `_`, against the names each column may go by (English and Bahasa
Indonesia), in any order. A missing required column or a column given twice refuses the whole
file; an unknown column is ignored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time

from gateway.errors import GatewayError

# An upload larger than this is refused before it is parsed (10.000 members is about 400 KB).
UPLOAD_BYTES_MAX = 10 * 1024 * 1024
# A sheet with more data rows than this is refused: an import writes all valid rows in one go.
ROWS_MAX = 50_000

XLSX_MAGIC = b"PK\x03\x04"  # an XLSX workbook is a zip file


class UploadRefused(GatewayError):
    status = 422
    slug = "upload-refused"
    title = "Upload refused"
    message_id = "Berkas tidak dapat dibaca."
    message_en = "The file cannot be read."


@dataclass(frozen=True)
class Row:
    """One data row: its number as Excel shows it, and its cells as text by normalized header."""

    number: int
    cells: Mapping[str, str]

    def get(self, column: str) -> str:
        return self.cells.get(column, "")


@dataclass(frozen=True)
class Sheet:
    headers: list[str]  # normalized, in the file's order
    rows: list[Row]


def normalize_header(header: str) -> str:
    """Return a header as it is matched: lower case, spaces and dashes as underscores."""
    text = header.strip().lstrip("\ufeff").lower()
    return "_".join(text.replace("-", " ").replace(".", " ").split())


def cell_text(value: object) -> str:
    """Return a cell's value as the text a person typed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).strip()


def read_sheet(data: bytes, filename: str = "") -> Sheet:
    """Read the first sheet of an XLSX workbook, or a CSV file, into a header and rows."""
    if not data:
        raise UploadRefused("The file is empty.", "Berkas kosong.")
    if len(data) > UPLOAD_BYTES_MAX:
        raise UploadRefused(
            f"The file is larger than {UPLOAD_BYTES_MAX // (1024 * 1024)} MB.",
            f"Berkas lebih besar dari {UPLOAD_BYTES_MAX // (1024 * 1024)} MB.",
        )
    if data.startswith(XLSX_MAGIC) or filename.lower().endswith((".xlsx", ".xlsm")):
        raw_rows = _xlsx_rows(data)
    elif filename.lower().endswith(".xls"):
        raise UploadRefused(
            "Old .xls workbooks are not read: save the sheet as .xlsx or CSV.",
            "Berkas .xls lama tidak dapat dibaca: simpan sebagai .xlsx atau CSV.",
        )
    else:
        raw_rows = _csv_rows(data)
    return _sheet(raw_rows)


def _sheet(raw_rows: Iterator[tuple[int, list[str]]]) -> Sheet:
    headers: list[str] | None = None
    rows: list[Row] = []
    for number, cells in raw_rows:
        if not any(cells):
            continue
        if headers is None:
            headers = [normalize_header(cell) for cell in cells]
            continue
        rows.append(Row(number, {h: v for h, v in zip(headers, cells, strict=False) if h}))
        if len(rows) > ROWS_MAX:
            raise UploadRefused(
                f"The file has more than {ROWS_MAX} rows: split it.",
                f"Berkas berisi lebih dari {ROWS_MAX} baris: bagi menjadi beberapa berkas.",
            )
    if headers is None:
        raise UploadRefused("The file has no header row.", "Berkas tidak punya baris judul.")
    return Sheet(headers, rows)


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        if not workbook.sheet_names:
            raise UploadRefused("The workbook has no sheet.", "Buku kerja tidak punya lembar.")
        sheet = workbook.get_sheet_by_index(0)
        values = sheet.to_python(skip_empty_area=False)
    except UploadRefused:
        raise
    except Exception as error:  # calamine raises its own errors for a damaged file
        raise UploadRefused(
            "The file is not a readable XLSX workbook.",
            "Berkas bukan buku kerja XLSX yang dapat dibaca.",
        ) from error
    return ((index, [cell_text(v) for v in row]) for index, row in enumerate(values, start=1))


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    text = _decode(data)
    if "\x00" in text:
        raise UploadRefused("The file is neither CSV nor XLSX.", "Berkas bukan CSV maupun XLSX.")
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        # csv.reader counts physical lines; a quoted cell with a line break is still one row.
        yield from (
            (number, [cell.strip() for cell in cells])
            for number, cells in enumerate(reader, start=1)
        )
    except csv.Error as error:
        raise UploadRefused(
            f"The CSV file is malformed: {error}.", f"Berkas CSV rusak: {error}."
        ) from error


def find_columns(
    sheet: Sheet, columns: Mapping[str, tuple[str, ...]], required: tuple[str, ...]
) -> dict[str, str]:
    """Map each column key to the header the file uses for it; refuse a missing or double one.

    `columns` gives, for each key, the headers it may go by (normalized), e.g.
    `{"phone": ("phone", "nomor_hp", "no_hp", "hp")}`.
    """
    found: dict[str, str] = {}
    for key, names in columns.items():
        present = [h for h in sheet.headers if h in names]
        if len(present) > 1:
            raise UploadRefused(
                f"The column {key} is given twice ({', '.join(present)}).",
                f"Kolom {key} muncul dua kali ({', '.join(present)}).",
                column=key,
            )
        if present:
            found[key] = present[0]
        elif key in required:
            raise UploadRefused(
                f"The file has no column {key} (a header: {' or '.join(names)}).",
                f"Berkas tidak punya kolom {key} (judul: {' atau '.join(names)}).",
                column=key,
            )
    return found
