// DOM helpers. Every value from the database goes in as text (createTextNode / textContent), never as HTML.

export const SVG = "http://www.w3.org/2000/svg";

/** h("div", {class: "x", onclick: fn}, "text", child, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element (attributes only; text through append). */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, String(v));
  }
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(text(c)));
  }
  return el;
}

/** A value as plain text (objects as JSON). */
export function text(v) {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "number") return fmt(v);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

const nf = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
const nfBig = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** Exact number for hover and tables. */
export function fmt(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return v === null || v === undefined ? "NULL" : String(v);
  return Math.abs(v) >= 1e15 ? String(v) : nf.format(v);
}

/** Short number for axes. */
export function short(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return nf.format(v / 1e9) + "B";
  if (a >= 1e6) return nf.format(v / 1e6) + "M";
  if (a >= 1e4) return nf.format(v / 1e3) + "k";
  return a >= 100 ? nfBig.format(v) : nf.format(v);
}

export function num(v) {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) return Number(v);
  return null;
}

export function pct(v) {
  return v === null || v === undefined ? "" : `${v > 0 ? "+" : ""}${nf.format(v)}%`;
}

/** The one tooltip of the page: follows the pointer, text only. */
let tip;
export function tooltip(target, lines) {
  target.addEventListener("mousemove", (e) => {
    if (!tip) {
      tip = h("div", { class: "tip", role: "tooltip" });
      document.body.appendChild(tip);
    }
    tip.replaceChildren(...(typeof lines === "function" ? lines() : lines).map((l) => h("div", {}, l)));
    tip.style.display = "block";
    const x = Math.min(e.clientX + 12, window.innerWidth - tip.offsetWidth - 4);
    tip.style.left = `${Math.max(0, x)}px`;
    tip.style.top = `${e.clientY + 14}px`;
  });
  target.addEventListener("mouseleave", () => {
    if (tip) tip.style.display = "none";
  });
}
