"use strict";
// The chat page: no framework, no network beyond this server.
(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("ask-form"), input = $("question"), list = $("messages"), status = $("status");
  const source = $("source"), docTitle = $("doc-title"), docMeta = $("doc-meta"), docText = $("doc-text");
  let history = [];           // [{role, content}] sent to /chat
  const HISTORY = 20;         // the latest messages sent: follow-ups refer to recent turns, not to turn 1
  const docCache = new Map(); // doc_id -> document

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
    }
    for (const c of children) e.append(c);
    return e;
  }

  function addMessage(node) { list.append(node); node.scrollIntoView({block: "end"}); return node; }

  async function checkReady() {
    try {
      const r = await fetch("/readyz");
      const j = await r.json();
      if (r.ok) { status.textContent = `ready — ${j.documents} documents, ${j.chunks} passages`; return; }
      status.textContent = j.error || "loading…";
    } catch (e) { status.textContent = "server unreachable"; }
    setTimeout(checkReady, 1500);
  }

  function highlightRange(answer, c) {
    const s = answer.answer_span;
    if (s && s.doc_id === c.doc_id && s.start >= c.start && s.end <= c.end) return [s.start, s.end];
    return [c.start, c.end];
  }

  async function openCitation(button, answer, c, n) {
    for (const b of document.querySelectorAll("button.cite[aria-pressed='true']")) b.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-pressed", "true");
    let doc = docCache.get(c.doc_id);
    if (!doc) {
      const r = await fetch(`/documents/${encodeURIComponent(c.doc_id)}`);
      if (!r.ok) { docMeta.textContent = `could not open ${c.doc_id} (${r.status})`; source.hidden = false; return; }
      doc = await r.json(); docCache.set(c.doc_id, doc);
    }
    const [hs, he] = highlightRange(answer, c);
    const t = doc.text;
    docText.replaceChildren(
      t.slice(0, c.start),
      el("span", {class: "passage"}, t.slice(c.start, hs),
         el("mark", {class: "highlight", id: "highlight", "data-start": String(hs), "data-end": String(he)}, t.slice(hs, he)),
         t.slice(he, c.end)),
      t.slice(c.end));
    docTitle.textContent = `[${n}] ${doc.title}`;
    docMeta.textContent = `${doc.id}${c.section ? " — " + c.section : ""} · characters ${hs}–${he}`;
    source.hidden = false;
    const mark = $("highlight");
    mark.scrollIntoView({block: "center"});
    docText.focus({preventScroll: true});
  }

  function renderAnswer(a) {
    const abstained = a.abstained;
    // talk ("thanks!") is not looked up: "the corpus does not say" would read as a failure
    const talk = a.talk === true;
    const li = el("li", {class: "bot" + (abstained ? " abstain" : "")});
    li.append(el("div", {class: "answer", "data-abstained": String(abstained)},
      talk ? "Ask me a question about the documents." : abstained && a.more ? "The documents say nothing more about this."
        : abstained ? "The corpus does not say." : a.answer));
    if (abstained && !talk) li.append(el("div", {class: "standalone"},
      a.citations.length ? "No passage of the indexed documents answers this. Closest passages:" : "No passage of the indexed documents answers this."));
    if (a.standalone_question && a.standalone_question.toLowerCase() !== (history.at(-1)?.content || "").toLowerCase())
      li.append(el("div", {class: "standalone"}, `searched: “${a.standalone_question}”`));
    const cites = el("div", {class: "cites", role: "list"});
    a.citations.forEach((c, i) => {
      const n = i + 1;
      const b = el("button", {type: "button", class: "cite", "data-n": String(n), "data-doc": c.doc_id,
                              title: c.text.slice(0, 200), "aria-pressed": "false"},
                   el("span", {class: "num"}, `[${n}]`), ` ${c.title}${c.section && c.section !== c.title ? " — " + c.section : ""}`);
      b.setAttribute("aria-pressed", "false");
      b.setAttribute("aria-label", `Open source ${n}: ${c.title}`);
      b.addEventListener("click", () => openCitation(b, a, c, n));
      cites.append(b);
    });
    li.append(cites);
    return li;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const q = input.value.trim();
    if (!q) { input.focus(); return; }
    input.value = "";
    addMessage(el("li", {class: "user"}, q));
    history.push({role: "user", content: q});
    const btn = $("send"); btn.disabled = true;
    const pending = addMessage(el("li", {class: "bot pending"}, "…"));
    try {
      const r = await fetch("/chat", {method: "POST", headers: {"Content-Type": "application/json"},
                                      body: JSON.stringify({messages: history.slice(-HISTORY)})});
      const j = await r.json();
      if (!r.ok) {
        pending.replaceWith(addMessage(el("li", {class: "error"}, j.error || `error ${r.status}`)));
        history.pop();
      } else {
        pending.replaceWith(addMessage(renderAnswer(j)));
        history.push({role: "assistant", content: j.abstained ? "The corpus does not say." : j.answer});
      }
    } catch (e) {
      pending.replaceWith(addMessage(el("li", {class: "error"}, "the server could not be reached")));
      history.pop();
    } finally {
      btn.disabled = false; input.focus();
    }
  });

  $("new-chat").addEventListener("click", () => { history = []; list.replaceChildren(); source.hidden = true; input.focus(); });
  $("close-doc").addEventListener("click", () => { source.hidden = true; input.focus(); });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !source.hidden) { source.hidden = true; input.focus(); } });
  checkReady();
})();
