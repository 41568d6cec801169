"""HTML: the main text of a web page (trafilatura), without navigation, footers or banners.

The extracted text is itself the document (citations point into it), so it is cleaned to the
line form the chunker reads but keeps no offsets into the page's markup.
"""

from __future__ import annotations

from rag.errors import InvalidInputError
from rag.formats import Parsed
from rag.formats.markdown import clean, html_text

_METADATA = ("author", "date", "url", "sitename", "description")


def parse(name: str, data: bytes) -> Parsed:
    import trafilatura

    # trafilatura decodes by the page's own charset declaration, so no UTF-8 check here
    tree = trafilatura.load_html(data)  # None for what does not look like HTML
    extracted = (
        None
        if tree is None
        else trafilatura.extract(
            tree,
            output_format="markdown",
            include_tables=True,
            include_links=False,
            include_images=False,
            include_comments=False,
            favor_precision=True,
        )
    )
    text = clean(extracted, name, site=False)[1] if extracted else ""
    if not text.strip():
        text = _body_text(data)
    if not text.strip():
        raise InvalidInputError(f"{name}: no extractable text in the HTML")
    # not extensive: a date only from markup meant for it, not guessed from a copyright line
    meta = trafilatura.extract_metadata(tree, extensive=False) if tree is not None else None
    title = (meta.title if meta is not None else None) or _title_tag(data)
    metadata = {k: str(v) for k in _METADATA if meta is not None and (v := getattr(meta, k, None))}
    return Parsed(text=text, title=title or None, metadata=metadata, source_text=None, offsets=None)


def _document(data: bytes):
    import lxml.html
    from lxml.etree import ParserError

    try:
        return lxml.html.document_fromstring(data)
    except (ParserError, ValueError):  # empty, or nothing lxml can read
        return None


def _body_text(data: bytes) -> str:
    """The visible text of <body>, for pages whose main text trafilatura cannot tell apart."""
    import lxml.html

    doc = _document(data)
    body = doc.find("body") if doc is not None else None
    return html_text(lxml.html.tostring(body, encoding="unicode")) if body is not None else ""


def _title_tag(data: bytes) -> str | None:
    doc = _document(data)
    found = doc.find(".//title") if doc is not None else None
    if found is None:
        return None
    return " ".join(found.text_content().split()) or None
