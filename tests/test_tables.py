"""Uploads as people really make them: Excel CSVs in many encodings, TSVs, workbooks, and junk."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import random
import zipfile

import openpyxl
import pandas as pd
import pytest
import xlsxwriter

from core import constants
from core.errors import InputError
from core.tables import ENCODINGS, SEPARATORS, LoadedTable, TableInfo, list_sheets, load_table, read_table


def rows_of(table: LoadedTable) -> list[list[str]]:
    return table.frame.values.tolist()


def assert_all_str(frame: pd.DataFrame) -> None:
    assert all(isinstance(v, str) for v in frame.to_numpy().ravel())
    assert all(isinstance(c, str) for c in frame.columns)
    assert isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1


def xlsx_bytes(sheets: dict[str, list[list[object]]]) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --- Formats and separators ---------------------------------------------------------------------


def test_plain_utf8_csv_opens_with_shape_and_info() -> None:
    table = load_table(b"name,age\nAda,36\nAlan,41\n", "people.csv")
    assert list(table.frame.columns) == ["name", "age"]
    assert rows_of(table) == [["Ada", "36"], ["Alan", "41"]]
    assert table.info == TableInfo("csv", "utf-8", ",", None, (), 2, 2, ())
    assert_all_str(table.frame)


def test_read_table_returns_the_frame() -> None:
    frame = read_table(b"a,b\n1,2\n", "x.csv")
    assert frame.values.tolist() == [["1", "2"]]


def test_tsv_with_commas_inside_cells_splits_on_tabs() -> None:
    data = b"name\tnote\nSmith, John\tlikes tea, coffee\nDoe, Jane\tok\n"
    table = load_table(data, "export.csv")
    assert table.info.separator == "\t"
    assert rows_of(table) == [["Smith, John", "likes tea, coffee"], ["Doe, Jane", "ok"]]


def test_semicolon_csv_with_decimal_commas_from_european_excel() -> None:
    table = load_table(b"Produkt;Preis\nApfel;1,50\nBirne;2\nKiwi;0,99\n", "preise.csv")
    assert table.info.separator == ";"
    assert rows_of(table) == [["Apfel", "1,50"], ["Birne", "2"], ["Kiwi", "0,99"]]


@pytest.mark.parametrize("line_end", ["\r\n", "\n"])
def test_excel_sep_line_is_removed_and_honoured(line_end: str) -> None:
    # The sep line names a separator detection would not pick (commas are consistent too).
    text = line_end.join(["sep=;", "a,x;b", "1,y;2", ""])
    table = load_table(text.encode(), "x.csv")
    assert table.info.separator == ";"
    assert list(table.frame.columns) == ["a,x", "b"]
    assert rows_of(table) == [["1,y", "2"]]


def test_pipe_separated_file_opens() -> None:
    table = load_table(b"id|text\n1|hello, world\n2|bye\n", "dump.txt")
    assert table.info.separator == "|"
    assert rows_of(table) == [["1", "hello, world"], ["2", "bye"]]


def test_single_column_file_is_fine_and_reports_comma() -> None:
    table = load_table(b"question\nWhat is 2+2?\nWho wrote Hamlet; and when?\n", "q.csv")
    assert table.info.separator == ","
    assert list(table.frame.columns) == ["question"]
    assert rows_of(table) == [["What is 2+2?"], ["Who wrote Hamlet; and when?"]]


def test_single_column_with_commas_in_some_answers_stays_one_column() -> None:
    table = load_table(b"prompt\nhello, world\nyes, no\nfine\n", "p.csv")
    assert list(table.frame.columns) == ["prompt"]
    assert table.frame["prompt"].tolist() == ["hello, world", "yes, no", "fine"]


def test_separator_detection_respects_quotes() -> None:
    data = b'a;b\n"x;y;z";1\n"p;q";2\n"r";3\n'
    table = load_table(data, "x.csv")
    assert table.info.separator == ";"
    assert rows_of(table) == [["x;y;z", "1"], ["p;q", "2"], ["r", "3"]]


def test_separator_found_past_a_few_ragged_rows() -> None:
    lines = ["a,b,c"] + [f"{i},x;y,z" for i in range(40)] + ["short,row"]
    table = load_table("\n".join(lines).encode(), "x.csv")
    assert table.info.separator == ","
    assert table.info.n_rows == 41 and table.info.n_columns == 3


def test_tsv_extension_prefers_tab_when_both_fit() -> None:
    data = b"a,b\tc,d\n1,2\t3,4\n"
    assert load_table(data, "x.tsv").info.separator == "\t"
    assert load_table(data, "x.tab").info.separator == "\t"
    assert load_table(data, "x.csv").info.separator == ","


def test_xlsx_renamed_to_csv_just_opens() -> None:
    data = xlsx_bytes({"Data": [["name", "n"], ["Ada", 1]]})
    table = load_table(data, "report.csv")
    assert table.info.kind == "xlsx"
    assert rows_of(table) == [["Ada", "1"]]
    assert any(".csv" in note for note in table.info.notes)


def test_csv_named_xlsx_opens_as_text() -> None:
    table = load_table(b"a,b\n1,2\n", "fake.xlsx")
    assert table.info.kind == "csv"
    assert rows_of(table) == [["1", "2"]]
    assert any("plain text" in note for note in table.info.notes)


def test_old_binary_xls_asks_to_save_as_xlsx_or_csv() -> None:
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500)
    with pytest.raises(InputError, match=r"\.xlsx or CSV"):
        load_table(data, "old.xls")
    with pytest.raises(InputError, match=r"\.xls"):
        list_sheets(data)


# --- Encodings ------------------------------------------------------------------------------------


def test_utf8_bom_csv_opens_without_bom_in_header() -> None:
    table = load_table("名前,city\n太郎,Köln\n".encode("utf-8-sig"), "x.csv")
    assert table.info.encoding == "utf-8-sig"
    assert list(table.frame.columns) == ["名前", "city"]
    assert rows_of(table) == [["太郎", "Köln"]]


def test_gbk_csv_from_chinese_excel_opens() -> None:
    table = load_table("姓名,年龄\n张三,30\n".encode("gb18030"), "名单.csv")
    assert table.info.encoding == "gb18030"
    assert list(table.frame.columns) == ["姓名", "年龄"]
    assert rows_of(table) == [["张三", "30"]]


@pytest.mark.parametrize(
    "text",
    [
        "产品名称,描述,价格\n苹果手机,最新款智能手机，支持5G网络,5999\n华为笔记本,轻薄便携，续航持久,6999\n",
        "问题\n请把这句话翻译成英文\n今天天气很好。\n",
        "城市,人口\n北京,2189万\n上海,2487万\n广州,1881万\n",
        "型号,说明\nA型,标准版\nB型,加强版\n",
    ],
)
def test_typical_chinese_text_decodes_as_gb18030(text: str) -> None:
    table = load_table(text.encode("gb18030"), "x.csv")
    assert table.info.encoding == "gb18030"
    expected = [line.split(",") for line in text.strip().split("\n")]
    assert [list(table.frame.columns)] + rows_of(table) == expected


def test_cp1252_western_excel_csv_opens() -> None:
    text = 'item,note\nCafé crème,"naïve résumé, 5 €"\n'
    table = load_table(text.encode("cp1252"), "menu.csv")
    assert table.info.encoding == "cp1252"
    assert rows_of(table) == [["Café crème", "naïve résumé, 5 €"]]


@pytest.mark.parametrize(
    "text",
    [
        "a,b\nCafé,1\n",
        "word\nnaïve\n",
        "price\n5 €\n",
        "Name,Stadt\nMüller,München\nGröße,Köln\n",
        "nome,descrição\nJoão,informação\nConceição,ações\n",
        "nombre,ciudad\nJosé,España\nÁngel,Ávila\n",
        "quote\n“Hello” – she said\n",
    ],
)
def test_short_western_accented_files_decode_as_cp1252(text: str) -> None:
    table = load_table(text.encode("cp1252"), "x.csv")
    assert table.info.encoding == "cp1252"
    expected = [line.split(",") for line in text.strip().split("\n")]
    assert [list(table.frame.columns)] + rows_of(table) == expected


def test_traditional_chinese_big5_and_japanese_shift_jis_are_recognised() -> None:
    big5 = load_table("姓名,城市\n張三,臺北\n李四,高雄\n".encode("big5"), "tw.csv")
    assert big5.info.encoding == "big5" and rows_of(big5) == [["張三", "臺北"], ["李四", "高雄"]]
    sjis = load_table("名前,都市\n田中太郎,東京\nさとう,おおさか\n".encode("shift_jis"), "jp.csv")
    assert sjis.info.encoding == "shift_jis" and rows_of(sjis) == [["田中太郎", "東京"], ["さとう", "おおさか"]]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_excel_unicode_text_utf16_tab_separated_opens(codec: str) -> None:
    text = "名前\tnote\n太郎\tcafé, ok\nAda\t€5\n"
    data = text.encode(codec)
    if codec != "utf-16":  # explicit-endian codecs write no BOM, so add the one Excel writes
        data = ("\ufeff" + text).encode(codec)
    table = load_table(data, "unicode.txt")
    assert table.info.encoding == "utf-16"
    assert table.info.separator == "\t"
    assert list(table.frame.columns) == ["名前", "note"]
    assert rows_of(table) == [["太郎", "café, ok"], ["Ada", "€5"]]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_detected(codec: str) -> None:
    table = load_table("id,text\n1,hello\n2,你好\n".encode(codec), "x.csv")
    assert table.info.encoding == codec
    assert rows_of(table) == [["1", "hello"], ["2", "你好"]]


def test_encoding_override_is_used_instead_of_detection() -> None:
    data = "a,b\nCafé,1\n".encode("cp1252")
    table = load_table(data, "x.csv", encoding="latin-1")
    assert table.info.encoding == "latin-1"
    assert rows_of(table) == [["Café", "1"]]
    # Forcing the wrong one is the user's call: the bytes decode, the text is garbled.
    forced = load_table("姓名,年龄\n张三,30\n".encode("gb18030"), "x.csv", encoding="cp1252")
    assert forced.info.encoding == "cp1252" and forced.frame.columns[0] != "姓名"


def test_encoding_override_that_cannot_decode_says_so() -> None:
    with pytest.raises(InputError, match="cannot be read as utf-8"):
        load_table("姓名,年龄\n张三,30\n".encode("gb18030"), "x.csv", encoding="utf-8")


def test_encoding_override_that_decodes_into_control_characters_says_so() -> None:
    with pytest.raises(InputError, match="does not read as text in utf-8"):
        load_table("a\tb\n1\t2\n".encode("utf-16-le"), "x.txt", encoding="utf-8")


def test_unknown_encoding_override_is_an_input_error() -> None:
    with pytest.raises(InputError, match="not a known text encoding"):
        load_table(b"a,b\n1,2\n", "x.csv", encoding="klingon-8")


def test_utf8_override_on_bom_file_still_gives_clean_header() -> None:
    table = load_table("name,x\nA,1\n".encode("utf-8-sig"), "x.csv", encoding="utf-8")
    assert list(table.frame.columns) == ["name", "x"]


def test_every_offered_encoding_is_a_valid_override() -> None:
    for encoding in ENCODINGS:
        table = load_table("a,b\n1,2\n".encode(encoding), "x.csv", encoding=encoding)
        assert rows_of(table) == [["1", "2"]]


def test_separator_override_is_used_instead_of_detection() -> None:
    data = b"a,x;b\n1,y;2\n"
    assert load_table(data, "x.csv").info.separator == ","
    table = load_table(data, "x.csv", separator=SEPARATORS["Semicolon"])
    assert table.info.separator == ";"
    assert rows_of(table) == [["1,y", "2"]]
    assert set(SEPARATORS.values()) == {",", ";", "\t", "|"}


def test_invalid_separator_override_is_an_input_error() -> None:
    for bad in ("", ",;", '"', "\n"):
        with pytest.raises(InputError, match="single character"):
            load_table(b"a,b\n1,2\n", "x.csv", separator=bad)


def test_utf8_file_with_one_damaged_byte_opens_with_a_note() -> None:
    data = b"name,city\n" + "Zoë,Köln\n".encode() * 20 + b"Bad\xff,Paris\n"
    table = load_table(data, "x.csv")
    assert table.info.encoding == "utf-8"
    assert table.frame["name"].iloc[0] == "Zoë" and table.frame["name"].iloc[-1] == "Bad\ufffd"
    assert any("could not be read" in note for note in table.info.notes)


# --- Parsing: quotes, line endings, exact cells ----------------------------------------------------


def test_quoted_fields_with_commas_doubled_quotes_and_newlines() -> None:
    data = b'id,text\n1,"Hello, world"\n2,"She said ""hi"""\n3,"line one\nline two"\n4,"a\r\nb"\n'
    table = load_table(data, "x.csv")
    assert table.frame["text"].tolist() == ["Hello, world", 'She said "hi"', "line one\nline two", "a\r\nb"]


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_cr_lf_and_crlf_line_endings(newline: str) -> None:
    text = newline.join(["a,b", "1,2", "3,4", ""])
    table = load_table(text.encode(), "x.csv")
    assert rows_of(table) == [["1", "2"], ["3", "4"]]


