"""Markdown -> clean, line-structured text, with each character's position in the original file.

The chunker reads a document line by line ('#' headings, '- ' items, pipe tables, one line per
paragraph), so a page is rewritten into exactly that form with its inline markup removed, and
``offsets`` lets a citation of the clean text point back into the file a reader opens.

markdown-it gives block tokens line numbers but inline tokens no columns, so each piece of inline
text is found in its block's source lines by searching forward from a cursor.
"""

from __future__ import annotations

import datetime
import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from rag.errors import InvalidInputError
from rag.formats import Parsed, decode_utf8

# Jekyll/Liquid/Nunjucks tags are site machinery, not text.
_TEMPLATE_TAG = re.compile(r"\{%-?\s*comment\s*-?%\}.*?\{%-?\s*endcomment\s*-?%\}|\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
# "[text]\n(url)": CommonMark shows this slip as text, URL and all; the author meant a link.
_BROKEN_LINK = re.compile(r"\]([ \t]*\n[ \t]*)(\((?:https?://|mailto:|/|#|\./)[^()\s]*\))")
# Stands in for template tags inside a line; a Unicode noncharacter, so never text of the file.
_FILLER = "\ufdd0"
_TOML_FRONT_MATTER = re.compile(r"\A\+\+\+[ \t]*\n(.*?)^\+\+\+[ \t]*$", re.DOTALL | re.MULTILINE)

# HTML elements whose boundaries end a line of text.
_HTML_BLOCKS = frozenset(
    (
        "address article aside blockquote body br dd details dialog div dl dt fieldset figcaption figure footer "
        "form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary ul"
    ).split()
)
_HTML_SKIP = frozenset({"script", "style", "template", "noscript"})


def parse(name: str, data: bytes) -> Parsed:
    source = decode_utf8(name, data)
    front, text, offsets, heading = clean(source, name)
    title = front.pop("title", None)
    title = str(title).strip() if title not in (None, "") else heading
    return Parsed(text=text, title=title or None, metadata=front, source_text=source, offsets=tuple(offsets))


def clean(source: str, name: str = "<markdown>", site: bool = True) -> tuple[dict[str, Any], str, list[int], str | None]:
    """(front matter, clean text, offsets into ``source``, first heading's text).

    ``site``: the file is a page of a site generator, whose front matter and template tags are
    machinery; markdown extracted from a web page has neither, and its '{{' is text."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.front_matter import front_matter_plugin

    norm, back = _normalise_newlines(source)
    front: dict[str, Any] = {}
    toml = _TOML_FRONT_MATTER.match(norm) if site else None
    if toml:
        front = _load_front(toml.group(1), "toml", name)
        # blanked, not cut: every later position must stay where it is in the file
        norm = "".join(c if c == "\n" else " " for c in toml.group(0)) + norm[toml.end() :]
    if site:
        norm = _TEMPLATE_TAG.sub(lambda m: _template_filler(m, norm), norm)
    # the line break moves after the destination: same length, so no visible text moves
    norm = _BROKEN_LINK.sub(lambda m: "]" + m.group(2) + m.group(1), norm)

    # text_join is off so that escapes and entities stay separate tokens that carry their source form
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"]).disable("text_join")
    if site:
        md.use(front_matter_plugin)
    tokens = md.parse(norm)
    if tokens and tokens[0].type == "front_matter":
        front = _load_front(tokens[0].content, "yaml", name)

    writer = _Writer(norm)
    writer.blocks(tokens)
    text, offsets = writer.join()
    if back is not None:
        offsets = [back[o] for o in offsets]
    return front, text, offsets, writer.first_heading


def html_text(markup: str) -> str:
    """The visible text of an HTML fragment as paragraph lines and pipe tables."""
    writer = _Writer(markup)
    writer.html(markup, lambda line, col: 0)
    return writer.join()[0]


# -- source preparation --------------------------------------------------------------------------


def _normalise_newlines(source: str) -> tuple[str, list[int] | None]:
    """markdown-it works on "\\n" lines; ``back[i]`` is where character i of the result is in ``source``."""
    if "\r" not in source:
        return source, None
    out: list[str] = []
    back: list[int] = []
    i = 0
    while i < len(source):
        back.append(i)
        if source[i] == "\r":
            out.append("\n")
            i += 2 if source.startswith("\r\n", i) else 1
        else:
            out.append(source[i])
            i += 1
    back.append(len(source))
    return "".join(out), back


def _template_filler(m: re.Match, src: str) -> str:
    """Same-length stand-in for a template tag, so that offsets keep pointing at the file.

    A tag alone on its line(s) becomes an HTML comment: a block of its own that every path below
    drops (spaces would leave a blank line that ends an HTML block around it). A tag among other
    text becomes a run of _FILLER, which the output drops: spaces there could indent the rest of
    the line into a code block, or break a link whose destination the tag is."""
    tag = m.group()
    line_start = src.rfind("\n", 0, m.start()) + 1
    line_end = src.find("\n", m.end())
    alone = not src[line_start : m.start()].strip() and not src[m.end() : line_end if line_end >= 0 else len(src)].strip()
    if alone and len(tag) >= 7 and "\n" not in tag[:4] + tag[-3:]:
        chars = ["\n" if c == "\n" else " " for c in tag]
        chars[:4], chars[-3:] = "<!--", "-->"
        return "".join(chars)
    return "".join("\n" if c == "\n" else _FILLER for c in tag)


def _load_front(raw: str, kind: str, name: str) -> dict[str, Any]:
    import tomllib

    import yaml

    try:
        data = tomllib.loads(raw) if kind == "toml" else yaml.safe_load(raw)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        detail = " ".join(str(exc).split())
        raise InvalidInputError(f"{name}: front matter is not valid {kind.upper()} ({detail})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        return {"front_matter": _jsonable(data)}
    return {str(k): _jsonable(v) for k, v in data.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


# -- output lines --------------------------------------------------------------------------------


@dataclass
class _Line:
    """One output line; lines of one group (a list, a table, a code block) are not blank-separated."""

    group: int
    verbatim: bool = False  # code: kept as is
    keep: bool = False  # kept even with no text (a table row of empty cells)
    chars: list[str] = field(default_factory=list)
    offs: list[int] = field(default_factory=list)
    body: bool = False  # holds text beyond a synthesised marker

    def mark(self, s: str, at: int) -> None:
        """A synthesised marker ('# ', '- ', '| '), kept exactly."""
        self.chars.extend(s)
        self.offs.extend([at] * len(s))

    def add(self, s: str, at: int, copied: bool = True) -> None:
        """Text found at ``at`` in the source (``copied``) or standing for the source there; runs of
        whitespace become one space, as a browser shows them."""
        for k, c in enumerate(s):
            if c == _FILLER:
                continue
            if c.isspace() and not self.verbatim:
                if not self.chars or self.chars[-1] == " ":
                    continue
                c = " "
            self.chars.append(c)
            self.offs.append(at + k if copied else at)
            self.body = self.body or not c.isspace()

    def rstrip(self) -> None:
        while self.chars and self.chars[-1] == " ":
            self.chars.pop()
            self.offs.pop()

    @property
    def text(self) -> str:
        return "".join(self.chars)


class _Writer:
    def __init__(self, src: str):
        self.src = src
        self.starts = [0] + [m.end() for m in re.finditer("\n", src)]
        self.lines: list[_Line] = []
        self.groups = 0
        self.cursor = 0  # inline text is searched for from here on
        self.first_heading: str | None = None

    # positions
    def line_start(self, n: int) -> int:
        return self.starts[n] if n < len(self.starts) else len(self.src)

    def line_end(self, n: int) -> int:
        """End of line n, before its newline."""
        end = self.line_start(n + 1)
        return end - 1 if end > self.line_start(n) and self.src[end - 1] == "\n" else end

    def indent(self, n: int) -> int:
        """Position of the first non-blank character of line n (a marker's position)."""
        s, e = self.line_start(n), self.line_end(n)
        body = self.src[s:e]
        return s + len(body) - len(body.lstrip())

    def new_line(self, group: int | None = None, verbatim: bool = False, keep: bool = False) -> _Line:
        if group is None:
            group = self.new_group()
        line = _Line(group, verbatim=verbatim, keep=keep)
        self.lines.append(line)
        return line

    def new_group(self) -> int:
        self.groups += 1
        return self.groups

    # blocks
    def blocks(self, tokens: list) -> None:
        lists: list[tuple[bool, int]] = []  # open lists: (ordered, output group)
        item: _Line | None = None  # the open list item, while its paragraphs may still join its line
        target: _Line | None = None  # where inline content goes
        table_group, row, header_row, cells = 0, None, 0, 0
        for tok in tokens:
            t = tok.type
            if t in ("bullet_list_open", "ordered_list_open"):
                lists.append((t == "ordered_list_open", lists[-1][1] if lists else self.new_group()))
                item = None  # a sub-list sits between the item's line and any later text of the item
            elif t in ("bullet_list_close", "ordered_list_close"):
                lists.pop()
                item = None
            elif t == "list_item_open":
                ordered, group = lists[-1]
                item = self.new_line(group)
                item.mark("  " * (len(lists) - 1) + (f"{tok.info}{tok.markup} " if ordered else "- "), self.indent(tok.map[0]))
            elif t == "list_item_close":
                item = None
            elif t == "paragraph_open":
                if item is not None:
                    target = item
                    if item.body:  # a later paragraph of the item: one line per item
                        item.add(" ", item.offs[-1] + 1, copied=False)
                else:
                    target = self.new_line()
                self.cursor = max(self.cursor, self.line_start(tok.map[0]))
            elif t == "heading_open":
                item = None
                target = self.new_line()
                target.mark("#" * int(tok.tag[1:]) + " ", self.indent(tok.map[0]))
                self.cursor = max(self.cursor, self.indent(tok.map[0]))
            elif t == "heading_close":
                if self.first_heading is None and target is not None:
                    self.first_heading = target.text.partition(" ")[2].strip() or None
                target = None
            elif t == "paragraph_close":
                target = None
            elif t == "inline":
                if target is not None:
                    self.inline(tok, target)
            elif t == "table_open":
                item = None
                table_group = self.new_group()
            elif t == "tr_open":
                row = self.new_line(table_group, keep=True)
                self.cursor = max(self.cursor, self.indent(tok.map[0]))
                row.mark("|", self.cursor)
                self.skip_pipe(tok.map[0], leading=True)
                header_row, cells = tok.map[0], 0
            elif t in ("th_open", "td_open"):
                assert row is not None  # a cell is inside a row
                row.mark(" ", self.cursor)
                target, cells = row, cells + 1
            elif t in ("th_close", "td_close"):
                assert row is not None
                row.rstrip()
                row.mark(" |", self.skip_pipe(header_row))
                target = None
            elif t == "thead_close":
                sep = self.new_line(table_group, keep=True)
                start, end = max(self.cursor, self.indent(header_row + 1)), self.line_end(header_row + 1)
                for k, c in enumerate("|" + " --- |" * cells):  # spread over the source's separator row
                    sep.mark(c, max(start, min(start + k, end - 1)))
            elif t in ("fence", "code_block"):
                item = None
                self.code(tok)
            elif t == "html_block":
                item = None
                self.html_block(tok)

    def html_block(self, tok) -> None:
        starts = []  # where each line of the block's content starts in the source
        for k, text in enumerate(tok.content.split("\n")):
            n = tok.map[0] + k
            end = self.line_end(n)
            # inside a list or a quote the content lost its indent or '>' marker
            starts.append(end - len(text) if self.src[self.line_start(n) : end].endswith(text) else self.line_start(n))
        self.html(tok.content, lambda line, col: starts[min(line - 1, len(starts) - 1)] + col)
        self.cursor = max(self.cursor, self.line_start(tok.map[1]))

    def code(self, tok) -> None:
        group = self.new_group()
        first = tok.map[0] + (1 if tok.type == "fence" else 0)
        body = tok.content.rstrip("\n").split("\n")
        while body and not body[-1].strip():
            body.pop()
        for k, text in enumerate(body):
            n = first + k
            end = self.line_end(n)
            at = end - len(text) if self.src[self.line_start(n) : end].endswith(text) else self.line_start(n)
            self.new_line(group, verbatim=True, keep=True).add(text, at)
        self.cursor = max(self.cursor, self.line_start(tok.map[1]))

    # inline
    def inline(self, tok, line: _Line) -> None:
        hi = self.line_start(tok.map[1]) if tok.map else len(self.src)
        if tok.map:
            self.cursor = max(self.cursor, self.line_start(tok.map[0]))
        self.children(tok.children or [], line, hi)

    def children(self, children: list, line: _Line, hi: int) -> None:
        for c in children:
            t = c.type
            if t == "text":
                self.copy(c.content, line, hi)
            elif t == "text_special":  # an escape or an entity: its text stands for its source form
                at = self.src.find(c.markup, self.cursor, hi)
                if at < 0:
                    line.add(c.content, self.cursor, copied=False)
                else:
                    line.add(c.content, at, copied=False)
                    self.cursor = at + len(c.markup)
            elif t in ("softbreak", "hardbreak"):
                line.add(" ", self.cursor, copied=False)
            elif t == "code_inline":
                self.skip(c.markup, hi)
                self.copy(c.content, line, hi)
                self.skip(c.markup, hi)
            elif t == "image":  # its alt text; the URL is not text
                self.children(c.children or [], line, hi)
                self.skip_destination(hi)
            elif t == "link_close" and c.markup != "autolink":
                self.skip_destination(hi)
            elif t == "html_inline":
                at = self.src.find(c.content, self.cursor, hi)
                if at >= 0:
                    self.cursor = at + len(c.content)
                if re.match(r"<br\b", c.content, re.IGNORECASE):
                    line.add(" ", max(at, self.cursor - 1), copied=False)
            # emphasis, strong, strikethrough and link_open only mark up the text around them

    def copy(self, text: str, line: _Line, hi: int) -> None:
        if not text:
            return
        at = self.src.find(text, self.cursor, hi)
        if at >= 0:
            line.add(text, at)
            self.cursor = at + len(text)
            return
        # the text was rewritten on its way (a code span's newline became a space...): place it
        # character by character, each near where the last one was found
        for c in text:
            at = self.src.find(c, self.cursor, min(hi, self.cursor + 8))
            if at >= 0:
                line.add(c, at)
                self.cursor = at + 1
            else:
                line.add(c, self.cursor, copied=False)

    def skip_pipe(self, n: int, leading: bool = False) -> int:
        """Move the cursor past the '|' that ends a cell on line n (or opens the row); returns where the
        pipe is, or the cursor when there is none (an outer pipe is optional)."""
        end = self.line_end(n)
        at = self.src.find("|", self.cursor, end)
        if at < 0 or (leading and self.src[self.cursor : at].strip()):
            return self.cursor
        self.cursor = at + 1
        return at

    def skip(self, s: str, hi: int) -> None:
        at = self.src.find(s, self.cursor, hi) if s else -1
        if at >= 0:
            self.cursor = at + len(s)

    def skip_destination(self, hi: int) -> None:
        """Move the cursor past a link's ']' and its '(url "title")' or '[ref]', whose text is not shown."""
        close = self.src.find("]", self.cursor, hi)
        if close < 0:
            return
        i = close + 1
        if self.src.startswith("(", i):
            depth = 0
            while i < hi:
                c = self.src[i]
                if c == "\\":
                    i += 1
                elif c == "(":
                    depth += 1
                elif c == ")":
                    depth -= 1
                    if depth == 0:
                        break
                i += 1
            i += 1
        elif self.src.startswith("[", i):
            end = self.src.find("]", i, hi)
            i = end + 1 if end >= 0 else i
        self.cursor = min(i, hi)

    # html
    def html(self, markup: str, locate) -> None:
        """Text of an HTML block as paragraph lines (never headings), its list items as items and its
        tables as pipe tables."""
        parser = _HtmlText(locate)
        parser.feed(markup)
        parser.close()
        group = None
        for kind, body in parser.blocks:
            if kind == "table":
                self.html_table(body)
                group = None
                continue
            if kind == "item":
                marker, body = body
                group = group or self.new_group()  # consecutive items make one list
                line = self.new_line(group)
                line.mark(marker, body[0][1])
            else:
                group = None
                line = self.new_line()
            for c, at in body:
                line.add(c, at, copied=False)

    def html_table(self, rows: list[tuple[bool, list[list[tuple[str, int]]], int]]) -> None:
        """Rows are (all cells are <th>, cells of (character, position), position of the <tr>)."""
        width = max(len(cells) for _, cells, _ in rows)
        group = self.new_group()
        if not rows[0][0]:  # no <th> row: an empty header, rather than promoting a data row
            rows = [(True, [], rows[0][2])] + rows
        for r, (_, cells, at) in enumerate(rows):
            line = self.new_line(group, keep=True)
            line.mark("|", at)
            for k in range(width):
                cell = cells[k] if k < len(cells) else []
                line.mark(" ", line.offs[-1])
                for c, pos in cell:
                    line.add("/" if c == "|" else c, pos, copied=False)  # a '|' would split the cell
                line.rstrip()
                line.mark(" |", line.offs[-1])
            if r == 0:
                self.new_line(group, keep=True).mark("|" + " --- |" * width, line.offs[-1])

    # result
    def join(self) -> tuple[str, list[int]]:
        chars: list[str] = []
        offs: list[int] = []
        prev: _Line | None = None
        for line in self.lines:
            if not line.verbatim:
                line.rstrip()
            if not (line.body or line.keep):
                continue
            if prev is not None:
                sep = "\n" if line.group == prev.group else "\n\n"
                at = offs[-1] + 1 if offs else 0
                if line.offs:
                    at = min(at, line.offs[0])
                chars.extend(sep)
                offs.extend([at] * len(sep))
            chars.extend(line.chars)
            offs.extend(line.offs)
            prev = line
        # fallbacks may place a character before its predecessor: offsets must never go back
        top = max(len(self.src) - 1, 0)
        last = 0
        for i, o in enumerate(offs):
            last = min(max(o, last), top)
            offs[i] = last
        return "".join(chars), offs


class _HtmlText(HTMLParser):
    """Text of HTML as ("para", chars), ("item", (marker, chars)) and ("table", rows) blocks; chars are
    (character, source position).

    Character references are reported separately (convert_charrefs=False) so that every character
    of the decoded text knows where it came from."""

    def __init__(self, locate):
        super().__init__(convert_charrefs=False)
        self.locate = locate
        self.blocks: list[tuple[str, Any]] = []
        self.para: list[tuple[str, int]] = []
        self.skipping = 0
        self.tables = 0  # depth: a nested table's text joins the outer table's cell
        self.rows: list[tuple[bool, list[list[tuple[str, int]]], int]] = []
        self.cell: list[tuple[str, int]] | None = None
        self.lists: list[list] = []  # open <ul>/<ol>: [ordered, items so far]
        self.marker: str | None = None  # the open <li>'s "- " or "2. ", until its first line is out

    def handle_starttag(self, tag, attrs):
        if tag in _HTML_SKIP:
            self.skipping += 1
        elif tag == "table":
            self.tables += 1
            if self.tables == 1:
                self.flush()
                self.rows, self.cell = [], None
        elif self.tables == 1 and tag == "tr":
            self.rows.append((True, [], self.position()))
            self.cell = None
        elif self.tables == 1 and tag in ("td", "th"):
            if not self.rows:
                self.rows.append((True, [], self.position()))
            header, cells, at = self.rows[-1]
            cells.append([])
            self.rows[-1] = (header and tag == "th", cells, at)
            self.cell = cells[-1]
        elif tag in _HTML_BLOCKS or tag in ("td", "th", "tr"):
            self.text(" ", self.position(), copied=False)
            if self.tables:
                return
            self.flush()
            if tag in ("ul", "ol"):
                self.lists.append([tag == "ol", 0])
            elif tag == "li":
                # an item line, not a paragraph: the chunker would take a short unpunctuated one for a heading
                depth = max(len(self.lists) - 1, 0)
                if self.lists and self.lists[-1][0]:
                    self.lists[-1][1] += 1
                    self.marker = "  " * depth + f"{self.lists[-1][1]}. "
                else:
                    self.marker = "  " * depth + "- "

    def handle_endtag(self, tag):
        if tag in _HTML_SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag == "table" and self.tables:
            self.tables -= 1
            if not self.tables:
                rows = [(header and bool(cells), cells, at) for header, cells, at in self.rows if cells]
                if rows:
                    self.blocks.append(("table", rows))
                self.cell = None
        elif self.tables == 1 and tag in ("td", "th", "tr"):
            self.cell = None
        elif tag in _HTML_BLOCKS:
            if self.tables:
                self.text(" ", self.position(), copied=False)
                return
            self.flush()
            if tag in ("ul", "ol") and self.lists:
                self.lists.pop()

    def handle_data(self, data):
        self.text(data, self.position())

    def handle_entityref(self, name):
        self.text(html.unescape(f"&{name};"), self.position(), copied=False)

    def handle_charref(self, name):
        self.text(html.unescape(f"&#{name};"), self.position(), copied=False)

    def position(self) -> int:
        return self.locate(*self.getpos())

    def text(self, s: str, at: int, copied: bool = True) -> None:
        if self.skipping:
            return
        if self.tables:
            sink = self.cell
            if sink is None:  # between cells: only layout whitespace
                return
        else:
            sink = self.para
        sink.extend((c, at + k if copied else at) for k, c in enumerate(s))

    def flush(self) -> None:
        """End the current line: an item's first line carries its marker, text after its sub-list does not."""
        if any(not c.isspace() for c, _ in self.para):
            self.blocks.append(("item", (self.marker, self.para)) if self.marker else ("para", self.para))
            self.marker = None
        self.para = []

    def close(self):
        super().close()
        if self.tables:  # an unclosed table still has its text
            self.tables = 1
            self.handle_endtag("table")
        self.flush()
