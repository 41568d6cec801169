// Talking to the server: the API key (kept in sessionStorage only), JSON requests, uploads with progress.
// A 401 or 403 is also announced as a "rag:auth" event on document, so the key field can say what is needed.

const KEY = "rag.apiKey";

export function getKey() {
  try { return sessionStorage.getItem(KEY) || ""; } catch { return ""; }
}

export function setKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY, key); else sessionStorage.removeItem(KEY);
  } catch { /* storage disabled: the key lasts until the page is left */ }
}

function authHeaders(headers = {}) {
  const key = getKey();
  return key ? {...headers, Authorization: `Bearer ${key}`} : headers;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** What to tell the user about a failed request. */
export function errorMessage(status, body) {
  if (status === 401) return getKey() ? "This API key is not valid: enter another one." : "A key is needed: enter an API key.";
  if (status === 403) return "An admin key is needed to add or delete documents.";
  if (status === 0) return "The server could not be reached.";
  return (body && typeof body.error === "string" && body.error) || `The server answered ${status}.`;
}

function announce(status) {
  if (status === 401 || status === 403) document.dispatchEvent(new CustomEvent("rag:auth", {detail: {status}}));
}

function parseJSON(text) {
  try { return JSON.parse(text); } catch { return null; }
}

/** fetch a JSON endpoint; the parsed body, or an ApiError with a message for the user. */
export async function request(method, path, body) {
  const init = {method, headers: authHeaders(body === undefined ? {} : {"Content-Type": "application/json"})};
  if (body !== undefined) init.body = JSON.stringify(body);
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, errorMessage(0));
  }
  const data = parseJSON(await response.text());
  if (!response.ok) {
    announce(response.status);
    throw new ApiError(response.status, errorMessage(response.status, data));
  }
  return data;
}

export const getJSON = (path) => request("GET", path);
export const postJSON = (path, body) => request("POST", path, body);
export const deleteJSON = (path) => request("DELETE", path);

/** POST one file to /documents. onProgress(fraction) follows the upload; resolves {status, body}. */
export function uploadFile(file, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/documents");
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
    xhr.upload.addEventListener("load", () => onProgress(1));
    xhr.addEventListener("load", () => {
      announce(xhr.status);
      resolve({status: xhr.status, body: parseJSON(xhr.responseText)});
    });
    xhr.addEventListener("error", () => resolve({status: 0, body: null}));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}
