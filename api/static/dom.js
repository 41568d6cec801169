// Building DOM nodes. Text always goes in as text nodes: nothing here parses HTML.

/** A new element. attrs: "class", "data-*" and "aria-*" become attributes, anything else a property
 * (type, hidden, disabled, title, tabIndex...). Children: nodes or strings; null and false are skipped. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("data-") || name.startsWith("aria-") || name === "role" || name === "for") node.setAttribute(name, String(value));
    else node[name] = value;
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

/** "1 passage", "3 passages". */
export function plural(n, word, many = word + "s") {
  return `${n} ${n === 1 ? word : many}`;
}
