"""The table layer: the same table as CSV and XLSX, read back with openpyxl."""

import csv
import io
from datetime import UTC, date, datetime

import openpyxl
import pytest

from gateway.tables import Column, Table, sheet_title, to_csv, to_xlsx

pytestmark = pytest.mark.sqlite_only

COLUMNS = (
    Column("name", "Nama / Name"),
    Column("amount", "Jumlah (Rp)", "rupiah"),
    Column("count", "Banyak", "integer"),
    Column("day", "Tanggal", "date"),
    Column("at", "Waktu (WIB)", "datetime"),
)
ROWS = [
    {
        "name": '=HYPERLINK("http://evil")',
        "amount": 1_250_000,
        "count": 3,
        "day": date(2026, 12, 1),
        "at": datetime(2026, 12, 1, 17, 30, 5),  # naive UTC, as stored: 00:30:05 WIB next day
    },
    {"name": "-1+2", "amount": -500, "count": 0, "day": None, "at": None},
    {"name": "@SUM(A1)", "amount": 0, "count": 1, "day": None, "at": None},
    {
        "name": "Ibu Sari",
        "amount": 7,
        "count": 2,
        "day": None,
        "at": datetime(2026, 12, 1, 1, 0, tzinfo=UTC),
    },
]


def test_xlsx_cells_are_typed_and_user_text_is_never_a_formula():
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(Table("Laporan", COLUMNS, ROWS))))
    sheet = book["Laporan"]
    assert sheet.freeze_panes == "A2"
    assert [cell.value for cell in sheet[1]] == [column.header for column in COLUMNS]
    assert sheet["A1"].font.bold
    first = sheet[2]
    assert first[0].value == '=HYPERLINK("http://evil")' and first[0].data_type == "s"
    assert first[1].value == 1_250_000 and first[1].data_type == "n"
    assert "Rp" in first[1].number_format and "#,##0" in first[1].number_format
    assert first[2].value == 3 and first[2].number_format == "#,##0"
    assert first[3].value == datetime(2026, 12, 1) and first[3].is_date
    assert first[4].value == datetime(2026, 12, 2, 0, 30, 5) and first[4].is_date
    assert sheet["A3"].data_type == "s" and sheet["A3"].value == "-1+2"
    assert sheet["B3"].value == -500
    assert sheet["A4"].data_type == "s" and sheet["A4"].value == "@SUM(A1)"
    assert sheet["D3"].value is None
    assert sheet["E5"].value == datetime(2026, 12, 1, 8, 0)
    for row in sheet.iter_rows(min_row=2):
        assert row[0].data_type == "s"  # never "f"


def test_csv_has_the_same_columns_and_guards_text_cells():
    text = to_csv(Table("Laporan", COLUMNS, ROWS))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [column.header for column in COLUMNS]
    assert rows[1] == [
        '\'=HYPERLINK("http://evil")',
        "1250000",
        "3",
        "2026-12-01",
        "2026-12-02 00:30:05",
    ]
    assert rows[2][:2] == ["'-1+2", "-500"]  # the amount stays a number, the name is guarded
    assert rows[3][0] == "'@SUM(A1)"
    assert rows[4][0] == "Ibu Sari"


def test_several_tables_are_sheets_in_xlsx_and_titled_sections_in_csv():
    first = Table("Per koperasi", (Column("code", "Kode"),), [{"code": "KSM"}])
    second = Table("Per pasangan", (Column("pair", "Pasangan"),), [{"pair": "KSM→KPB"}])
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx([first, second])))
    assert book.sheetnames == ["Per koperasi", "Per pasangan"]
    assert book["Per pasangan"]["A2"].value == "KSM→KPB"
    rows = list(csv.reader(io.StringIO(to_csv([first, second]))))
    assert rows == [
        ["Per koperasi"],
        ["Kode"],
        ["KSM"],
        [],
        ["Per pasangan"],
        ["Pasangan"],
        ["KSM→KPB"],
    ]


def test_sheet_titles_are_what_excel_accepts():
    taken: set[str] = set()
    assert sheet_title("a/b:c*d?[e]", taken) == "a b c d  e"
    long = "x" * 40
    assert sheet_title(long, taken) == "x" * 31
    assert sheet_title(long, taken) == "x" * 27 + " (2)"
    assert sheet_title("", taken) == "Sheet"


def test_an_unknown_column_kind_is_refused():
    with pytest.raises(ValueError):
        Column("x", "X", "float")
