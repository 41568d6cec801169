// Example questions for the empty page, made from the documents the server has (whatever the corpus).

import {$, el} from "./dom.js";
import {getJSON} from "./api.js";

const COUNT = 4;
const box = $("examples"), note = $("examples-note");

/** "What is <title> about?" for a document. */
export function questionFor(doc) {
  const name = (doc.title || doc.id).trim().replace(/[\s.?!:;,]+$/, "");
  return `What is ${name} about?`;
}

/** Fill the examples from the first documents; ask(question) when one is clicked. */
export async function showExamples(ask) {
  let docs;
  try {
    docs = (await getJSON(`/documents?limit=${COUNT}`)).documents;
  } catch (e) {
    box.replaceChildren();
    note.textContent = e.status === 401 || e.status === 403 ? "Enter an API key to see example questions." : "";
    return;
  }
  note.textContent = docs.length ? "For example:" : "There are no documents yet: add some in the documents panel.";
  box.replaceChildren(...docs.map((doc) => {
    const q = questionFor(doc);
    const b = el("button", {type: "button", class: "example"}, q);
    b.addEventListener("click", () => ask(q));
    return el("li", {}, b);
  }));
}
