"""Reports as tables, written once and rendered as CSV or XLSX.

A use case returns its figures; a report module turns them into one or more `Table`s (a title,
typed columns, rows as mappings); `to_csv` and `to_xlsx` write any of them. So every report
that has CSV has XLSX too, with the same columns, and the rules below live here only:

- amounts (`rupiah`) are integer rupiah: numbers in both formats, with a rupiah number format in
  XLSX (`Rp 1.234.567` in an Indonesian Excel; the thousands separator is the reader's locale);
- `date` and `datetime` cells are real dates in XLSX, shown in Asia/Jakarta (an aware datetime
  is converted; a naive one is taken as UTC, as the database stores it); ISO text in CSV;
- text is always text: a name that starts with `=`, `+`, `-`, `@` (or a tab or a carriage
  return) is written as a string cell in XLSX, never a formula, and is prefixed with `'` in CSV,
  as OWASP's CSV-injection advice says, since a spreadsheet opens CSV as formulas;
- XLSX has a bold header row and frozen panes (the header stays while scrolling).

Nothing here touches Flask: `gateway/api/export.py` picks the format from the request.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

import xlsxwriter

from gateway.limits import JAKARTA

Kind = Literal["text", "rupiah", "integer", "date", "datetime", "bps"]
KINDS: tuple[str, ...] = ("text", "rupiah", "integer", "date", "datetime", "bps")

# Characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
SHEET_TITLE_MAX = 31  # Excel's limit on a worksheet's name
_SHEET_TITLE_FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})

RUPIAH_FORMAT = '"Rp" #,##0;[Red]-"Rp" #,##0'
INTEGER_FORMAT = "#,##0"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
BPS_FORMAT = "0"


@dataclass(frozen=True)
class Column:
    """One column: the row key it reads, the header a person sees, and what it holds."""

    key: str
    header: str
    kind: Kind = "text"
    width: int | None = None  # XLSX column width in characters; a default by kind otherwise

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


@dataclass(frozen=True)
class Table:
    """A titled table: a worksheet in XLSX, a section in CSV."""

    title: str
    columns: Sequence[Column]
    rows: Iterable[Mapping[str, Any]] = field(default_factory=list)


def jakarta(value: datetime) -> datetime:
    """A stored time (naive UTC, or aware) as Asia/Jakarta wall-clock time, naive."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(JAKARTA).replace(tzinfo=None)


def guard_text(value: str) -> str:
    """A text cell for CSV that no spreadsheet runs as a formula."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def _csv_cell(column: Column, value: Any) -> Any:
    if value is None:
        return ""
    if column.kind in ("rupiah", "integer", "bps"):
        return int(value)
    if column.kind == "datetime" and isinstance(value, datetime):
        return jakarta(value).isoformat(sep=" ", timespec="seconds")
    if column.kind == "date" and isinstance(value, date):
        return value.isoformat()
    return guard_text(str(value))


def to_csv(tables: Table | Sequence[Table]) -> str:
    """CSV: one table as a header row and its rows; several as titled sections, a blank line
    between them."""
    tables = [tables] if isinstance(tables, Table) else list(tables)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for index, table in enumerate(tables):
        if len(tables) > 1:
            if index:
                writer.writerow([])
            writer.writerow([guard_text(table.title)])
        writer.writerow([guard_text(column.header) for column in table.columns])
        for row in table.rows:
            writer.writerow([_csv_cell(column, row.get(column.key)) for column in table.columns])
    return buffer.getvalue()


def sheet_title(title: str, taken: set[str]) -> str:
    """A worksheet name Excel accepts: no []:*?/\\, at most 31 characters, unique."""
    base = title.translate(_SHEET_TITLE_FORBIDDEN).strip().strip("'") or "Sheet"
    base = base[:SHEET_TITLE_MAX]
    name, number = base, 2
    while name.lower() in taken:
        suffix = f" ({number})"
        name = base[: SHEET_TITLE_MAX - len(suffix)] + suffix
        number += 1
    taken.add(name.lower())
    return name


_DEFAULT_WIDTH = {"text": 24, "rupiah": 16, "integer": 10, "date": 12, "datetime": 20, "bps": 8}


def to_xlsx(tables: Table | Sequence[Table]) -> bytes:
    """XLSX: one worksheet per table, typed cells, a bold frozen header row."""
    tables = [tables] if isinstance(tables, Table) else list(tables)
    buffer = io.BytesIO()
    # Strings stay strings: no formula, URL or number is ever inferred from user text.
    workbook = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    header = workbook.add_format({"bold": True, "bottom": 1, "text_wrap": True})
    formats = {
        "rupiah": workbook.add_format({"num_format": RUPIAH_FORMAT}),
        "integer": workbook.add_format({"num_format": INTEGER_FORMAT}),
        "bps": workbook.add_format({"num_format": BPS_FORMAT}),
        "date": workbook.add_format({"num_format": DATE_FORMAT}),
        "datetime": workbook.add_format({"num_format": DATETIME_FORMAT}),
    }
    taken: set[str] = set()
    for table in tables:
        sheet = workbook.add_worksheet(sheet_title(table.title, taken))
        for col, column in enumerate(table.columns):
            sheet.write_string(0, col, column.header, header)
            sheet.set_column(col, col, column.width or _DEFAULT_WIDTH[column.kind])
        sheet.freeze_panes(1, 0)
        for line, row in enumerate(table.rows, start=1):
            for col, column in enumerate(table.columns):
                _write_cell(sheet, line, col, column, row.get(column.key), formats)
    workbook.close()
    return buffer.getvalue()


def _write_cell(sheet, line: int, col: int, column: Column, value: Any, formats) -> None:
    if value is None:
        return
    kind = column.kind
    if kind in ("rupiah", "integer", "bps"):
        sheet.write_number(line, col, int(value), formats[kind])
    elif kind == "datetime" and isinstance(value, datetime):
        sheet.write_datetime(line, col, jakarta(value), formats["datetime"])
    elif kind == "date" and isinstance(value, date):
        day = value if not isinstance(value, datetime) else jakarta(value).date()
        sheet.write_datetime(line, col, datetime(day.year, day.month, day.day), formats["date"])
    else:
        sheet.write_string(line, col, str(value))
