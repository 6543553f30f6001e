"""Which text encoding a spreadsheet saved its CSV in: BOMs, UTF-8, UTF-16 without a BOM, and the
legacy encodings of Chinese, Western, Japanese, Korean, Central European, Cyrillic and Greek Excel
(GB18030, cp1252, Big5, Shift_JIS, EUC-KR, cp1250, cp1251, cp1253). A guessed legacy encoding is
said in a note, since a guess can be wrong; any codec Python knows can be chosen instead."""

from __future__ import annotations

import codecs
import re

from .errors import InputError

__all__ = ["ENCODINGS", "NOT_TEXT", "CONTROL", "decode", "encoding_name"]

# What the UI offers as overrides; detection may also report "utf-16-le"/"utf-16-be" (no BOM).
ENCODINGS: tuple[str, ...] = (
    "utf-8", "utf-8-sig", "gb18030", "utf-16", "cp1252", "latin-1", "big5", "shift_jis", "euc_kr", "cp1250", "cp1251", "cp1253",
)  # fmt: skip
SAMPLE = 64 * 1024  # enough text to judge an encoding without reading 10 MB twice
NOT_TEXT = "This file does not look like a table (it contains binary data or text in an unknown encoding); upload a CSV or .xlsx file."


_HIGH = re.compile(rb"[\x80-\xff]")
_HIGH_BYTES = bytes(range(0x80, 0x100))
_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
# Byte pairs of each legacy CJK encoding's *common* characters: GB2312 punctuation and level-1 hanzi,
# Big5 punctuation and frequent hanzi, Shift_JIS punctuation, kana and level-1 kanji. Real text in
# an encoding is mostly made of these; text in another encoding only hits them by chance.
_COMMON_PAIRS = {
    "gb18030": re.compile(rb"[\xa1-\xa9\xb0-\xd7][\xa1-\xfe]"),
    "big5": re.compile(rb"[\xa1-\xc6][\x40-\x7e\xa1-\xfe]"),
    "shift_jis": re.compile(rb"[\x81-\x83\x88-\x9f][\x40-\x7e\x80-\xfc]"),
    "euc_kr": re.compile(rb"[\xa1-\xa3\xb0-\xc8][\xa1-\xfe]"),  # punctuation and Hangul syllables
}
# Ties go to the earlier one: Chinese Excel users are the likelier source of a non-UTF-8 file.
_LEGACY = ("gb18030", "cp1252", "big5", "shift_jis", "euc_kr", "cp1250", "cp1251", "cp1253")
# Single-byte encodings of Latin scripts (accents inside ASCII words) and of other alphabets
# (whole words of high bytes).
_LATIN = ("cp1252", "cp1250")
_ALPHABETS = ("cp1251", "cp1253")
_NAMES = {"gb18030": "GB18030 (Simplified Chinese)", "cp1252": "Windows-1252 (Western European)", "big5": "Big5 (Traditional Chinese)",
          "shift_jis": "Shift_JIS (Japanese)", "euc_kr": "EUC-KR (Korean)", "cp1250": "Windows-1250 (Central European)",
          "cp1251": "Windows-1251 (Cyrillic)", "cp1253": "Windows-1253 (Greek)"}  # fmt: skip
CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _count_high(data: bytes) -> int:
    return len(data) - len(data.translate(None, _HIGH_BYTES))


