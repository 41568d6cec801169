// The API key: typed once, kept in this tab's sessionStorage, sent as "Authorization: Bearer" by api.js.
// A 401 or 403 anywhere shows what key is needed.

import {$} from "./dom.js";
import {getKey, setKey} from "./api.js";

const form = $("key-form"), input = $("api-key"), state = $("key-state"), forgetButton = $("forget-key");
const notice = $("key-notice"), noticeText = $("key-notice-text");

function showState() {
  const set = Boolean(getKey());
  state.textContent = set ? "A key is set for this tab." : "No key set.";
  forgetButton.hidden = !set;
}

function needed(status) {
  noticeText.textContent = status === 403
    ? "An admin key is needed to add or delete documents: this key may only ask and read."
    : getKey() ? "This API key is not valid: enter another one." : "A key is needed: this server asks for an API key.";
  notice.hidden = false;
}

export function init(onChange) {
  showState();
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (!key) { input.focus(); return; }
    setKey(key);
    input.value = "";
    notice.hidden = true;
    showState();
    onChange();
  });
  forgetButton.addEventListener("click", () => {
    setKey("");
    showState();
    onChange();
  });
  $("key-notice-go").addEventListener("click", () => {
    input.scrollIntoView({block: "center"});
    input.focus();
  });
  document.addEventListener("rag:auth", (e) => needed(e.detail.status));
}