def test_cells_stay_exactly_as_typed() -> None:
    values = ["007", "12345678901234567890", "NA", "null", "N/A", "NaN", "", "1e5", " padded ", "TRUE", "-0", "1.50"]
    header = ",".join(f"c{i}" for i in range(len(values)))
    data = f"{header}\n{','.join(values)}\nx,{','.join([''] * (len(values) - 1))}\n".encode()
    table = load_table(data, "x.csv")
    assert rows_of(table)[0] == values
    assert rows_of(table)[1] == ["x"] + [""] * (len(values) - 1)
    assert_all_str(table.frame)


def test_unclosed_quote_is_reported_with_its_row() -> None:
    with pytest.raises(InputError, match=r"row 3 is never closed"):
        load_table(b'a,b\n1,"ok"\n2,"oops\n3,4\n5,6\n', "x.csv")


# --- XLSX -----------------------------------------------------------------------------------------


def test_xlsx_reads_first_sheet_by_default_and_lists_all() -> None:
    data = xlsx_bytes({"First": [["q"], ["one"]], "Second": [["q"], ["two"]]})
    table = load_table(data, "book.xlsx")
    assert table.info.kind == "xlsx" and table.info.sheet == "First"
    assert table.info.sheet_names == ("First", "Second")
    assert table.info.encoding is None and table.info.separator is None
    assert rows_of(table) == [["one"]]
    assert rows_of(load_table(data, "book.xlsx", sheet="Second")) == [["two"]]
    assert list_sheets(data) == ["First", "Second"]


