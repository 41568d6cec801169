// An answer's sources as cards: one card per document, its passages merged into it; the card holding
// the answer first, marked as such, with the answer's words highlighted in its passage.

import {el, plural} from "./dom.js";
import {renderPassage} from "./passage.js";

/** Whether the answer span (or part of it) lies in citation c. */
export function holdsSpan(c, span) {
  return Boolean(span) && span.doc_id === c.doc_id && span.start < c.end && span.end > c.start;
}

/** The citations grouped by document, in the order of each document's best passage; the document
 * holding the answer first, and in each document the passage holding the answer first. */
export function groupByDocument(citations, span) {
  const groups = new Map();
  for (const c of citations) {
    if (!groups.has(c.doc_id)) groups.set(c.doc_id, {doc_id: c.doc_id, title: c.title || c.doc_id, passages: []});
    groups.get(c.doc_id).passages.push(c);
  }
  const list = [...groups.values()];
  for (const g of list) {
    g.holdsAnswer = g.passages.some((c) => holdsSpan(c, span));
    g.passages.sort((a, b) => holdsSpan(b, span) - holdsSpan(a, span)); // stable: rank order otherwise
  }
  return list.sort((a, b) => b.holdsAnswer - a.holdsAnswer);
}

/** "Section · page 3": where in its document a passage is. */
export function whereIs(c, title) {
  return [c.section && c.section !== title ? c.section : null, c.page ? `page ${c.page}` : null].filter(Boolean).join(" · ");
}

function passageView(c, span, i) {
  const mark = holdsSpan(c, span) ? {start: span.start - c.start, end: span.end - c.start} : null;
  return el("div", {class: "passage", "data-i": i}, renderPassage(c.text, mark));
}

function morePassages(group, span, open) {
  const rest = group.passages.slice(1);
  if (!rest.length) return null;
  const details = el("details", {class: "more-passages"},
    el("summary", {}, `${plural(rest.length, "more passage")} from this document`));
  rest.forEach((c, j) => {
    const i = j + 1;
    const label = whereIs(c, group.title) || `passage ${i + 1}`;
    const link = el("button", {type: "button", class: "passage-link", "aria-label": `Open this passage in the document: ${label}`}, label);
    link.addEventListener("click", (e) => { e.stopPropagation(); open(c, link); });
    details.append(el("div", {class: "passage-item"}, link, passageView(c, span, i)));
  });
  return details;
}

/** One document's card. open(citation, button) shows the passage in its document. */
function card(group, n, span, open) {
  const first = group.passages[0];
  const button = el("button", {type: "button", class: "cite", "data-n": n, "data-doc": group.doc_id, "aria-pressed": "false",
                               "aria-label": `Open source ${n}${group.holdsAnswer ? ", the answer's" : ""}: ${group.title}`},
    el("span", {class: "num", "aria-hidden": "true"}, String(n)), el("span", {class: "card-title"}, group.title));
  const where = whereIs(first, group.title);
  const li = el("li", {class: "source-card" + (group.holdsAnswer ? " holds-answer" : ""), "data-doc": group.doc_id},
    el("div", {class: "card-head"}, button, group.holdsAnswer ? el("span", {class: "badge"}, "Answer") : null),
    where ? el("p", {class: "card-where"}, where) : null,
    passageView(first, span, 0),
    morePassages(group, span, open));
  // the whole card opens the document: the passage clicked, else the card's first one
  li.addEventListener("click", (e) => {
    if (e.target.closest("summary, .passage-link") || String(window.getSelection() || "")) return;
    const item = e.target.closest(".passage-item");
    const i = item ? Number(item.querySelector(".passage").dataset.i) : 0;
    open(group.passages[i], button);
  });
  return li;
}

/** The cards of an answer's citations, as an <ol>. */
export function sourceCards(answer, open) {
  const span = answer.answer_span;
  const list = el("ol", {class: "cards"});
  groupByDocument(answer.citations, span).forEach((g, i) => list.append(card(g, i + 1, span, open)));
  return list;
}
