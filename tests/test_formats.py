"""Document formats: parsers run with the real libraries (markdown-it, trafilatura, pypdf) on small
inputs written here or copied under tests/data/formats/."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from rag.errors import InvalidInputError
from rag.formats import SUFFIXES, Parsed, parse, to_source

DATA = Path(__file__).resolve().parent / "formats_data"

# Markers the cleaner writes itself: their characters are not in the source.
_MARKER = re.compile(r"(?m)^\s*(?:\d+\.|-|#+) ")


def assert_offsets(p: Parsed) -> None:
    assert p.source_text is not None and p.offsets is not None
    assert len(p.offsets) == len(p.text)
    assert all(a <= b for a, b in zip(p.offsets, p.offsets[1:]))
    assert all(0 <= o < len(p.source_text) for o in p.offsets)


def assert_round_trips(p: Parsed, start: int, end: int) -> None:
    """The words of text[start:end] appear, in order, in the source span it maps to."""
    a, b = to_source(p, start, end)
    source, pos = p.source_text[a:b], 0
    for word in re.findall(r"\w+", _MARKER.sub("", p.text[start:end])):
        at = source.find(word, pos)
        assert at >= 0, f"{word!r} of {p.text[start:end]!r} not in {source!r}"
        pos = at + len(word)


def assert_spans_round_trip(p: Parsed, samples: int = 200) -> None:
    for m in re.finditer(r"[^\n]+", p.text):  # every line
        assert_round_trips(p, *m.span())
    words = [m.span() for m in re.finditer(r"\w+", p.text)]
    rnd = random.Random(7)
    for _ in range(samples):
        i = rnd.randrange(len(words))
        j = min(len(words) - 1, i + rnd.randrange(1, 40))
        assert_round_trips(p, words[i][0], words[j][1])


# -- markdown ----------------------------------------------------------------------------------

PAGE = """\
---
title: Leave types
description: How leave works
date: 2024-05-01
keywords: [leave, vacation]
---

{% alert %}
  Current employees can use this <a href="https://example.com/chart">leave comparison chart</a>.
{% endalert %}