def test_xlsx_unknown_sheet_lists_the_sheets() -> None:
    data = xlsx_bytes({"Alpha": [["q"], ["1"]], "Beta": [["q"], ["2"]]})
    with pytest.raises(InputError, match=r"'Gamma'.*'Alpha', 'Beta'"):
        load_table(data, "book.xlsx", sheet="Gamma")


def test_xlsx_values_become_the_text_a_user_expects() -> None:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf)
    ws = wb.add_worksheet("S")
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    stamp_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    time_fmt = wb.add_format({"num_format": "hh:mm:ss"})
    ws.write_row(0, 0, ["int", "float", "big", "small", "date", "stamp", "yes", "no", "none", "text", "formula", "time"])
    ws.write_number(1, 0, 12.0)
    ws.write_number(1, 1, 0.1)
    ws.write_number(1, 2, 1234567890123)
    ws.write_number(1, 3, 0.0000001)
    ws.write_datetime(1, 4, dt.datetime(2024, 3, 1), date_fmt)
    ws.write_datetime(1, 5, dt.datetime(2024, 3, 1, 13, 45), stamp_fmt)
    ws.write_boolean(1, 6, True)
    ws.write_boolean(1, 7, False)
    ws.write_blank(1, 8, None)
    ws.write_string(1, 9, "007")
    ws.write_formula(1, 10, "=A2*2", None, 24)  # the cached value is what a user last saw
    ws.write_datetime(1, 11, dt.time(13, 45, 10), time_fmt)
    ws.write_row(2, 0, [0.1 + 0.2, 2.5, 1.5e20, -3.0, "NA", "", "", "", "", "N/A", "", ""])
    wb.close()
    table = load_table(buf.getvalue(), "values.xlsx")
    assert rows_of(table) == [
        ["12", "0.1", "1234567890123", "0.0000001", "2024-03-01", "2024-03-01 13:45:00", "TRUE", "FALSE", "", "007", "24", "13:45:10"],
        ["0.3", "2.5", "150000000000000000000", "-3", "NA", "", "", "", "", "N/A", "", ""],
    ]
    assert_all_str(table.frame)


