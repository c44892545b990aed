"""EPUB text extraction (standard library): spine order, paragraphs, errors naming the file."""

from __future__ import annotations

import zipfile

import pytest

from operators.extraction.decoding import DecodingError, read_text

CONTAINER = '<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>' \
    '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>'
OPF = '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf"><manifest>' \
    '<item id="c2" href="text/c2.xhtml" media-type="application/xhtml+xml"/>' \
    '<item id="c1" href="text/c1.xhtml" media-type="application/xhtml+xml"/></manifest>' \
    '<spine><itemref idref="c1"/><itemref idref="c2"/></spine></package>'


def page(body: str) -> str:
    return f'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>x</title><style>p{{}}</style></head><body>{body}</body></html>'


def make_epub(path, files):
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("mimetype", "application/epub+zip")
        for name, content in files.items():
            book.writestr(name, content)


def test_epub_text_in_spine_order(tmp_path):
    path = tmp_path / "book.epub"
    make_epub(path, {
        "META-INF/container.xml": CONTAINER,
        "OEBPS/content.opf": OPF,
        "OEBPS/text/c1.xhtml": page("<h1>CHAPTER I</h1><p>&#8220;Hello,&#8221; said <i>Anna</i>.</p>"),
        "OEBPS/text/c2.xhtml": page("<h1>CHAPTER II</h1><p>Tom\n  left.</p>"),
    })
    decoded = read_text(str(path))
    assert decoded.encoding == "epub"
    assert decoded.text == "CHAPTER I\n\n“Hello,” said Anna.\n\nCHAPTER II\n\nTom left.\n"


def test_broken_epub_names_the_file(tmp_path):
    path = tmp_path / "broken.epub"
    path.write_bytes(b"not a zip")
    with pytest.raises(DecodingError, match="broken.epub: not a readable EPUB"):
        read_text(str(path))
    missing = tmp_path / "missing.epub"
    make_epub(missing, {"META-INF/container.xml": CONTAINER, "OEBPS/content.opf": OPF})
    with pytest.raises(DecodingError, match="missing.epub"):
        read_text(str(missing))
