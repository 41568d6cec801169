// A passage's text as DOM nodes: markdown pipe tables as <table>, the rest as paragraphs with their
// line breaks, and the part of it an answer came from in a <mark>. Passages are untrusted text: every
// piece goes in as a text node. Offsets stay those of the passage, so the mark lands where it belongs
// even inside a table cell.

import {el} from "./dom.js";

const DELIMITER = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

/** The lines of text, each {start, end} (end before its line break). */
export function lines(text) {
  const out = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf("\n", start);
    const end = nl < 0 ? text.length : nl;
    out.push({start, end: end > start && text[end - 1] === "\r" ? end - 1 : end});
    if (nl < 0) return out;
    start = nl + 1;
  }
}

/** The cells of a table row line, each {start, end} trimmed; a leading and a trailing pipe are optional. */
export function cells(text, line) {
  let {start, end} = line;
  while (start < end && /\s/.test(text[start])) start++;
  while (end > start && /\s/.test(text[end - 1])) end--;
  if (text[start] === "|") start++;
  if (end > start && text[end - 1] === "|" && text[end - 2] !== "\\") end--;
  const out = [];
  let from = start;
  for (let i = start; i <= end; i++) {
    if (i === end || (text[i] === "|" && text[i - 1] !== "\\")) {
      let s = from, e = i;
      while (s < e && /\s/.test(text[s])) s++;
      while (e > s && /\s/.test(text[e - 1])) e--;
      out.push({start: s, end: e});
      from = i + 1;
    }
  }
  return out;
}

function isDelimiter(text, line) {
  const s = text.slice(line.start, line.end);
  return s.includes("|") && s.includes("-") && DELIMITER.test(s);
}

function alignments(text, line) {
  return cells(text, line).map(({start, end}) => {
    const c = text.slice(start, end);
    return c.endsWith(":") ? (c.startsWith(":") ? "center" : "right") : null;
  });
}

const hasPipe = (text, line) => text.slice(line.start, line.end).includes("|");

/** A header row: pipes, then a delimiter row of as many cells (as GitHub's markdown reads tables). */
function startsTable(text, line, next) {
  return Boolean(next) && hasPipe(text, line) && isDelimiter(text, next) && cells(text, line).length === cells(text, next).length;
}
const isBlank = (text, line) => !text.slice(line.start, line.end).trim();

/** The passage as blocks: {type: "table", header, align, rows} (cells as offsets) or
 * {type: "paragraph", lines}; a table is a row with pipes followed by a delimiter row ("|---|---|"). */
export function blocks(text) {
  const ls = lines(text);
  const out = [];
  let paragraph = [];
  const flush = () => { if (paragraph.length) out.push({type: "paragraph", lines: paragraph}); paragraph = []; };
  for (let i = 0; i < ls.length; i++) {
    const line = ls[i];
    if (startsTable(text, line, ls[i + 1])) {
      flush();
      const table = {type: "table", header: cells(text, line), align: alignments(text, ls[i + 1]), rows: []};
      i += 2;
      while (i < ls.length && hasPipe(text, ls[i]) && !isBlank(text, ls[i])) table.rows.push(cells(text, ls[i++]));
      i--;
      out.push(table);
    } else if (isBlank(text, line)) {
      flush();
    } else {
      paragraph.push(line);
    }
  }
  flush();
  return out;
}

/** text[start:end] as nodes, the part inside mark ({start, end} or null) in a <mark>. */
export function marked(text, start, end, mark) {
  if (!mark || mark.end <= start || mark.start >= end) return [text.slice(start, end)];
  const ms = Math.max(start, mark.start), me = Math.min(end, mark.end);
  return [text.slice(start, ms), el("mark", {class: "answer-span"}, text.slice(ms, me)), text.slice(me, end)].filter((n) => n !== "");
}

function renderParagraph(text, block, mark) {
  const p = el("p");
  block.lines.forEach((line, i) => {
    if (i) p.append(el("br"));
    p.append(...marked(text, line.start, line.end, mark));
  });
  return p;
}

function renderCell(tag, text, cell, align, mark) {
  return el(tag, {class: align ? `align-${align}` : null}, ...marked(text, cell.start, cell.end, mark));
}

function renderTable(text, block, mark) {
  // rows longer than the header keep their cells (no text of the passage is dropped), shorter ones are padded
  const width = Math.max(block.header.length, ...block.rows.map((cs) => cs.length));
  const row = (cs, tag) => {
    const tr = el("tr");
    for (let i = 0; i < width; i++) {
      tr.append(cs[i] ? renderCell(tag, text, cs[i], block.align[i], mark) : el(tag));
    }
    return tr;
  };
  return el("div", {class: "table-wrap"},
    el("table", {},
      el("thead", {}, row(block.header, "th")),
      el("tbody", {}, block.rows.map((cs) => row(cs, "td")))));
}

/** The passage text as a fragment of paragraphs and tables; mark: {start, end} in the passage's offsets. */
export function renderPassage(text, mark = null) {
  const fragment = document.createDocumentFragment();
  for (const block of blocks(text)) {
    fragment.append(block.type === "table" ? renderTable(text, block, mark) : renderParagraph(text, block, mark));
  }
  return fragment;
}
