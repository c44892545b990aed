"""Decode a novel or script file: UTF-8 (with or without BOM), UTF-16 with BOM, GB18030/GBK; the encoding is recorded."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class DecodingError(ValueError):
    """The file cannot be read as text; the message names the file and what was wrong."""


@dataclass(frozen=True)
class Decoded:
    """Decoded text, the encoding that was used, whether a BOM was stripped, and warnings (file:line)."""

    text: str
    encoding: str
    bom: bool = False
    warnings: tuple[str, ...] = ()


def decode_bytes(data: bytes, path: str = "<bytes>") -> Decoded:
    """Detect the encoding and decode; empty, binary or undecodable input raises DecodingError naming `path`."""
    if not data.strip():
        raise DecodingError(f"{path}: empty file (no text)")
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            try:
                return Decoded(_normalise(data[len(bom):].decode(encoding)), encoding, bom=True)
            except UnicodeDecodeError as error:
                raise DecodingError(f"{path}: {encoding} byte-order mark, but invalid {encoding} at byte {error.start + len(bom)}") from None
    if b"\x00" in data[:65536]:
        raise DecodingError(f"{path}: binary file (NUL bytes), not text")
    warnings: tuple[str, ...] = ()
    try:
        text = data.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            text = _decode_chinese(data, path, utf8_error)
            encoding = "gbk" if _is_gbk(data) else "gb18030"
        except DecodingError:
            # Mostly UTF-8 with a few stray bytes (a mixed file): keep the book, replace and report them.
            bad = _invalid_utf8_offsets(data)
            if len(bad) > max(3, len(data) // 1000):
                raise
            text = data.decode("utf-8", errors="replace")
            encoding = "utf-8"
            warnings = tuple(f"{path}:{_line_of(data, offset)}: invalid UTF-8 byte {data[offset:offset + 1]!r} replaced by U+FFFD" for offset in bad)
    if len(_CONTROL.findall(text[:65536])) > max(8, len(text[:65536]) // 200):
        raise DecodingError(f"{path}: binary file (control characters), not text")
    return Decoded(_normalise(text), encoding, warnings=warnings)


def _invalid_utf8_offsets(data: bytes) -> list[int]:
    """Byte offsets where UTF-8 decoding fails."""
    offsets, position = [], 0
    while position < len(data):
        try:
            data[position:].decode("utf-8")
            break
        except UnicodeDecodeError as error:
            offsets.append(position + error.start)
            position += error.end
            if len(offsets) > 10_000:
                break
    return offsets


def _decode_chinese(data: bytes, path: str, utf8_error: UnicodeDecodeError) -> str:
    """GB18030 (a superset of GBK and GB2312) when the result reads as Chinese; otherwise a clear error."""
    where = _line_of(data, utf8_error.start)
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as error:
        raise DecodingError(
            f"{path}:{where}: not UTF-8 (invalid byte {data[utf8_error.start:utf8_error.start + 1]!r} at byte {utf8_error.start}) "
            f"and not GB18030/GBK (invalid at byte {error.start}, line {_line_of(data, error.start)})"
        ) from None
    non_ascii = [c for c in text if ord(c) > 127]
    cjk = len([c for c in non_ascii if _CJK.match(c)])
    # Chinese text is mostly Han characters; a few "Han" characters in English text are misread stray bytes.
    if not non_ascii or cjk / len(non_ascii) < 0.6 or cjk < 0.2 * sum(1 for c in text if c.isalpha()):
        raise DecodingError(
            f"{path}:{where}: not UTF-8 (invalid byte at byte {utf8_error.start}); it decodes as GB18030 but does not read as Chinese "
            "(mixed or unknown encoding)"
        )
    return text


def _is_gbk(data: bytes) -> bool:
    try:
        data.decode("gbk")
    except UnicodeDecodeError:
        return False
    return True


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _normalise(text: str) -> str:
    """Line endings only (CRLF/CR -> LF): offsets are code points into this text."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text(path: str) -> Decoded:
    """Read and decode a file (see `decode_bytes`); an `.epub` becomes its text (offsets into that text)."""
    if path.lower().endswith(".epub"):
        from operators.extraction.epub import epub_text

        return Decoded(epub_text(path), "epub")
    with open(path, "rb") as handle:
        return decode_bytes(handle.read(), path)