def test_text_overrides_are_ignored_for_workbooks() -> None:
    data = xlsx_bytes({"S": [["a"], ["1"]]})
    table = load_table(data, "x.xlsx", encoding="gb18030", separator=";")
    assert table.info.encoding is None and table.info.separator is None
    assert rows_of(table) == [["1"]]


def test_returned_values_are_frozen() -> None:
    table = load_table(b"a,b\n1,2\n", "x.csv")
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.info.n_rows = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.frame = pd.DataFrame()  # type: ignore[misc]


def test_xlsx_numeric_headers_become_text() -> None:
    table = load_table(xlsx_bytes({"S": [[2023, 2024.0, "name"], [1, 2, "x"]]}), "y.xlsx")
    assert list(table.frame.columns) == ["2023", "2024", "name"]


def test_xlsx_formatted_empty_rows_and_columns_at_the_edges_are_dropped() -> None:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf)
    ws = wb.add_worksheet()
    bold = wb.add_format({"bold": True})
    ws.write_row(2, 1, ["name", "score"])  # table starts at B3, like many hand-made sheets
    ws.write_row(3, 1, ["Ada", 9])
    ws.write_row(4, 1, ["Alan", 8])
    for r in range(5, 30):
        ws.write_blank(r, 1, None, bold)  # formatting Excel keeps "used"
        ws.write_blank(r, 6, None, bold)
    wb.close()
    table = load_table(buf.getvalue(), "t.xlsx")
    assert list(table.frame.columns) == ["name", "score"]
    assert rows_of(table) == [["Ada", "9"], ["Alan", "8"]]
    notes = " ".join(table.info.notes)
    # formatted-but-blank cells at the end are not even read; those at the top and left are dropped
    assert "above the column names" in notes and "at the left" in notes


