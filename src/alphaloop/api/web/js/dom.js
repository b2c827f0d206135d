// Small DOM helpers: elements are built with textContent only (no HTML from data).

/** h("tag.class", {attr: value, onclick: fn}, ...children) -> HTMLElement */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A number with `digits` decimals, "–" for null / not finite. */
export function num(x, digits = 2) {
  return typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "–";
}

/** A fraction as a percentage. */
export function pct(x, digits = 1) {
  return typeof x === "number" && Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : "–";
}

export function money(x) {
  return typeof x === "number" && Number.isFinite(x)
    ? x.toLocaleString("en-US", { maximumFractionDigits: 0 }) : "–";
}

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().replace("T", " ").slice(0, 19);
}

/** An age in words from an ISO time to now. */
export function age(iso) {
  if (!iso) return "–";
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/**
 * A table from rows and columns [{label, get(row) -> value|Node, num?: bool}].
 * `empty` is shown in one cell when there are no rows.
 */
export function table(rows, columns, { empty = "nothing yet", id } = {}) {
  const head = h("tr", {}, columns.map((c) => h(c.num ? "th.num" : "th", {}, c.label)));
  const body = rows.length
    ? rows.map((r) => h("tr", {}, columns.map((c) => h(c.num ? "td.num" : "td", {}, c.get(r)))))
    : [h("tr", {}, h("td.muted", { colspan: columns.length }, empty))];
  return h("table", { id }, h("thead", {}, head), h("tbody", {}, body));
}

export function card(label, value, extra) {
  return h("div.card", {}, h("div.label", {}, label), h("div.value", {}, value), extra || null);
}

export function pill(text, kind = "") {
  return h(kind ? `span.pill.${kind}` : "span.pill", {}, text);
}

export function toast(text) {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 4000);
}
