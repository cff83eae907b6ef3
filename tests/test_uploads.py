"""Reading an uploaded sheet: XLSX (made with openpyxl, as an office's Excel would) and CSV as
Excel saves it, found by header in either language."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest

from gateway import uploads
from gateway.uploads import UploadRefused, find_columns, read_sheet

pytestmark = pytest.mark.sqlite_only

COLUMNS = {"phone": ("phone", "nomor_hp", "no_hp"), "name": ("name", "nama"), "tier": ("tier",)}


def xlsx(rows) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_an_xlsx_sheet_reads_numbers_as_typed_and_rows_as_excel_numbers_them():
    data = xlsx(
        [
            ["Nama", "Nomor HP", "Lahir"],
            ["Siti Aminah", 81234567890, date(1980, 5, 17)],
            [None, None, None],
            ["Budi", "0812-1111-2222", None],
        ]
    )
    sheet = read_sheet(data, "anggota.xlsx")
    assert sheet.headers == ["nama", "nomor_hp", "lahir"]
    assert [(r.number, dict(r.cells)) for r in sheet.rows] == [
        (2, {"nama": "Siti Aminah", "nomor_hp": "81234567890", "lahir": "1980-05-17"}),
        (4, {"nama": "Budi", "nomor_hp": "0812-1111-2222", "lahir": ""}),
    ]
    assert find_columns(sheet, COLUMNS, ("phone", "name")) == {"phone": "nomor_hp", "name": "nama"}


def test_a_csv_excel_saved_with_semicolons_a_bom_and_windows_1252_is_read():
    data = "\ufeffnama;no_hp;tier\r\nJosé;081234;basic\r\n".encode("utf-8")
    sheet = read_sheet(data, "a.csv")
    assert [dict(r.cells) for r in sheet.rows] == [
        {"nama": "José", "no_hp": "081234", "tier": "basic"}
    ]
    latin = "name,phone\r\nJos\xe9,0812\r\n".encode("cp1252")
    assert read_sheet(latin, "b.csv").rows[0].get("name") == "José"


def test_a_quoted_cell_with_a_line_break_is_one_row():
    sheet = read_sheet(b'name,phone\n"Siti\nAminah",0812\nBudi,0813\n')
    assert [r.get("name") for r in sheet.rows] == ["Siti\nAminah", "Budi"]


@pytest.mark.parametrize(
    ("data", "filename", "slug_text"),
    [
        (b"", "a.csv", "empty"),
        (b"PK\x03\x04not really a zip", "a.xlsx", "not a readable XLSX"),
        (b"\xd0\xcf\x11\xe0", "old.xls", ".xls"),
        (b"\n\n", "a.csv", "no header"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_a_sentence(data, filename, slug_text):
    with pytest.raises(UploadRefused) as caught:
        read_sheet(data, filename)
    assert slug_text in caught.value.message_en
    assert caught.value.status == 422


def test_a_missing_or_doubled_column_refuses_the_file():
    with pytest.raises(UploadRefused, match="no column phone"):
        find_columns(read_sheet(b"nama\nSiti\n"), COLUMNS, ("phone", "name"))
    with pytest.raises(UploadRefused, match="given twice"):
        find_columns(read_sheet(b"phone,nomor_hp,name\n1,2,3\n"), COLUMNS, ("phone",))


def test_too_many_rows_or_bytes_are_refused(monkeypatch):
    monkeypatch.setattr(uploads, "ROWS_MAX", 3)
    with pytest.raises(UploadRefused, match="more than 3 rows"):
        read_sheet(b"name\n" + b"a\n" * 4)
    monkeypatch.setattr(uploads, "UPLOAD_BYTES_MAX", 10)
    with pytest.raises(UploadRefused, match="larger than"):
        read_sheet(b"name\n" + b"a\n" * 10)