def test_xlsx_header_only_sheet_and_empty_sheet_are_input_errors() -> None:
    data = xlsx_bytes({"Head": [["a", "b"]], "Blank": []})
    with pytest.raises(InputError, match="Sheet 'Head' has column names but no rows of data"):
        load_table(data, "x.xlsx")
    with pytest.raises(InputError, match="Sheet 'Blank' has no cells with content"):
        load_table(data, "x.xlsx", sheet="Blank")


def test_xlsx_chart_sheet_is_not_offered_and_explains_itself() -> None:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf)
    ws = wb.add_worksheet("Data")
    ws.write_column(0, 0, ["n", 1, 2])
    chart = wb.add_chart({"type": "line"})
    chart.add_series({"values": "=Data!$A$2:$A$3"})
    wb.add_chartsheet("Chart").set_chart(chart)
    wb.close()
    assert list_sheets(buf.getvalue()) == ["Data"]
    with pytest.raises(InputError, match="'Chart' is a chart"):
        load_table(buf.getvalue(), "c.xlsx", sheet="Chart")


def test_list_sheets_of_a_csv_is_an_input_error() -> None:
    with pytest.raises(InputError, match="Only Excel .xlsx"):
        list_sheets(b"a,b\n1,2\n")


def test_corrupt_xlsx_is_an_input_error() -> None:
    with pytest.raises(InputError, match="could not be opened"):
        load_table(b"PK\x03\x04" + b"garbage" * 100, "broken.xlsx")
    with pytest.raises(InputError, match="could not be opened"):
        list_sheets(b"PK\x03\x04" + b"garbage" * 100)


