// The conversation: each question is sent to /chat with the turns before it, so follow-ups ("and
// Poland?", "tell me more") are read against them; each answer is shown with its sources as cards.

import {$, el, plural} from "./dom.js";
import {postJSON} from "./api.js";
import {sourceCards} from "./cards.js";
import * as source from "./source.js";

// What the server reads back as "no answer" in an assistant turn (rag/reply.py ABSTAIN_TEXT).
const NO_ANSWER = "The corpus does not say.";
const HISTORY = 20; // the latest messages sent: follow-ups refer to recent turns, not to turn 1
const MORE = "tell me more";

const form = $("ask-form"), input = $("question"), list = $("messages"), send = $("send"), welcome = $("welcome");
let history = []; // [{role, content}] sent to /chat

function addMessage(node) {
  list.append(node);
  welcome.hidden = true;
  return node;
}

function headline(a) {
  if (a.talk) return "Ask me a question about the documents.";
  if (a.abstained) return a.more ? "The documents say nothing more about this." : "The documents do not say.";
  return a.answer;
}

function searchedLine(a, asked) {
  const q = a.standalone_question;
  if (!q || a.talk || q.trim().toLowerCase() === asked.trim().toLowerCase()) return null;
  return el("p", {class: "searched"}, `Searched for: “${q}”`);
}

function openFrom(a) {
  return (c, button) => source.showCitation(c, a.answer_span, Number(button.dataset.n), button);
}

function sourcesOf(a) {
  if (a.talk || !a.citations.length) return null;
  const cards = sourceCards(a, openFrom(a));
  if (!a.abstained) return el("section", {class: "sources", "aria-label": "Sources"}, el("h3", {}, "Sources"), cards);
  const docs = cards.children.length;
  return el("details", {class: "sources closest"},
    el("summary", {}, `Closest passages (${plural(docs, "document")}), none of which answers it`), cards);
}

function moreButton() {
  const b = el("button", {type: "button", class: "more-button"}, "Tell me more");
  b.addEventListener("click", () => ask(MORE));
  return b;
}

export function renderAnswer(a, asked) {
  const kind = a.talk ? "talk" : a.abstained ? "abstain" : "answered";
  const li = el("li", {class: `bot ${kind}`},
    el("p", {class: "answer", "data-abstained": String(a.abstained)}, headline(a)),
    kind === "abstain" && !a.more ? el("p", {class: "note"}, "No passage of the indexed documents answers this.") : null,
    searchedLine(a, asked),
    sourcesOf(a),
    kind === "answered" ? moreButton() : null);
  return li;
}

function clearMoreButtons() {
  for (const b of list.querySelectorAll(".more-button")) b.remove();
}

function failed(message) {
  return el("li", {class: "error", role: "alert"}, message);
}

/** Ask a question (or a follow-up): shows it, sends the conversation, shows the reply. */
export async function ask(question) {
  const q = question.trim();
  if (!q || send.disabled) return;
  clearMoreButtons();
  const mine = addMessage(el("li", {class: "user"}, q));
  history.push({role: "user", content: q});
  send.disabled = true;
  const pending = addMessage(el("li", {class: "bot pending", "aria-busy": "true"}, "Looking through the documents…"));
  mine.scrollIntoView({block: "nearest"});
  try {
    const a = await postJSON("/chat", {messages: history.slice(-HISTORY)});
    pending.replaceWith(renderAnswer(a, q));
    history.push({role: "assistant", content: a.abstained ? NO_ANSWER : a.answer});
  } catch (e) {
    pending.replaceWith(failed(e.status === 401 || e.status === 403 ? `${e.message} The API key field is in the documents panel.` : e.message));
    history.pop();
  } finally {
    send.disabled = false;
    mine.scrollIntoView({block: "start"});
  }
}

export function isEmpty() {
  return history.length === 0 && !list.children.length;
}

export function newChat() {
  history = [];
  list.replaceChildren();
  welcome.hidden = false;
  source.hide();
  input.focus();
}

export function init() {
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = input.value;
    if (!q.trim() || send.disabled) { input.focus(); return; }
    input.value = "";
    // back to the field for a follow-up; not on a touch screen, where it would pop the keyboard over the answer
    ask(q).then(() => { if (!matchMedia("(pointer: coarse)").matches) input.focus({preventScroll: true}); });
  });
  $("new-chat").addEventListener("click", newChat);
}