Intro with **bold**, _em_, `code`, a [link](https://example.com/x "t") and ![alt text](img.png),
a <span class="x">span</span>, <!-- a comment --> an entity &amp; and an escape \\* done.
See [the page]({% page "/x/" %}) and {{ site.name }} here.

Setext heading
--------------

## Lists

* first **item**
* second item
  continued

  second paragraph
  - nested [child](#c)
1. one
2. two

| | **Name** | [Link](https://e.com) |
|--|---|---|
| a | **b** | [c](https://e.com/c) |
| d | | f |

<aside>
<p>An aside with <b>bold</b> text.</p>
</aside>

<table>
<tr><th>Key</th><th>Value</th></tr>
<tr><td><strong>Rate</strong></td><td>4 &amp; 6</td></tr>
</table>

```python
def f():
    return 1
```
"""

CLEAN = """\
Current employees can use this leave comparison chart.

Intro with bold, em, code, a link and alt text, a span, an entity & and an escape * done. See the page and here.

## Setext heading

## Lists

- first item
- second item continued second paragraph
  - nested child

1. one
2. two

| | Name | Link |
| --- | --- | --- |
| a | b | c |
| d | | f |

An aside with bold text.

| Key | Value |
| --- | --- |
| Rate | 4 & 6 |

def f():
    return 1"""


def test_markdown_clean_text_front_matter_and_offsets():
    p = parse("leave.md", PAGE.encode())
    assert p.text == CLEAN
    assert p.title == "Leave types"
    assert p.metadata == {"description": "How leave works", "date": "2024-05-01", "keywords": ["leave", "vacation"]}
    json.dumps(p.metadata)
    assert p.source_text == PAGE and p.pages == ()
    assert_offsets(p)
    assert_spans_round_trip(p)


def test_markdown_lines_map_to_their_source():
    p = parse("leave.md", PAGE.encode())

    def source_of(line: str) -> str:
        start = p.text.index(line)
        a, b = to_source(p, start, start + len(line))
        return p.source_text[a:b]

    assert source_of("- first item") == "* first **item"
    assert source_of("| a | b | c |") == "| a | **b** | [c](https://e.com/c) |"
    assert source_of("| --- | --- | --- |") == "|--|---|---|"
    assert source_of("An aside with bold text.") == "An aside with <b>bold</b> text."
    assert source_of("4 & 6") == "4 &amp; 6"
    assert source_of("escape * done") == "escape \\* done"
    # every copied character maps to itself
    copied = [i for i, c in enumerate(p.text) if c.isalpha()]
    assert all(p.source_text[p.offsets[i]] == p.text[i] for i in copied)


def test_markdown_title_falls_back_to_first_heading_and_toml_front_matter():
    assert parse("a.md", b"Text first.\n\n## The heading\n\nBody.\n").title == "The heading"
    assert parse("a.md", b"Just text.\n").title is None
    p = parse("a.markdown", b'+++\ntitle = "From TOML"\ndate = 2024-01-02\ntags = ["x"]\n+++\n\n# Heading\n\nBody.\n')
    assert (p.title, p.metadata, p.text) == ("From TOML", {"date": "2024-01-02", "tags": ["x"]}, "# Heading\n\nBody.")
    assert_offsets(p)


def test_markdown_template_comments_and_a_link_broken_over_two_lines():
    p = parse("a.md", b"Keep {% comment %}a hidden [note](#x){% endcomment %}this.\n\nSee the [site]\n(https://x.org/a) for details.\n")
    assert p.text == "Keep this.\n\nSee the site for details."
    assert_offsets(p)
    assert_spans_round_trip(p, samples=20)
    # a tag that starts a line must not indent the rest of it into a code block
    p = parse("a.md", b"Intro.\n\n{{ site.name }} is **great**, see [it]({{ site.url }}/y).\n")
    assert p.text == "Intro.\n\nis great, see it."


def test_markdown_keeps_crlf_and_bom_out_of_offsets():
    data = b"\xef\xbb\xbf" + PAGE.replace("\n", "\r\n").encode()
    p = parse("LEAVE.MD", data)
    assert p.text == CLEAN
    assert p.source_text == PAGE.replace("\n", "\r\n")
    assert_offsets(p)
    assert_spans_round_trip(p, samples=50)


def test_markdown_errors_name_the_file():
    with pytest.raises(InvalidInputError, match=r"^bad\.md: not UTF-8"):
        parse("bad.md", b"caf\xe9\n")
    with pytest.raises(InvalidInputError, match=r"^bad\.md: front matter is not valid YAML"):
        parse("bad.md", b"---\ntitle: [unclosed\n---\n\nText.\n")


def test_markdown_handbook_page_with_tables_tags_and_links():
    p = parse("tock.md", (DATA / "tock-time-tracking-excerpt.md").read_bytes())
    assert p.title == "Tracking your time and using Tock"
    assert "cspell" in p.metadata and "title" not in p.metadata
    for residue in ("**", "](", "<a ", "{%", "{{", "http", "cspell"):
        assert residue not in p.text
    lines = p.text.splitlines()
    assert lines[0] == "Tock is a different tool than HRLinks. Here is a quick comparison:"
    # the empty first header cell stays, bold row labels become plain text
    assert lines[2:5] == ["| | Tock timesheet | HRLinks timesheet |", "| --- | --- | --- |", "| Level | TTS | GSA |"]
    assert (
        "- Supervisors are responsible for checking hours logged by their direct reports in Tock, including billable and nonbillable time. They also approve HRLinks timesheets every two weeks."
        in lines
    )
    assert "| >/=7 | 30% | 10-16 hours |" in lines  # an escape inside a cell
    assert "## Billable expectations" in lines
    assert_offsets(p)
    assert_spans_round_trip(p)


def test_markdown_handbook_html_table_becomes_a_pipe_table():
    p = parse("dc.md", (DATA / "washington-dc-office-excerpt.md").read_bytes())
    assert p.title == "Washington, D.C."
    lines = p.text.splitlines()
    # a key/value table without <th>: an empty header, not a data row promoted to one
    assert lines[:4] == [
        "| | |",
        "| --- | --- |",
        "| Location | General Services Administration 1800 F St. NW Washington, D.C. 20405 |",
        "| Points of contact | GSA Tenant Support |",
    ]
    assert "| Slack channels | |" in lines  # the cell held only a template tag
    assert "## Getting here" in lines and "### From the airport" in lines
    assert not any(ln.startswith("#") and "Location" in ln for ln in lines)
    assert "- Take a cab (~$100)" in lines
    assert (
        "- Ride a MARC train ($7) to Union Station. MARC trains have a limited weekend schedule, but tickets are valid for a full calendar day— use your ticket to board any departing MARC train. From Union Station, take the Red line to Farragut North station."
        in lines
    )
    assert_offsets(p)
    assert_spans_round_trip(p)


HANDBOOK = Path(__file__).resolve().parent.parent / "eval" / "corpora" / "tts-handbook"


def test_markdown_every_handbook_page():
    pages = sorted(HANDBOOK.glob("*.md"))
    assert len(pages) >= 17
    for path in pages:
        p = parse(path.name, path.read_bytes())
        assert p.title and p.title == p.source_text.split("title:", 1)[1].split("\n", 1)[0].strip(), path.name
        for residue in ("](", "<a ", "{%", "{{", "<!--"):
            assert residue not in p.text, (path.name, residue)
        # '**' only where the author escaped it to show stars
        assert p.text.count("**") <= p.source_text.count("\\*\\*"), path.name
        for m in re.finditer(r"https?://", p.text):  # a URL in the text is one the page shows, not a link target
            before = p.source_text[: p.offsets[m.start()]]
            assert not before.endswith(("](", '="', "='")), (path.name, p.text[m.start() : m.start() + 60])
            assert not re.search(r"\]\s*\($", p.text[: m.start()]), (path.name, p.text[m.start() : m.start() + 60])
        assert_offsets(p)
        assert_spans_round_trip(p, samples=100)


# -- text and the registry ---------------------------------------------------------------------


def test_txt_is_the_document():
    p = parse("notes.TXT", b"\xef\xbb\xbfFirst line\r\nSecond line\r\n")
    assert p == Parsed(text="First line\r\nSecond line\r\n", title=None, metadata={}, source_text=None, offsets=None)
    assert to_source(p, 6, 10) == (6, 10)
    with pytest.raises(InvalidInputError, match=r"^notes\.txt: not UTF-8 text"):
        parse("notes.txt", b"\xff\xfe\x00")


def test_unknown_suffix_lists_the_supported_ones():
    assert set(SUFFIXES) == {".txt", ".md", ".markdown", ".html", ".htm", ".pdf"}
    with pytest.raises(InvalidInputError) as err:
        parse("corpus.jsonl", b"{}")
    message = str(err.value)
    assert message.startswith("corpus.jsonl: ") and "\n" not in message
    assert all(s in message for s in SUFFIXES)


# -- html --------------------------------------------------------------------------------------

ARTICLE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Leave policy | Example Agency</title>
<meta name="description" content="How annual leave accrues.">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2023-03-14T09:00:00Z">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/about">About us</a></li><li><a href="/contact">Contact</a></li></ul></nav>
<div class="cookie-banner" id="cookie-consent">We use cookies to improve your experience. <button>Accept all cookies</button></div>
<main><article>
<h1>Annual leave</h1>
<p>You may use annual leave for any reason. Annual leave accrues based on how long you have worked for the
federal government, and the rate rises with your years of service.</p>
<p>You can carry over a maximum of <strong>240 annual leave hours</strong> from one leave year to the next.
Hours above the cap are forfeited at the end of the year &amp; cannot be <a href="/recover">recovered</a>.</p>
<h2>Accrual rates</h2>
<table><thead><tr><th>Years of service</th><th>Hours per pay period</th></tr></thead>
<tbody><tr><td>Fewer than 3</td><td>4</td></tr><tr><td>3 to 15</td><td>6</td></tr><tr><td>More than 15</td><td>8</td></tr></tbody></table>
<p>Your leave increases on the first full pay period following your work anniversary.</p>
</article></main>
<footer><p>© 2024 Example Agency. All rights reserved.</p><a href="/privacy">Privacy policy</a></footer>
</body></html>
"""


def test_html_article_without_navigation_or_boilerplate():
    p = parse("leave.HTML", ARTICLE.encode())
    assert (p.source_text, p.offsets, p.pages) == (None, None, ())
    lines = p.text.splitlines()
    assert lines[0] == "# Annual leave"
    assert "## Accrual rates" in lines
    assert (
        "You can carry over a maximum of 240 annual leave hours from one leave year to the next. Hours above the cap "
        "are forfeited at the end of the year & cannot be recovered."
    ) in lines
    table = lines.index("| Years of service | Hours per pay period |")
    assert lines[table + 1 : table + 3] == ["| --- | --- |", "| Fewer than 3 | 4 |"]
    for boilerplate in ("Home", "About us", "cookies", "rights reserved", "Privacy", "**", "/recover"):
        assert boilerplate not in p.text
    assert p.title == "Annual leave"
    assert p.metadata == {"author": "Jane Doe", "date": "2023-03-14", "description": "How annual leave accrues."}


def test_html_title_tag_and_body_text_when_there_is_no_article():
    p = parse("tiny.htm", b"<html><head><title> Opening  hours </title></head><body><p>Open daily.</p></body></html>")
    assert p.text == "Open daily."
    assert p.title == "Opening hours"
    for empty in (b"", b"<html><head><title>T</title></head><body><script>var x = 1;</script></body></html>"):
        with pytest.raises(InvalidInputError, match=r"^empty\.html: no extractable text"):
            parse("empty.html", empty)


# -- pdf ---------------------------------------------------------------------------------------


def _pdf(pages: list[list[str]], title: str | None = None, **encryption: str) -> bytes:
    """A PDF with one text line per entry, laid out as given (hard-wrapped, as PDFs are)."""
    from fpdf import FPDF

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=11)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    if encryption:
        pdf.set_encryption(**encryption)
    return bytes(pdf.output())


PAGE_1 = [
    "Annual leave",
    "You may use annual leave for any reason. Annual leave accrues",
    "based on how long you have worked for the federal govern-",
    "ment, at four to eight hours per pay period.",
    "- Fewer than 3 years: 4 hours",
    "- 15+ years: 8 hours",
]
PAGE_2 = ["Sick leave", "All employees accrue four hours of sick leave per pay period, and", "there is no maximum amount."]


def test_pdf_pages_and_reflowed_paragraphs():
    p = parse("handbook.pdf", _pdf([PAGE_1, PAGE_2], title="Leave handbook"))
    assert (p.source_text, p.offsets) == (None, None)
    assert p.title == "Leave handbook"
    assert p.metadata["page_count"] == 2
    json.dumps(p.metadata)
    assert len(p.pages) == 2 and p.pages[0] == 0
    page_1, page_2 = p.text[: p.pages[1]], p.text[p.pages[1] :]
    assert page_1.splitlines() == [
        "Annual leave",
        (
            "You may use annual leave for any reason. Annual leave accrues based on how long you have worked for the "
            "federal government, at four to eight hours per pay period."
        ),
        "- Fewer than 3 years: 4 hours",
        "- 15+ years: 8 hours",
        "",
    ]
    assert page_2 == "Sick leave\nAll employees accrue four hours of sick leave per pay period, and there is no maximum amount."


def test_pdf_unreadable_inputs_name_the_file():
    with pytest.raises(InvalidInputError, match=r"^x\.pdf: not a PDF"):
        parse("x.pdf", b"hello, this is plain text named like a PDF")
    whole = _pdf([PAGE_1])
    with pytest.raises(InvalidInputError, match=r"^cut\.pdf: not a readable PDF"):
        parse("cut.pdf", whole[: len(whole) // 2])
    with pytest.raises(InvalidInputError, match=r"^scan\.pdf: no text layer: a scanned PDF needs OCR first$"):
        parse("scan.pdf", _pdf([[]]))


def test_pdf_encryption():
    # a password only against editing still opens
    assert parse("open.pdf", _pdf([PAGE_2], owner_password="owner")).text.startswith("Sick leave")
    with pytest.raises(InvalidInputError, match=r"^locked\.pdf: an encrypted PDF that needs a password"):
        parse("locked.pdf", _pdf([PAGE_2], owner_password="owner", user_password="secret"))


def test_importing_the_registry_loads_no_parser_library():
    import subprocess
    import sys

    code = "import sys, rag.formats; print(sorted(m for m in ('markdown_it', 'trafilatura', 'pypdf', 'yaml') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "[]"