def test_a_zip_that_is_not_a_workbook_is_an_input_error() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(InputError, match="save it as .xlsx or CSV"):
        load_table(buf.getvalue(), "archive.xlsx")


# --- Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf", "empty"),
        (b"  \n\r\n\t \n", "only blank lines or spaces"),
        (b",,,\n,,\n", "no cells with content"),
        (b"name,age\n", "no rows of data"),
        (b"name,age\n,\n\n", "no rows of data"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "binary data"),
        (bytes([0, 17, 200, 3, 0, 255, 0, 0, 91, 0, 44, 10] * 40), "binary data"),
        (b"<!DOCTYPE html><html><body><table><tr><td>1</td></tr></table></body></html>", "web page"),
    ],
)
def test_unusable_files_raise_one_plain_sentence(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        load_table(data, "upload.csv")
    text = str(caught.value)
    assert text.endswith(".") and "\n" not in text and ";" in text  # what is wrong; what to do


def test_random_garbage_only_ever_raises_input_error() -> None:
    rng = random.Random(20240301)
    valid_xlsx = xlsx_bytes({"S": [["a", "b"], [1, 2]]})
    inputs: list[bytes] = []
    for _ in range(300):
        size = rng.choice([1, 2, 3, 7, 50, 400, 3000])
        inputs.append(bytes(rng.getrandbits(8) for _ in range(size)))
    for _ in range(100):  # sparse NULs, printable noise, and damaged workbooks
        noise = bytearray(rng.choice(b'ab,;\t|"\n\r\x00\xe9\xff') for _ in range(rng.randint(1, 300)))
        inputs.append(bytes(noise))
        cut = rng.randint(4, len(valid_xlsx) - 1)
        inputs.append(valid_xlsx[:cut])
        flipped = bytearray(valid_xlsx)
        flipped[rng.randrange(30, len(flipped))] ^= 0xFF
        inputs.append(bytes(flipped))
    for data in inputs:
        for name in ("x.csv", "x.xlsx"):
            try:
                table = load_table(data, name)
            except InputError as exc:
                assert str(exc)
            else:  # if something loads, it is still a proper table of strings
                assert_all_str(table.frame)
                assert table.info.n_rows == len(table.frame) >= 1


# --- Fix-ups ----------------------------------------------------------------------------------------


def test_ragged_rows_are_padded_and_extra_cells_get_their_own_columns() -> None:
    table = load_table(b"a,b,c\n1,2\n3,4,5,6\n7,8,9\n", "x.csv")
    assert list(table.frame.columns) == ["a", "b", "c", "Column 4"]
    assert rows_of(table) == [["1", "2", "", ""], ["3", "4", "5", "6"], ["7", "8", "9", ""]]
    notes = " ".join(table.info.notes)
    assert "Filled 1 short row" in notes and "'Column 4'" in notes


def test_blank_column_names_become_column_n() -> None:
    table = load_table(b"a,,c, \n1,2,3,4\n", "x.csv")
    assert list(table.frame.columns) == ["a", "Column 2", "c", "Column 4"]
    assert any("'Column 2', 'Column 4'" in note for note in table.info.notes)


def test_duplicate_column_names_are_made_unique() -> None:
    table = load_table(b"name,name,name,x,name (2)\n1,2,3,4,5\n", "x.csv")
    assert list(table.frame.columns) == ["name", "name (3)", "name (4)", "x", "name (2)"]
    assert "Renamed duplicate column 'name' to 'name (3)'." in table.info.notes
    assert table.frame["name (2)"].tolist() == ["5"]


def test_duplicate_names_note_gives_the_documented_sentence() -> None:
    table = load_table(b"name,name\nA,B\n", "x.csv")
    assert list(table.frame.columns) == ["name", "name (2)"]
    assert table.info.notes == ("Renamed duplicate column 'name' to 'name (2)'.",)


def test_header_cells_are_stripped_of_spaces_and_stray_bom() -> None:
    data = b" name ,\xef\xbb\xbfcity\t,age\n1,2,3\n"
    table = load_table(data, "x.csv")
    assert list(table.frame.columns) == ["name", "city", "age"]
    assert any("Removed spaces around 2 column names" in note for note in table.info.notes)


def test_trailing_empty_columns_and_rows_from_excel_are_dropped() -> None:
    data = b"a,b,,\r\n1,2,,\r\n3,4,,\r\n,,,\r\n,,,\r\n,,,\r\n"
    table = load_table(data, "x.csv")
    assert list(table.frame.columns) == ["a", "b"]
    assert rows_of(table) == [["1", "2"], ["3", "4"]]
    assert "Dropped 2 empty columns at the right." in table.info.notes
    assert "Dropped 3 empty rows at the end." in table.info.notes


def test_empty_rows_in_the_middle_are_dropped_and_counted() -> None:
    table = load_table(b"a,b\n1,2\n\n,\n \t, \n3,4\n", "x.csv")
    assert rows_of(table) == [["1", "2"], ["3", "4"]]
    assert "Dropped 3 empty rows in the middle of the table." in table.info.notes


def test_clean_file_has_no_notes_and_no_surprises() -> None:
    table = load_table(b"a,b\n1,2\n", "x.csv")
    assert table.info.notes == ()


# --- Limits -------------------------------------------------------------------------------------


def test_too_many_rows_names_the_limit_and_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "MAX_ROWS", 5)
    assert len(load_table(b"n\n" + b"x\n" * 5, "x.csv").frame) == 5
    with pytest.raises(InputError, match=r"has 7 rows of data, more than the limit of 5"):
        load_table(b"n\n" + b"x\n" * 7, "x.csv")
    with pytest.raises(InputError, match=r"has 6 rows of data, more than the limit of 5"):
        load_table(xlsx_bytes({"S": [["n"]] + [["x"]] * 6}), "x.xlsx")


