"""Documents the API tests upload: an article page with its site's chrome, and a PDF, made here."""

from __future__ import annotations

ARTICLE_HTML = b"""<!doctype html><html><head><title>The Zeltwarden Observatory</title>
<meta name="description" content="A history of the observatory"></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/about">About us</a></nav>
<div class="cookie">We use cookies. <button>Accept</button></div>
<article><h1>The Zeltwarden Observatory</h1>
<p>The Zeltwarden Observatory stands on a granite ridge above the village of Oberhaal.
It was founded in 1897 by the astronomer Ilse Marrow, who chose the ridge for its dry winter air.</p>
<p>The observatory's main telescope has a mirror 2.4 metres wide, ground by hand over eleven years.</p>
<p>Visitors can tour the dome on the first Saturday of every month.</p>
</article>
<footer>Copyright 2024 Zeltwarden Trust. All rights reserved. Privacy policy.</footer>
</body></html>"""
ARTICLE_Q = "How wide is the mirror of the Zeltwarden Observatory's main telescope?"
ARTICLE_A = "2.4 metres"

PDF_PAGES = [
    [
        "Harbour Bridge tolls",
        "The Harbour Bridge opened to traffic in 1932 and carries four lanes of cars.",
        "Cars pay a toll at the northern end of the bridge.",
    ],
    [
        "Cyclists",
        "The toll for a bicycle on the Harbour Bridge is 3 krona per crossing,",
        "payable at the cyclists' gate on the eastern walkway.",
    ],
]
PDF_Q = "What is the toll for a bicycle on the Harbour Bridge?"
PDF_A = "3 krona"


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A PDF with one text line per entry (hard-wrapped, as PDFs are)."""
    from fpdf import FPDF

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=11)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
