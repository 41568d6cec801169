// The chat page's entry point: no framework, no build step, no network beyond this server.

import {$} from "./dom.js";
import * as chat from "./chat.js";
import * as documents from "./documents.js";
import {showExamples} from "./examples.js";
import * as keys from "./keys.js";
import * as source from "./source.js";

const status = $("status");

/** The server's readiness in the header; once ready, what needs the index. */
async function checkReady(then = () => {}) {
  try {
    const r = await fetch("/readyz");
    const j = await r.json();
    if (r.ok) {
      status.textContent = `ready — ${j.documents} documents, ${j.chunks} passages`;
      then();
      return;
    }
    status.textContent = j.error || "loading…";
  } catch {
    status.textContent = "server unreachable";
  }
  setTimeout(() => checkReady(then), 1500);
}

function reloadDocuments() {
  documents.refresh();
  showExamples(chat.ask);
}

chat.init();
source.init($("question"));
documents.init(() => {
  source.forget();
  checkReady();
  showExamples(chat.ask);
});
keys.init(reloadDocuments);
checkReady(reloadDocuments);