def _mostly_utf8(data: bytes) -> bool:
    """UTF-8 with a few damaged bytes (a truncated or spliced file), not a legacy encoding: there,
    nearly every non-ASCII byte is invalid UTF-8."""
    bad = data.decode("utf-8", errors="replace").count("\ufffd")
    return bad <= max(3, len(data) // 1000) and bad * 20 < _count_high(data)


def _legacy_score(sample: bytes, encoding: str, n_high: int) -> float:
    """Share of the non-ASCII bytes that look like ordinary text in `encoding`."""
    if encoding in _LATIN or encoding in _ALPHABETS:
        # Latin scripts: letters alone or in short runs inside ASCII words ("café", "Größe", "łódź");
        # GBK read as cp1252 gives long runs ("ÕÅÈý") between commas. Other alphabets: whole words
        # of letters, of any length (double-byte CJK text only ever has even runs).
        hits = odd = runs = 0
        for m in _HIGH_RUN.finditer(sample):
            size = m.end() - m.start()
            runs += 1
            odd += size % 2
            text = m.group().decode(encoding, errors="replace")
            if not text.isalpha():
                continue
            before = sample[m.start() - 1 : m.start()]
            after = sample[m.end() : m.end() + 1]
            inside_ascii_word = before.isalpha() or after.isalpha()
            if encoding in _LATIN and (size == 1 or (size <= 3 and inside_ascii_word)):
                hits += size
            elif encoding in _ALPHABETS and size >= 2 and not inside_ascii_word:  # a lone "€" is no word
                hits += size
        score = hits / n_high
        if encoding in _ALPHABETS and runs >= 4 and odd < 0.15 * runs:
            score *= 0.5  # every word an even number of bytes: double-byte text, not an alphabet
        return score
    covered = sum(2 if pair[1] >= 0x80 else 1 for pair in _COMMON_PAIRS[encoding].findall(sample))
    return min(covered / n_high, 1.0)


def _guess_legacy(data: bytes) -> str | None:
    """The legacy encoding that decodes `data` and fits it best."""
    candidates = [enc for enc in _LEGACY if _decodes(data, enc)]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    first = _HIGH.search(data)
    start = first.start() if first else 0
    sample = data[max(start - 64, 0) : start + 4 * SAMPLE]  # skip a long ASCII start, e.g. ids
    n_high = _count_high(sample) or 1
    scores = {enc: _legacy_score(sample, enc, n_high) for enc in candidates}
    ranked = sorted(candidates, key=lambda enc: -scores[enc])  # stable: ties keep _LEGACY order
    close = scores[ranked[0]] - scores[ranked[1]] < 0.1
    if close and set(ranked[:2]) == set(_LATIN):
        return "cp1252"  # Central European only where Western reads symbols inside words ("³ódŸ")
    if close:
        # Too close to call from byte patterns; charset_normalizer weighs language frequencies.
        # It gives up on tiny inputs (returns None), and then the order above decides.
        import charset_normalizer  # rarely needed, and 30 ms to import: not on every start-up

        best = charset_normalizer.from_bytes(sample, cp_isolation=ranked[:2]).best()
        if best is not None and best.encoding in ranked[:2]:
            return best.encoding
    return ranked[0]


def encoding_name(encoding: str) -> str:
    """A legacy encoding as people know it: 'GB18030 (Simplified Chinese)'."""
    return _NAMES.get(encoding, encoding)


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 with no BOM shows as NULs in every other byte (the high byte of ASCII characters)."""
    sample = data[:4096]
    half = len(sample) // 2
    if half < 2:
        return None
    even, odd = sample[0 : half * 2 : 2].count(0), sample[1 : half * 2 : 2].count(0)
    if odd >= 0.1 * half and even <= odd / 10:
        return "utf-16-le"
    if even >= 0.1 * half and odd <= even / 10:
        return "utf-16-be"
    return None


def decode(data: bytes, override: str | None, notes: list[str]) -> tuple[str, str]:
    if override:
        try:
            return data.decode(override), override
        except LookupError:
            raise InputError(f"'{override}' is not a known text encoding; choose one of {', '.join(ENCODINGS)}.") from None
        except UnicodeError:
            raise InputError(
                f"The file cannot be read as {override} (it contains bytes that are not valid in "
                "that encoding); choose another encoding or let it be detected.",
                "bad_encoding",
                encoding=override,
            ) from None
    if data.startswith(codecs.BOM_UTF8):
        encoding: str | None = "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"  # Excel's "Unicode text"; the codec reads the byte order from the BOM
    else:
        encoding = _utf16_without_bom(data)
        if encoding is None:
            nuls = data.count(b"\x00")
            if nuls:
                # No encoding a spreadsheet saves has NULs but UTF-16: a few in otherwise good text
                # are damage (a crashed save, a bad copy), and the rest of the file is still the table.
                if nuls > max(3, len(data) // 10_000) or not _decodes(data.replace(b"\x00", b""), "utf-8"):
                    raise InputError(NOT_TEXT, "not_text")
                data = data.replace(b"\x00", b"")
                notes.append(f"Removed {nuls:,} NUL byte{'' if nuls == 1 else 's'} (invisible characters a damaged save leaves behind).")
            encoding = "utf-8" if _decodes(data, "utf-8") or _mostly_utf8(data) else _guess_legacy(data)
            if encoding in _NAMES:
                notes.append(
                    f"Read as {encoding_name(encoding)}, guessed from the file's bytes; if the text looks wrong, choose the encoding under Reading options."
                )
    if encoding is not None and _decodes(data, encoding):
        return data.decode(encoding), encoding
    # Nothing decodes cleanly: accept a handful of bad bytes (a truncated or spliced file) but not more.
    for candidate in (encoding,) if encoding else ("utf-8", "gb18030", "cp1252"):
        text = data.decode(candidate, errors="replace")
        bad = text.count("\ufffd")
        if bad <= max(3, len(text) // 1000):
            notes.append(
                f"{bad:,} byte{'' if bad == 1 else 's'} could not be read as {candidate} and became '\ufffd'; "
                "if the text looks wrong, choose the encoding by hand."
            )
            return text, candidate
    raise InputError(NOT_TEXT, "not_text")