def test_default_row_limit_is_two_hundred_thousand() -> None:
    data = b"n\n" + b"1\n" * (constants.MAX_ROWS + 1)
    with pytest.raises(InputError, match=r"200,001 rows of data, more than the limit of 200,000"):
        load_table(data, "x.csv")


@pytest.mark.parametrize("size", [constants.MAX_CELL_CHARS + 1, 2 * constants.MAX_CELL_CHARS])
def test_overlong_cell_names_row_and_column(size: int) -> None:
    data = b"id,text\n1,short\n2," + b"x" * size + b"\n"
    with pytest.raises(InputError, match=rf"row 3, column 'text' has {size:,} characters"):
        load_table(data, "x.csv")


def test_cell_at_the_limit_is_fine() -> None:
    table = load_table(b"id,text\n1," + b"y" * constants.MAX_CELL_CHARS + b"\n", "x.csv")
    assert len(table.frame["text"].iloc[0]) == constants.MAX_CELL_CHARS


def test_overlong_xlsx_cell_names_excel_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "MAX_CELL_CHARS", 10)
    data = xlsx_bytes({"S": [["id", "note"], [1, "ok"], [2, "much too long here"]]})
    with pytest.raises(InputError, match=r"row 3, column 'note'"):
        load_table(data, "x.xlsx")


