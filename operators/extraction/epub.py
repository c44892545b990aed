"""EPUB to plain text with the standard library: the spine's XHTML documents in reading order, one
paragraph per block element (p, div, h1-h6, li, blockquote), blank lines between paragraphs."""

from __future__ import annotations

import posixpath
import zipfile
from html.parser import HTMLParser
from xml.etree import ElementTree

from operators.extraction.decoding import DecodingError

_BLOCKS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "tr", "section", "article", "br", "hr"}
_SKIP = {"script", "style", "head", "title"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.current: list[str] = []
        self.skipping = 0

    def flush(self) -> None:
        """End the current paragraph."""
        text = " ".join("".join(self.current).split())
        if text:
            self.paragraphs.append(text)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCKS:
            self.flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.flush()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.current.append(data)


def epub_text(path: str) -> str:
    """The book's text; a file that is not a readable EPUB raises DecodingError naming it and the part."""
    try:
        with zipfile.ZipFile(path) as book:
            container = ElementTree.fromstring(book.read("META-INF/container.xml"))
            rootfile = next(e.get("full-path") for e in container.iter() if e.tag.endswith("rootfile"))
            opf = ElementTree.fromstring(book.read(rootfile))
            base = posixpath.dirname(rootfile)
            manifest = {e.get("id"): e.get("href") for e in opf.iter() if e.tag.endswith("}item") or e.tag == "item"}
            spine = [e.get("idref") for e in opf.iter() if e.tag.endswith("itemref")]
            paragraphs: list[str] = []
            for idref in spine:
                href = manifest.get(idref)
                if href is None:
                    raise DecodingError(f"{path}: spine item {idref!r} is not in the manifest of {rootfile}")
                parser = _Text()
                parser.feed(book.read(posixpath.join(base, href)).decode("utf-8", errors="replace"))
                parser.close()
                parser.flush()
                paragraphs.extend(parser.paragraphs)
    except (zipfile.BadZipFile, KeyError, StopIteration, ElementTree.ParseError) as error:
        raise DecodingError(f"{path}: not a readable EPUB ({type(error).__name__}: {error})") from None
    if not paragraphs:
        raise DecodingError(f"{path}: EPUB without text")
    return "\n\n".join(paragraphs) + "\n"
