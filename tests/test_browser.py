"""The chat page end to end in headless Chromium (Debian's system browser, no downloads).

Each test runs against a live server whose uploads go to a temporary folder, under a strict
Content-Security-Policy (no inline code or styles), and fails when the page logs an error, reports a
policy violation or reaches outside the server."""

from __future__ import annotations

import re

import pytest

from tests.api_support import BELGIUM_A, BELGIUM_Q, CORPUS, POLAND_A, UNANSWERABLE_Q, LiveServer, chromium_path
from tests.documents_support import ARTICLE_A, ARTICLE_HTML, ARTICLE_Q, PDF_A, PDF_PAGES, PDF_Q, make_pdf

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytest_plugins = ["tests.api_fixtures"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = chromium_path()
ADMIN, READ = "ui-admin-key", "ui-read-key"
# Before any page script: every violation the browser reports is kept, whatever the console says.
WATCH = "window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


def _serve(root, index, embedder, **settings):
    """A live server over the seed corpus whose index and uploads live under root (a tmp dir)."""
    from api.app import create_app
    from rag.settings import Settings

    s = Settings(corpus=CORPUS, index=root / "index", documents=root / "documents", **settings)
    # served with the app's own Content-Security-Policy (api.security): the page must work under it
    server = LiveServer(create_app(s, index=index, embedder=embedder))
    server.wait_ready()
    return server


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory, api_index, api_embedder):
    server = _serve(tmp_path_factory.mktemp("ui-server"), api_index, api_embedder)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory, api_index, api_embedder):
    server = _serve(tmp_path_factory.mktemp("ui-keyed"), api_index, api_embedder, admin_keys=ADMIN, read_keys=READ)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium not found on PATH: apt-get install -y --no-install-recommends chromium fonts-liberation")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


class Watched:
    """A page, with what went wrong on it: console errors, uncaught exceptions, requests leaving the server."""

    def __init__(self, browser, server, width: int, height: int):
        self.server = server
        self.context = browser.new_context(viewport={"width": width, "height": height}, base_url=server.url)
        self.context.add_init_script(WATCH)
        self.external: list[str] = []
        self.errors: list[str] = []
        self.expected_statuses: set[int] = set()  # a test expecting 401s says so
        self.context.route("**/*", self._guard)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def _guard(self, route):
        if route.request.url.startswith(self.server.url):
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def problems(self) -> list[str]:
        unexpected = [e for e in self.errors if not ((m := FAILED_LOAD.search(e)) and int(m.group(1)) in self.expected_statuses)]
        violations = self.page.evaluate("window.__csp || []") if not self.page.is_closed() else []
        return unexpected + [f"CSP: {v}" for v in violations] + [f"external: {u}" for u in self.external]

    def close(self):
        problems = self.problems()
        self.context.close()
        assert not problems, f"the page reported problems: {problems}"


def _watched(browser, server, width=1280, height=800):
    w = Watched(browser, server, width, height)
    w.page.watched = w  # type: ignore[attr-defined]
    return w


@pytest.fixture
def page(browser, ui_server):
    w = _watched(browser, ui_server)
    yield w.page
    w.close()


@pytest.fixture
def phone(browser, ui_server):
    w = _watched(browser, ui_server, 390, 844)
    yield w.page
    w.close()


@pytest.fixture
def keyed_page(browser, keyed_server):
    w = _watched(browser, keyed_server)
    yield w.page
    w.close()


# -- helpers -------------------------------------------------------------------------------------
def _open(page):
    page.goto("/")
    _wait_ready(page)


def _wait_ready(page):
    # wait_for_function evaluates its text with eval, which the page's policy forbids: expect polls instead
    expect(page.locator("#status")).to_have_text(re.compile("^ready"), timeout=30_000)


def _replies(page):
    return page.locator("#messages > li:not(.user):not(.pending)")


def _ask(page, question: str):
    """Type a question, press Enter, wait for the reply (an answer, an abstention or an error)."""
    n = _replies(page).count()
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")  # keyboard: Enter submits
    reply = _replies(page).nth(n)
    reply.wait_for(timeout=30_000)
    return reply


