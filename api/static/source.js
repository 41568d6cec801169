// The document panel: a whole document's text, with a cited passage and the answer in it highlighted
// and scrolled into view.

import {$, el, plural} from "./dom.js";
import {getJSON} from "./api.js";

const panel = $("source"), title = $("doc-title"), meta = $("doc-meta"), text = $("doc-text");
const cache = new Map(); // doc_id -> document
let opener = null;       // the control that opened the panel: focus goes back to it on close
let showing = 0;         // the latest request: a slower earlier one must not overwrite it

async function load(id) {
  if (!cache.has(id)) cache.set(id, await getJSON(`/documents/${encodeURIComponent(id)}`));
  return cache.get(id);
}

/** Forget cached documents (after an upload or a delete). */
export function forget() {
  cache.clear();
}

function select(control) {
  for (const b of document.querySelectorAll("[aria-pressed='true']")) b.setAttribute("aria-pressed", "false");
  if (control && control.hasAttribute("aria-pressed")) control.setAttribute("aria-pressed", "true");
  opener = control;
}

/** The PDF page (1-based) that offset lies on, or null. */
export function pageAt(doc, offset) {
  if (!doc.pages || !doc.pages.length) return null;
  return doc.pages.filter((start) => start <= offset).length || 1;
}

/** Where the highlight goes: the answer span within the passage, else the whole passage. */
export function highlightRange(c, span) {
  if (span && span.doc_id === c.doc_id && span.start < c.end && span.end > c.start) {
    return [Math.max(span.start, c.start), Math.min(span.end, c.end)];
  }
  return [c.start, c.end];
}

function show() {
  panel.hidden = false;
  document.body.classList.add("source-open");
}

export function hide() {
  if (panel.hidden) return false;
  panel.hidden = true;
  document.body.classList.remove("source-open");
  select(null);
  return true;
}

async function fetchFor(id, control) {
  const ticket = ++showing;
  select(control);
  try {
    const doc = await load(id);
    return ticket === showing ? doc : null;
  } catch (e) {
    if (ticket === showing) {
      title.textContent = id;
      meta.textContent = `Could not open the document: ${e.message}`;
      text.replaceChildren();
      show();
    }
    return null;
  }
}

/** Open citation c (of an answer with span) in its document; n: its card's number. */
export async function showCitation(c, span, n, control) {
  const doc = await fetchFor(c.doc_id, control);
  if (!doc) return;
  const [hs, he] = highlightRange(c, span);
  const t = doc.text;
  text.replaceChildren(
    t.slice(0, c.start),
    el("span", {class: "passage"}, t.slice(c.start, hs),
      el("mark", {class: "highlight", id: "highlight", "data-start": hs, "data-end": he}, t.slice(hs, he)),
      t.slice(he, c.end)),
    t.slice(c.end));
  title.textContent = `${n}. ${doc.title}`;
  const page = pageAt(doc, hs);
  meta.textContent = [doc.id, c.section && c.section !== doc.title ? c.section : null, page ? `page ${page}` : null,
                      `characters ${hs}–${he}`].filter(Boolean).join(" · ");
  show();
  $("highlight").scrollIntoView({block: "center"});
  text.focus({preventScroll: true});
}

/** Open a whole document (from the documents list). */
export async function showDocument(id, control) {
  const doc = await fetchFor(id, control);
  if (!doc) return;
  text.replaceChildren(doc.text);
  title.textContent = doc.title;
  meta.textContent = [doc.id, doc.origin === "api" ? "uploaded" : "corpus folder", plural(doc.chunks, "passage"),
                      doc.pages && doc.pages.length ? plural(doc.pages.length, "page") : null].filter(Boolean).join(" · ");
  show();
  text.scrollTop = 0;
  text.focus({preventScroll: true});
}

/** Close the panel and give focus back to what opened it (or to fallback). */
export function close(fallback) {
  const back = opener;
  if (!hide()) return false;
  (back && back.isConnected ? back : fallback).focus();
  return true;
}

export function init(fallback) {
  $("close-doc").addEventListener("click", () => close(fallback));
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") close(fallback); });
}