# --- Scale ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_hundred_thousand_rows_load_with_the_right_shape() -> None:
    header = ",".join(f"col{i}" for i in range(10))
    line = ",".join(f"value {i} with some words" for i in range(10))
    data = (header + "\n" + (line + "\n") * 100_000).encode()
    assert len(data) > 9_000_000
    table = load_table(data, "big.csv")
    assert table.frame.shape == (100_000, 10)
    assert table.frame.iloc[-1, 9] == "value 9 with some words"
    assert isinstance(table.frame.index, pd.RangeIndex)


def test_a_stray_nul_byte_in_good_utf8_is_removed_with_a_note_not_a_refusal() -> None:
    data = "name,city\nZoë,Zürich\n".encode() + b"Ann,Oslo\x00\n" + "李雷,北京\n".encode()
    table = load_table(data, "people.csv")
    assert list(table.frame["city"]) == ["Zürich", "Oslo", "北京"]
    assert any(n.startswith("Removed 1 NUL byte ") for n in table.info.notes)
    from core.messages import explain

    assert explain(next(n for n in table.info.notes if "NUL" in n)).code == "nul_bytes"


def test_many_nul_bytes_are_still_not_a_table() -> None:
    data = b"name,city\n" + b"a\x00b\x00c\x00d\x00e\x00,x\n" * 3
    with pytest.raises(InputError) as caught:
        load_table(data, "odd.csv")
    assert caught.value.code == "not_text"


@pytest.mark.parametrize(
    ("codec", "text"),
    [
        pytest.param("euc_kr", "이름,도시,메모\n김민수,서울,안녕하세요 반갑습니다\n이영희,부산,오늘 날씨가 좋네요\n박지훈,인천,감사합니다\n", id="korean"),
        pytest.param("cp1251", "Имя,Город,Заметка\nИван,Москва,Привет как дела\nОльга,Казань,Хорошая погода сегодня\n", id="russian"),
        pytest.param("cp1253", "Όνομα,Πόλη,Σημείωση\nΓιώργος,Αθήνα,Καλημέρα σε όλους\nΜαρία,Πάτρα,Ωραίος καιρός σήμερα\n", id="greek"),
        pytest.param("cp1250", "imię,miasto\nŁukasz,Łódź\nMałgorzata,Kraków\nŻaneta,Gdańsk\n", id="polish"),
    ],
)
def test_korean_central_european_cyrillic_and_greek_files_are_read_right_and_say_so(codec: str, text: str) -> None:
    table = load_table(text.encode(codec), "x.csv")
    assert table.info.encoding == codec
    expected = [line.split(",") for line in text.strip().split("\n")]
    assert [list(table.frame.columns)] + rows_of(table) == expected
    note = next(n for n in table.info.notes if n.startswith("Read as "))
    assert "guessed" in note and "choose the encoding" in note


def test_utf8_needs_no_note_about_its_encoding() -> None:
    table = load_table("a,b\nZoë,北京\n".encode(), "x.csv")
    assert not [n for n in table.info.notes if n.startswith("Read as ")]


def test_czech_that_reads_as_western_letters_too_is_flagged_and_the_override_reads_it() -> None:
    # ě ř ň in cp1250 are ì ø ò in cp1252: letters either way, so the guess is said, not hidden.
    data = "jméno,město\nJiří,Plzeň\n".encode("cp1250")
    guessed = load_table(data, "x.csv")
    assert any(n.startswith("Read as Windows-1252 (Western European), guessed") for n in guessed.info.notes)
    chosen = load_table(data, "x.csv", encoding="cp1250")
    assert rows_of(chosen) == [["Jiří", "Plzeň"]] and not [n for n in chosen.info.notes if n.startswith("Read as ")]


def test_a_whole_document_in_one_cell_opens() -> None:
    # 300,000 characters: a long report or a book chapter, which long-context models read whole
    document = ("Lorem ipsum dolor sit amet. " * 11_000)[:300_000]
    table = load_table(b'id,document\n1,"' + document.encode() + b'"\n', "docs.csv")
    assert table.frame["document"].iloc[0] == document
