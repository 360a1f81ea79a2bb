// DOM building without markup strings: every text goes in through textContent or
// an attribute, so a file name or a JSONL line can never become an element.
// (The page's CSP also enforces Trusted Types: assigning markup as a string throws.)

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "testid") el.dataset.testid = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "text") el.textContent = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

// A labelled form control; `control` gets the id the label points at.
let nextId = 0;
export function field(label, control, hint) {
  control.id ||= `f${++nextId}`;
  const parts = [h("label", { for: control.id, text: label }), control];
  if (hint) {
    const hintEl = h("small", { id: `${control.id}-hint`, class: "hint", text: hint });
    control.setAttribute("aria-describedby", hintEl.id);
    parts.push(hintEl);
  }
  return h("div", { class: "field" }, parts);
}

export function select(name, options, value) {
  const el = h("select", { name });
  for (const opt of options) {
    const [v, text] = Array.isArray(opt) ? opt : [opt, opt];
    el.append(h("option", { value: v, selected: v === value, text }));
  }
  return el;
}

// A table whose cells carry their column's name, so narrow screens show rows as cards.
export function table(caption, columns, rows) {
  const head = h(
    "tr",
    {},
    columns.map((c) => h("th", { scope: "col", text: c })),
  );
  return h(
    "table",
    {},
    h("caption", { class: "sr-only", text: caption }),
    h("thead", {}, head),
    h("tbody", {}, rows),
  );
}

export function row(columns, cells, attrs = {}) {
  return h(
    "tr",
    attrs,
    cells.map((cell, i) => h("td", { "data-label": columns[i] }, cell)),
  );
}

const UNITS = ["B", "KB", "MB", "GB", "TB"];
export function bytes(n) {
  if (n === null || n === undefined) return "";
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${UNITS[unit]}`;
}

export function when(ts) {
  if (ts === null || ts === undefined) return "";
  const date = typeof ts === "number" ? new Date(ts * 1000) : new Date(ts);
  if (Number.isNaN(date.getTime())) return String(ts);
  const text = date.toISOString().replace("T", " ").slice(0, 16) + " UTC";
  return h("time", { datetime: date.toISOString(), text });
}

export function heading(text, level = 1) {
  return h(`h${level}`, { text });
}

// Announces a change (a page loaded, a row deleted) to screen readers.
export function announce(text) {
  const el =
    document.getElementById("status") ??
    document.body.appendChild(
      h("div", { id: "status", class: "sr-only", role: "status", "aria-live": "polite" }),
    );
  el.textContent = text;
}
