// The documents panel: the documents the server answers from (a page at a time), uploads by drag and
// drop or file picker with per-file progress and result, and deleting the uploaded ones.

import {$, el, plural} from "./dom.js";
import {deleteJSON, errorMessage, getJSON, uploadFile} from "./api.js";
import {showDocument} from "./source.js";

const SUPPORTED = [".txt", ".md", ".markdown", ".html", ".htm", ".pdf"];
const list = $("doc-list"), more = $("load-more"), count = $("doc-count"), problem = $("docs-error");
const drop = $("drop"), picker = $("file-input"), uploads = $("uploads");
const PAGE = Number(list.dataset.pageSize) || 20;

let loaded = 0;
let generation = 0; // a refresh starts over: pages of an older listing are dropped
let changed = () => {};
let queue = Promise.resolve(); // uploads run one after the other (the server writes one at a time)

function showProblem(message) {
  problem.textContent = message;
  problem.hidden = !message;
}

// -- the list ----------------------------------------------------------------------------------
function deleteButton(doc) {
  const b = el("button", {type: "button", class: "delete", "aria-label": `Delete ${doc.title || doc.id}`}, "Delete");
  b.addEventListener("click", () => remove(doc, b));
  return b;
}

function item(doc) {
  const name = doc.title || doc.id;
  const open = el("button", {type: "button", class: "doc-open", title: "Read the document"}, name);
  open.addEventListener("click", () => showDocument(doc.id, open));
  return el("li", {class: "doc", "data-id": doc.id, "data-origin": doc.origin},
    el("div", {class: "doc-main"}, open,
      el("p", {class: "doc-meta"},
        el("code", {class: "doc-id"}, doc.id), " · ",
        el("span", {class: `origin origin-${doc.origin}`}, doc.origin === "api" ? "uploaded" : "corpus folder"), " · ",
        plural(doc.chunks, "passage"))),
    doc.origin === "api" ? deleteButton(doc) : null);
}

async function loadPage(gen) {
  const page = await getJSON(`/documents?offset=${loaded}&limit=${PAGE}`);
  if (gen !== generation) return;
  list.append(...page.documents.map(item));
  loaded += page.documents.length;
  count.textContent = page.total ? plural(page.total, "document") : "No documents yet: add some above.";
  more.hidden = loaded >= page.total;
  more.textContent = `Load more (${page.total - loaded} more)`;
}

async function guarded(work) {
  try {
    await work();
    showProblem("");
  } catch (e) {
    showProblem(`Could not list the documents: ${e.message}`);
  }
}

/** List the documents again from the first page. */
export async function refresh() {
  const gen = ++generation;
  loaded = 0;
  list.replaceChildren();
  more.hidden = true;
  count.textContent = "";
  await guarded(() => loadPage(gen));
}

async function remove(doc, button) {
  if (!window.confirm(`Delete “${doc.title || doc.id}” (${doc.id})? Questions will no longer be answered from it.`)) return;
  button.disabled = true;
  button.textContent = "Deleting…";
  try {
    await deleteJSON(`/documents/${encodeURIComponent(doc.id)}`);
  } catch (e) {
    showProblem(`Could not delete ${doc.id}: ${e.message}`);
    button.disabled = false;
    button.textContent = "Delete";
    return;
  }
  await refresh();
  changed();
}

// -- uploads -----------------------------------------------------------------------------------
function suffix(name) {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot).toLowerCase();
}

function kb(bytes) {
  return bytes < 1024 * 1024 ? `${Math.max(1, Math.round(bytes / 1024))} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** A row of the upload list: its progress bar and result line. */
function uploadRow(file) {
  const bar = el("progress", {max: 100, value: 0, "aria-label": `Upload of ${file.name}`});
  const result = el("p", {class: "upload-result"}, "waiting…");
  const li = el("li", {class: "upload"}, el("p", {class: "upload-name"}, el("span", {}, file.name), el("span", {class: "size"}, kb(file.size))), bar, result);
  uploads.append(li);
  return {
    progress(fraction) {
      if (fraction < 1) {
        bar.value = Math.round(fraction * 100);
        result.textContent = `uploading… ${Math.round(fraction * 100)}%`;
      } else {
        bar.removeAttribute("value"); // indeterminate: the server is reading and indexing it
        result.textContent = "uploaded; indexing…";
      }
    },
    done(ok, message) {
      li.classList.add(ok ? "ok" : "failed");
      bar.value = ok ? 100 : 0;
      bar.hidden = true;
      result.textContent = message;
    },
  };
}

async function uploadOne(file, row) {
  if (!SUPPORTED.includes(suffix(file.name))) {
    row.done(false, `Not a supported file type: use ${SUPPORTED.join(" ")}`);
    return false;
  }
  const {status, body} = await uploadFile(file, (f) => row.progress(f));
  if (status === 201 && body && body.documents && body.documents.length) {
    const d = body.documents[0];
    row.done(true, `Added “${d.title}” as ${d.id}: ${plural(d.chunks, "passage")} in ${d.seconds} s`);
    return true;
  }
  if (status === 201 && body && body.skipped && body.skipped.length) {
    row.done(false, body.skipped[0].error);
    return false;
  }
  row.done(false, errorMessage(status, body));
  return false;
}

/** Upload files one after the other; refresh the list when any was added. */
export function upload(files) {
  for (const li of uploads.querySelectorAll("li.ok, li.failed")) li.remove();
  const rows = [...files].map((f) => [f, uploadRow(f)]);
  queue = queue.then(async () => {
    let added = 0;
    for (const [file, row] of rows) added += await uploadOne(file, row);
    if (added) {
      await refresh();
      changed();
    }
  });
  return queue;
}

function initDrop() {
  const over = (e) => {
    if (![...e.dataTransfer.types].includes("Files")) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
    drop.classList.add("dragging");
  };
  drop.addEventListener("dragenter", over);
  drop.addEventListener("dragover", over);
  drop.addEventListener("dragleave", (e) => { if (!drop.contains(e.relatedTarget)) drop.classList.remove("dragging"); });
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("dragging");
    if (e.dataTransfer.files.length) upload(e.dataTransfer.files);
  });
  // a file dropped beside the zone must not replace the page with the file
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  picker.addEventListener("change", () => {
    if (picker.files.length) upload(picker.files);
    picker.value = ""; // the same file can be picked again
  });
}

/** onChange: called after documents were added or deleted. */
export function init(onChange) {
  changed = onChange;
  more.addEventListener("click", () => guarded(() => loadPage(generation)));
  initDrop();
}