def _ask_with_response(page, question: str):
    with page.expect_response(lambda r: r.url.endswith("/chat")) as response:
        reply = _ask(page, question)
    return reply, response.value.json()


def _upload(page, tmp_path, name: str, data: bytes):
    f = tmp_path / name
    f.write_bytes(data)
    page.locator("#file-input").set_input_files(str(f))  # the change handler runs before this returns
    row = page.locator("#uploads li").last  # a new batch of uploads replaces the finished rows
    expect(row).to_have_class(re.compile(r"\b(ok|failed)\b"), timeout=60_000)
    return row


def _highlight_in_view(page) -> bool:
    return page.evaluate("""() => { const m = document.getElementById('highlight').getBoundingClientRect();
        const p = document.getElementById('doc-text').getBoundingClientRect();
        return m.top >= p.top && m.bottom <= p.bottom; }""")


# -- answers and their sources -------------------------------------------------------------------
def test_ask_click_a_source_card_and_see_the_span_in_the_document(page, tmp_path):
    _open(page)
    answer = _ask(page, BELGIUM_Q)
    assert answer.locator(".answer").inner_text() == BELGIUM_A
    first = answer.locator(".source-card").first
    assert "holds-answer" in first.get_attribute("class") and first.locator(".badge").inner_text() == "Answer"
    assert first.locator("mark.answer-span").inner_text() == BELGIUM_A
    first.locator(".passage").first.click()  # anywhere on the card opens it
    mark = page.locator("#doc-text mark.highlight")
    mark.wait_for(timeout=10_000)
    assert mark.inner_text() == BELGIUM_A
    assert page.locator("#source").is_visible() and mark.is_visible()
    assert _highlight_in_view(page)  # scrolled into view inside the panel
    path = tmp_path / "chat.png"
    page.screenshot(path=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_follow_up_and_keyboard_card(page):
    _open(page)
    _ask(page, BELGIUM_Q)
    answer = _ask(page, "and Poland?")
    assert answer.locator(".answer").inner_text() == POLAND_A
    # a card's title is a button: focus it and press Enter
    button = answer.locator(".source-card button.cite").first
    button.focus()
    assert page.evaluate("document.activeElement.classList.contains('cite')")
    page.keyboard.press("Enter")
    page.locator("#doc-text mark.highlight").wait_for(timeout=10_000)
    assert page.locator("#doc-text mark.highlight").inner_text() == POLAND_A
    assert button.get_attribute("aria-pressed") == "true"
    page.keyboard.press("Escape")
    assert not page.locator("#source").is_visible()
    assert page.evaluate("document.activeElement.classList.contains('cite')")  # focus back where it was


def test_tell_me_more_asks_again_with_the_conversation(page):
    _open(page)
    _ask(page, BELGIUM_Q)
    more = page.locator("#messages .more-button")
    assert more.count() == 1
    with page.expect_request(lambda r: r.url.endswith("/chat")) as sent:
        more.click()
        _replies(page).nth(1).wait_for(timeout=30_000)
    messages = sent.value.post_data_json["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"] and messages[-1]["content"] == "tell me more"
    assert messages[1]["content"] == BELGIUM_A
    assert page.locator("#messages li.user").nth(1).inner_text() == "tell me more"


def test_abstention_is_shown_distinctly_with_the_closest_passages_collapsed(page):
    _open(page)
    answer, body = _ask_with_response(page, UNANSWERABLE_Q)
    assert body["abstained"] and body["citations"]
    assert "abstain" in answer.get_attribute("class")
    assert answer.locator(".answer").inner_text() == "The documents do not say."
    closest = answer.locator("details.closest")
    assert closest.get_attribute("open") is None and not closest.locator(".source-card").first.is_visible()
    closest.locator("> summary").click()
    assert closest.locator(".source-card").first.is_visible()
    assert closest.locator("mark").count() == 0  # nothing answered: nothing highlighted


def test_a_thank_you_is_not_answered_as_a_failed_question(page):
    _open(page)
    _ask(page, BELGIUM_Q)
    reply = _ask(page, "thanks!")
    assert reply.locator(".answer").inner_text() == "Ask me a question about the documents."
    assert reply.locator(".source-card").count() == 0 and "Closest passages" not in reply.inner_text()


@pytest.mark.parametrize("question", [BELGIUM_Q, UNANSWERABLE_Q])
def test_one_card_per_document(page, question):
    _open(page)
    answer, body = _ask_with_response(page, question)
    doc_ids = [c["doc_id"] for c in body["citations"]]
    assert len(doc_ids) > len(set(doc_ids))  # several passages of one document: the case merged
    cards = answer.locator(".source-card")
    assert cards.count() == len(set(doc_ids))
    assert sorted(cards.evaluate_all("cs => cs.map(c => c.dataset.doc)")) == sorted(set(doc_ids))
    titles = answer.locator(".source-card .card-title").all_text_contents()
    assert len(titles) == len(set(titles))
    for doc_id in set(doc_ids):  # every passage is in its document's card
        card = answer.locator(f'.source-card[data-doc="{doc_id}"]')
        assert card.locator(".passage").count() == doc_ids.count(doc_id)


def test_a_markdown_table_in_a_passage_renders_as_a_table(page):
    _open(page)
    answer = _ask(page, BELGIUM_Q)
    table = answer.locator(".source-card").first.locator(".passage").first.locator("table")
    assert table.count() == 1
    assert table.locator("thead th").all_inner_texts() == ["Country", "Focus Area"]
    assert table.locator("td mark.answer-span").inner_text() == BELGIUM_A
    assert "---" not in table.inner_text()


def test_passage_rendering_reads_pipe_tables_and_never_parses_html(page):
    _open(page)
    got = page.evaluate("""async () => {
        const {renderPassage} = await import('/static/passage.js');
        const text = 'Intro line\\nsecond line\\n\\n| a | b |\\n| --- | ---: |\\n| 1 | <img src=x onerror="window.__pwned=1"> |\\n\\nAfter';
        const box = document.body.appendChild(document.createElement('div'));
        box.append(renderPassage(text, {start: text.indexOf('1 |'), end: text.indexOf('1 |') + 1}));
        return {paragraphs: [...box.querySelectorAll('p')].map(p => p.innerText), br: box.querySelectorAll('p br').length,
                head: [...box.querySelectorAll('th')].map(c => c.textContent), cells: [...box.querySelectorAll('td')].map(c => c.textContent),
                right: box.querySelectorAll('td.align-right').length, img: box.querySelectorAll('img').length,
                mark: box.querySelector('td mark').textContent, removed: box.remove()};
    }""")
    assert got["paragraphs"] == ["Intro line\nsecond line", "After"] and got["br"] == 1
    assert got["head"] == ["a", "b"] and got["cells"] == ["1", '<img src=x onerror="window.__pwned=1">']
    assert got["right"] == 1 and got["img"] == 0 and got["mark"] == "1"
    assert page.evaluate("window.__pwned") is None


# -- documents ---------------------------------------------------------------------------------
def test_upload_ask_delete_and_the_documents_no_longer_say(page, tmp_path):
    page.watched.expected_statuses = {409}  # the second upload of the same file
    _open(page)
    row = _upload(page, tmp_path, "observatory.html", ARTICLE_HTML)
    assert "ok" in row.get_attribute("class"), row.inner_text()
    assert "The Zeltwarden Observatory" in row.inner_text() and "observatory" in row.inner_text()
    listed = page.locator('#doc-list li[data-id="observatory"]')
    expect(listed).to_be_visible()
    assert "uploaded" in listed.inner_text() and listed.locator("button.delete").count() == 1
    assert page.locator('#doc-list li[data-origin="folder"] button.delete').count() == 0
    again = _upload(page, tmp_path, "observatory.html", ARTICLE_HTML)  # the server's refusal, per file
    assert "failed" in again.get_attribute("class") and "exists" in again.inner_text()

    answer = _ask(page, ARTICLE_Q)
    assert ARTICLE_A in answer.locator(".answer").inner_text()
    first = answer.locator(".source-card").first
    assert first.get_attribute("data-doc") == "observatory" and "holds-answer" in first.get_attribute("class")
    assert ARTICLE_A in first.locator("mark.answer-span").inner_text()
    assert first.locator(".card-title").inner_text() == "The Zeltwarden Observatory"

    page.once("dialog", lambda d: d.accept())  # "Delete ...?"
    listed.locator("button.delete").click()
    expect(page.locator('#doc-list li[data-id="observatory"]')).to_have_count(0, timeout=30_000)
    expect(page.locator("#doc-list li")).to_have_count(5)
    answer = _ask(page, ARTICLE_Q)
    assert "abstain" in answer.get_attribute("class")
    assert answer.locator(".answer").inner_text() == "The documents do not say."


FERRIES_MD = """# Ferries of the Tarn islands

The ferries of the Tarn islands run all year.

| Route | Departure | Crossing time |
| --- | --- | ---: |
| Oberhaal to Tarn | 07:15 | 40 minutes |
| Tarn to Varn | 09:30 | 25 minutes |
"""
DROP = """([[name, text, kind], [name2, text2, kind2]]) => {
    const files = new DataTransfer();
    files.items.add(new File([text], name, {type: kind}));
    files.items.add(new File([text2], name2, {type: kind2}));
    window.__seen = [];
    new MutationObserver(() => window.__seen.push(...[...document.querySelectorAll('.upload-result')].map(r => r.textContent)))
        .observe(document.getElementById('uploads'), {subtree: true, childList: true, characterData: true});
    const zone = document.getElementById('drop');
    for (const type of ['dragenter', 'dragover', 'drop']) zone.dispatchEvent(new DragEvent(type, {dataTransfer: files, bubbles: true, cancelable: true}));
}"""


def test_files_dropped_on_the_page_are_uploaded_one_by_one(page):
    _open(page)
    page.evaluate(DROP, [["ferries.md", FERRIES_MD, "text/markdown"], ["varn.txt", "The lighthouse of Varn is painted red.", "text/plain"]])
    rows = page.locator("#uploads li")
    expect(rows).to_have_count(2)
    expect(page.locator("#uploads li.ok")).to_have_count(2, timeout=60_000)
    assert any("indexing" in s for s in page.evaluate("window.__seen"))  # the upload's progress was followed
    expect(page.locator('#doc-list li[data-origin="api"]')).to_have_count(2)
    # the passage is the markdown the user wrote: its pipe table is shown as a table
    answer = _ask(page, "How long is the ferry crossing from Tarn to Varn?")
    card = answer.locator('.source-card[data-doc="ferries"]')
    table = card.locator("table")
    assert table.count() == 1 and table.locator("thead th").all_text_contents() == ["Route", "Departure", "Crossing time"]
    assert table.locator("td.align-right").all_text_contents() == ["40 minutes", "25 minutes"]
    for doc_id in ("ferries", "varn"):
        page.once("dialog", lambda d: d.accept())
        page.locator(f'#doc-list li[data-id="{doc_id}"] button.delete').click()
        expect(page.locator(f'#doc-list li[data-id="{doc_id}"]')).to_have_count(0, timeout=30_000)


def test_a_pdf_passage_says_its_page(page, tmp_path):
    _open(page)
    (tmp_path / "bridge.pdf").write_bytes(make_pdf(PDF_PAGES, title="Harbour Bridge"))
    (tmp_path / "vault.txt").write_text("The Marrowfield seed vault was opened in 1994 on the island of Tarn.")
    page.locator("#file-input").set_input_files([str(tmp_path / "bridge.pdf"), str(tmp_path / "vault.txt")])  # several at once
    expect(page.locator("#uploads li.ok")).to_have_count(2, timeout=60_000)
    answer = _ask(page, PDF_Q)
    assert PDF_A in answer.locator(".answer").inner_text()
    card = answer.locator('.source-card[data-doc="bridge"]')
    assert "page 2" in card.locator(".card-where").inner_text()
    card.locator("button.cite").click()
    expect(page.locator("#doc-meta")).to_contain_text("page 2")
    assert PDF_A in page.locator("#doc-text mark.highlight").inner_text()
    for doc_id in ("bridge", "vault"):
        page.once("dialog", lambda d: d.accept())
        page.locator(f'#doc-list li[data-id="{doc_id}"] button.delete').click()
        expect(page.locator(f'#doc-list li[data-id="{doc_id}"]')).to_have_count(0, timeout=30_000)


def test_a_declined_confirmation_deletes_nothing(page, tmp_path):
    _open(page)
    assert "ok" in _upload(page, tmp_path, "notes.txt", b"The lighthouse of Varn is painted red.").get_attribute("class")
    listed = page.locator('#doc-list li[data-id="notes"]')
    page.once("dialog", lambda d: d.dismiss())
    listed.locator("button.delete").click()
    page.wait_for_timeout(300)
    assert listed.count() == 1
    page.once("dialog", lambda d: d.accept())
    listed.locator("button.delete").click()
    expect(listed).to_have_count(0, timeout=30_000)


def test_an_unsupported_file_is_refused_before_uploading(page, tmp_path):
    _open(page)
    row = _upload(page, tmp_path, "notes.docx", b"PK..")
    assert "failed" in row.get_attribute("class") and "supported" in row.inner_text()


def test_documents_are_listed_a_page_at_a_time(page):
    # a page of two documents: the page size is the list's data-page-size
    def smaller_pages(route):
        response = route.fetch()
        route.fulfill(response=response, body=response.text().replace('data-page-size="20"', 'data-page-size="2"'))

    page.route(re.compile(r".*/$"), smaller_pages)
    _open(page)
    items = page.locator("#doc-list li")
    expect(items).to_have_count(2)
    assert page.locator("#doc-count").inner_text() == "5 documents"
    more = page.locator("#load-more")
    assert more.inner_text() == "Load more (3 more)"
    more.click()
    expect(items).to_have_count(4)
    more.click()
    expect(items).to_have_count(5)
    assert not more.is_visible()
    ids = items.evaluate_all("li => li.map(x => x.dataset.id)")
    assert ids == sorted(p.stem for p in CORPUS.glob("*.txt"))
    items.first.locator("button.doc-open").click()  # a title opens the document
    expect(page.locator("#doc-title")).to_have_text(re.compile("Future Landscape"))


def test_example_questions_come_from_the_documents(page):
    _open(page)
    examples = page.locator("#examples button.example")
    expect(examples).to_have_count(4)
    titles = page.evaluate("fetch('/documents?limit=4').then(r => r.json()).then(j => j.documents.map(d => d.title))")
    assert examples.all_inner_texts() == [f"What is {t} about?" for t in titles]
    examples.first.click()
    answer = _replies(page).first
    answer.wait_for(timeout=30_000)
    assert "answered" in answer.get_attribute("class")
    assert not page.locator("#welcome").is_visible()
    page.locator("#new-chat").click()
    assert page.locator("#welcome").is_visible() and page.locator("#messages li").count() == 0


# -- phone width ---------------------------------------------------------------------------------
def test_phone_width_has_no_horizontal_scrolling_and_big_buttons(phone):
    page = phone
    _open(page)
    width = "document.documentElement.scrollWidth"
    assert page.evaluate(width) <= 390
    answer = _ask(page, BELGIUM_Q)  # a card with a table and long titles
    answer.locator("details.more-passages summary").first.click()
    assert page.evaluate(width) <= 390
    # stacked: the conversation, then the documents
    chat, docs = page.locator("#chat").bounding_box(), page.locator("#documents").bounding_box()
    assert docs["y"] >= chat["y"] + chat["height"] - 1 and docs["width"] <= 390
    small = page.evaluate("""() => [...document.querySelectorAll('button, summary, label.button, input')]
        .filter(e => e.offsetParent !== null && e.type !== 'file')
        .map(e => [e.textContent.trim().slice(0, 30) || e.id, e.getBoundingClientRect().height])
        .filter(([, h]) => h < 44)""")
    assert small == []
    answer.locator(".source-card button.cite").first.click()
    page.locator("#doc-text mark.highlight").wait_for(timeout=10_000)
    assert page.locator("#source").is_visible() and _highlight_in_view(page)
    assert page.evaluate(width) <= 390
    page.locator("#close-doc").click()
    assert not page.locator("#source").is_visible()


# -- keys ----------------------------------------------------------------------------------------
def test_keys_the_page_says_which_key_is_needed(keyed_page, tmp_path):
    page = keyed_page
    page.watched.expected_statuses = {401, 403}
    _open(page)
    notice = page.locator("#key-notice")
    expect(notice).to_be_visible()
    assert "key is needed" in notice.inner_text()
    reply = _ask(page, BELGIUM_Q)
    assert "error" in reply.get_attribute("class") and "key is needed" in reply.inner_text()

    page.locator("#api-key").fill(READ)
    page.locator("#api-key").press("Enter")
    expect(page.locator("#doc-list li")).to_have_count(5)
    expect(notice).to_be_hidden()
    expect(page.locator("#examples button.example")).to_have_count(4)
    assert _ask(page, BELGIUM_Q).locator(".answer").inner_text() == BELGIUM_A
    assert page.evaluate("sessionStorage.getItem('rag.apiKey')") == READ and page.evaluate("localStorage.length") == 0
    row = _upload(page, tmp_path, "notes.txt", b"The lighthouse of Varn is painted red.")
    assert "failed" in row.get_attribute("class") and "admin key is needed" in row.inner_text()
    expect(notice).to_be_visible()
    assert "admin key is needed" in notice.inner_text()

    page.locator("#api-key").fill(ADMIN)
    page.locator("#api-key").press("Enter")
    row = _upload(page, tmp_path, "notes.txt", b"The lighthouse of Varn is painted red.")
    assert "ok" in row.get_attribute("class"), row.inner_text()
    expect(page.locator('#doc-list li[data-id="notes"]')).to_have_count(1)
    page.reload()  # the key lasts as long as the tab
    _wait_ready(page)
    expect(page.locator('#doc-list li[data-id="notes"]')).to_have_count(1)
    assert not notice.is_visible()
    page.once("dialog", lambda d: d.accept())
    page.locator('#doc-list li[data-id="notes"] button.delete').click()
    expect(page.locator('#doc-list li[data-id="notes"]')).to_have_count(0, timeout=30_000)
    page.locator("#forget-key").click()
    assert page.evaluate("sessionStorage.getItem('rag.apiKey')") is None
    expect(notice).to_be_visible()


# -- the policy ----------------------------------------------------------------------------------
def test_no_console_errors_and_no_policy_violations(page):
    response = page.goto("/")
    assert "script-src 'self';" in response.headers["content-security-policy"]
    _wait_ready(page)
    answer = _ask(page, BELGIUM_Q)
    answer.locator(".source-card button.cite").first.click()
    page.locator("#doc-text mark.highlight").wait_for(timeout=10_000)
    page.keyboard.press("Escape")
    page.locator("#doc-list button.doc-open").first.click()
    expect(page.locator("#source")).to_be_visible()
    _ask(page, UNANSWERABLE_Q).locator("details.closest > summary").click()
    assert page.watched.problems() == []
    # the watch sees what the policy blocks: an injected inline script is refused and reported
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1'; document.body.append(s); }")
    for _ in range(50):
        if page.evaluate("window.__csp.length"):
            break
        page.wait_for_timeout(100)
    assert page.evaluate("window.__csp.length") > 0
    assert page.evaluate("window.__ran") is None
    page.evaluate("window.__csp.length = 0")  # seen: not a failure of the page
    page.watched.errors.clear()
