"""The attendance export as an Excel workbook (.xlsx), written without holding the rows.

openpyxl's write-only mode appends each row to a temporary file as it is read, so memory
stays flat however many rows there are; the finished workbook (a zip) is then handed on in
chunks from that file. A zip's directory comes last, so the first byte leaves once the last
row is read, not before; the download is still a stream, never one large string.

Every text is written as a text cell, never as a formula (a name starting with "=" stays
that name), and characters a workbook cannot hold (control characters) are dropped. Ids and
minutes are numbers; dates and times stay the ISO 8601 text of the CSV and JSON exports,
offsets included (a spreadsheet's date cells have no time zone).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from sessions.selectors.exports import ATTENDANCE_EXPORT_COLUMNS

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Bytes handed on per chunk once the workbook is finished.
XLSX_CHUNK_BYTES = 64 * 1024

SHEET_TITLE = "Attendance"


def _cell(sheet: WriteOnlyWorksheet, value: Any) -> WriteOnlyCell | int | None:
    if value is None or isinstance(value, int):
        return value
    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", str(value)))
    # openpyxl reads a text starting with "=" as a formula (and "#N/A" as an error): a
    # name in a clinical export must never run in the reader's spreadsheet.
    cell.data_type = "s"
    return cell


def attendance_xlsx_chunks(
    rows: Iterable[dict[str, Any]], *, chunk_bytes: int = XLSX_CHUNK_BYTES
) -> Iterator[bytes]:
    """A workbook of one sheet, "Attendance": the header (:data:`ATTENDANCE_EXPORT_COLUMNS`)
    and a line per row in that column order, in chunks of ``chunk_bytes``. The temporary
    file is removed when the stream ends or is closed half-way."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_TITLE)
    sheet.freeze_panes = "A2"
    sheet.append([_cell(sheet, column) for column in ATTENDANCE_EXPORT_COLUMNS])
    for row in rows:
        sheet.append([_cell(sheet, row[column]) for column in ATTENDANCE_EXPORT_COLUMNS])
    with tempfile.TemporaryFile() as workbook_file:
        workbook.save(workbook_file)
        workbook_file.seek(0)
        while chunk := workbook_file.read(chunk_bytes):
            yield chunk
