import { h, s, text } from "../dom.js";
import { bounds, layout } from "../er-layout.js";

/**
 * Interactive ER diagram: components laid out apart without overlap, opening readable on the best-connected table;
 * pan (drag), zoom (wheel, buttons), Fit, search; hover a table to light its keys, click it for its schema.
 */
export default {
  title: (r) => (r.columns ? `Table ${r.schema_name}.${r.name}` : `Relationships: ${r.tables} tables, ${r.edges.length} keys`),
  render(r, ctx) {
    return r.columns ? schema(r) : diagram(r, ctx);
  },
};

let listening = null; // the window listeners of the diagram on screen (removed when it is drawn again)
const drawn = new WeakMap(); // result -> its layout and viewport, so a theme change redraws the same picture fast

const LABEL_PX = 12; // label font size at zoom 1 (style.css .er .node text)
const READABLE = 11 / LABEL_PX; // the lowest zoom the diagram opens at: labels at least 11 px on screen
const BOX_H = 24;

function diagram(r, ctx) {
  listening?.abort();
  listening = new AbortController();
  const signal = listening.signal;
  const names = new Set();
  for (const e of r.edges) names.add(e.table).add(e.ref_table);
  for (const t of r.isolated || []) names.add(t);
  if (!names.size) return h("p", { class: "muted er-empty" }, "No keys to draw: no table here references another or is referenced.");
  const sorted = [...names].sort();
  const at = new Map(sorted.map((name, i) => [name, i]));
  const links = r.edges.map((e) => [at.get(e.table), at.get(e.ref_table), e]);
  const split = (name) => {
    const dot = name.indexOf(".");
    return dot > 0 ? [name.slice(0, dot), name.slice(dot + 1)] : ["", name];
  };
  const shortCount = new Map();
  for (const name of sorted) shortCount.set(split(name)[1], (shortCount.get(split(name)[1]) || 0) + 1);
  const schemas = [...new Set(sorted.map((name) => split(name)[0]))];
  // a schema keeps its colour from one result to the next (from its name; the next free one on a clash)
  const colour = new Map();
  for (const sc of schemas) {
    let c = [...sc].reduce((a, ch) => (a * 31 + ch.charCodeAt(0)) >>> 0, 7) % 6;
    for (let n = 0; n < 6 && [...colour.values()].includes(c); n++) c = (c + 1) % 6;
    colour.set(sc, c + 1);
  }
  const measure = textWidth();
  let memo = drawn.get(r);
  const nodes = sorted.map((name, i) => {
    const [schema, bare] = split(name);
    const label = schemas.length > 1 && shortCount.get(bare) === 1 ? bare : name; // the schema shows as a colour
    const p = memo?.nodes[i];
    return { name, label, schema, w: Math.ceil(measure(label)) + 16, h: BOX_H, x: p?.x ?? 0, y: p?.y ?? 0 };
  });
  if (!memo) {
    memo = { nodes: nodes.map((n) => n), ...layout(nodes, links), view: null };
    drawn.set(r, memo);
  }
  const neighbours = nodes.map(() => new Set());
  for (const [a, b] of links) {
    if (a === b) continue;
    neighbours[a].add(b);
    neighbours[b].add(a);
  }
  const hub = memo.hub;
  const byDegree = nodes.map((_, i) => i).filter((i) => neighbours[i].size >= 4);
  byDegree.sort((a, b) => neighbours[b].size - neighbours[a].size || a - b);
  const major = new Set(byDegree.slice(0, 12)); // labelled even when zoomed far out

  const svg = s("svg", { class: "er", role: "img", "aria-label": "entity-relationship diagram" });
  const defs = s("defs", {});
  for (const id of ["er-arrow", "er-arrow-hot"])
    defs.appendChild(s("marker", { id, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: "userSpaceOnUse", orient: "auto" }, s("path", { d: "M0,0 L10,5 L0,10 z", class: id === "er-arrow" ? "arrow" : "arrow hot" })));
  svg.appendChild(defs);
  const world = s("g", { class: "world" });
  svg.appendChild(world);
  const edgeLayer = s("g", { class: "edges" });
  const nodeLayer = s("g", { class: "nodes" });
  world.append(edgeLayer, nodeLayer);
  const edgesOf = nodes.map(() => []);
  for (const [a, b, e] of links) {
    const [x1, y1, x2, y2] = ends(nodes[a], nodes[b]);
    const tip = `${e.table}(${e.columns.join(", ")}) → ${e.ref_table}(${e.ref_columns.join(", ")}) ${e.kind}, ${e.cardinality}`;
    const line = s("line", { x1, y1, x2, y2, class: `edge ${e.kind}${a === b ? " self" : ""}`, "data-table": e.table, "data-ref": e.ref_table, "marker-end": a === b ? null : "url(#er-arrow)" }, s("title", {}, tip));
    edgeLayer.appendChild(line);
    edgesOf[a].push(line);
    if (a !== b) edgesOf[b].push(line);
    else {
      const n = nodes[a]; // a key to its own table: a loop over the box's top right corner
      const x = n.x + n.w / 2;
      const y = n.y - n.h / 2;
      const loop = s("path", { d: `M${x - 22},${y} C${x - 22},${y - 26} ${x + 18},${y - 26} ${x},${y - 1}`, class: `edge loop ${e.kind}`, "marker-end": "url(#er-arrow)" }, s("title", {}, tip));
      edgeLayer.appendChild(loop);
      edgesOf[a].push(loop);
    }
  }
  if (memo.loners)
    world.appendChild(s("text", { class: "er-caption", x: memo.loners.x, y: memo.loners.y + 12 }, `Tables without keys to other tables (${nodes.filter((_, i) => !neighbours[i].size).length})`));

  const panel = h("aside", { class: "er-panel" }, h("p", { class: "muted" }, "Click a table to see its columns and keys."));
  const nodeEls = nodes.map((n, i) => {
    const keys = edgesOf[i].filter((el) => el.tagName === "line").length;
    const g = s("g", { class: `node sc${colour.get(n.schema)}${i === hub ? " hub" : ""}${major.has(i) ? " major" : ""}`, transform: `translate(${n.x},${n.y})`, tabindex: 0, "data-table": n.name, "aria-label": n.name });
    g.append(s("rect", { x: -n.w / 2, y: -n.h / 2, width: n.w, height: n.h, rx: 5 }), s("text", { "text-anchor": "middle", "dominant-baseline": "central" }, n.label), s("title", {}, `${n.name} · ${keys} key${keys === 1 ? "" : "s"}`));
    const open = async () => {
      for (const el of nodeLayer.querySelectorAll(".node.selected")) el.classList.remove("selected");
      g.classList.add("selected");
      pinned = i;
      light(i);
      panel.replaceChildren(h("p", { class: "muted" }, `${n.name}…`));
      try {
        panel.replaceChildren(schema(await ctx.call("get_table_schema", { table_name: n.name })));
      } catch (e) {
        panel.replaceChildren(h("p", { class: "error" }, e.message));
      }
    };
    g.addEventListener("click", (e) => {
      if (!dragged) open();
      e.stopPropagation();
    });
    g.addEventListener("keydown", (e) => e.key === "Enter" && open());
    g.addEventListener("pointerenter", () => light(i));
    g.addEventListener("pointerleave", () => light(pinned));
    g.addEventListener("focus", () => light(i));
    g.addEventListener("blur", () => light(pinned));
    nodeLayer.appendChild(g);
    return g;
  });

  // hover, focus, selection and search light a table, its keys and its neighbours; the rest fades
  let pinned = -1;
  const light = (i) => {
    for (const el of svg.querySelectorAll(".near, .hot")) el.classList.remove("near", "hot", "focus");
    svg.classList.toggle("focusing", i >= 0);
    if (i < 0) return;
    nodeEls[i].classList.add("near", "focus");
    for (const j of neighbours[i]) nodeEls[j].classList.add("near");
    for (const el of edgesOf[i]) el.classList.add("hot");
  };

  // the viewport: a centre and a zoom (screen px per diagram unit); the viewBox follows the element's size
  const all = bounds(nodes, nodes.map((_, i) => i));
  const size = () => {
    const b = svg.getBoundingClientRect();
    const w = b.width || Math.max(296, Math.min(document.documentElement.clientWidth - 26, 1174));
    return [w, b.height || 460];
  };
  const fitTo = (box, min, max) => {
    const [w, hgt] = size();
    const k = Math.max(min, Math.min(max, (w - 24) / Math.max(box.w, 1), (hgt - 24) / Math.max(box.h, 1)));
    return { cx: box.x + box.w / 2, cy: box.y + box.h / 2, k };
  };
  // opening view: the best-connected table and its neighbours, at a readable zoom (centred on the table when they
  // do not all fit)
  const start = () => {
    if (hub < 0) return fitTo(all, READABLE, 1.4);
    const around = [hub, ...neighbours[hub]];
    const v = fitTo(bounds(nodes, around), READABLE, 1.15);
    const [w, hgt] = size();
    const b = bounds(nodes, around);
    if (b.w * v.k > w - 24) v.cx = nodes[hub].x;
    if (b.h * v.k > hgt - 24) v.cy = nodes[hub].y;
    return v;
  };
  let view = memo.view || start();
  const apply = () => {
    const [w, hgt] = size();
    svg.setAttribute("viewBox", `${view.cx - w / 2 / view.k} ${view.cy - hgt / 2 / view.k} ${w / view.k} ${hgt / view.k}`);
    const far = view.k * LABEL_PX < 6; // far out: only the main tables keep a label (at 11 px, none over another)
    svg.classList.toggle("far", far);
    svg.style.setProperty("--far", `${11 / view.k}px`);
    svg.style.setProperty("--halo", `${3 / view.k}px`);
    const kept = [];
    for (const i of major) {
      const n = nodes[i];
      const half = (measure(n.label) * 11) / LABEL_PX / 2 + 4;
      const show = far && !kept.some((o) => Math.abs(o.x - n.x * view.k) < o.half + half && Math.abs(o.y - n.y * view.k) < 15);
      if (show) kept.push({ x: n.x * view.k, y: n.y * view.k, half });
      nodeEls[i].classList.toggle("named", show);
    }
    memo.view = view;
  };
  apply();
  const resized = new ResizeObserver(apply);
  resized.observe(svg);
  signal.addEventListener("abort", () => resized.disconnect());
  const zoom = (f, px, py) => {
    const [w, hgt] = size();
    const sx = px ?? w / 2;
    const sy = py ?? hgt / 2;
    const wx = view.cx + (sx - w / 2) / view.k; // the diagram point under the pointer stays there
    const wy = view.cy + (sy - hgt / 2) / view.k;
    const k = Math.max(0.02, Math.min(4, view.k * f));
    view = { cx: wx - (sx - w / 2) / k, cy: wy - (sy - hgt / 2) / k, k };
    apply();
  };
  const goTo = (i) => {
    view = { cx: nodes[i].x, cy: nodes[i].y, k: Math.max(view.k, 1) };
    apply();
  };
  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const rect = svg.getBoundingClientRect();
    zoom(e.deltaY > 0 ? 1 / 1.15 : 1.15, e.clientX - rect.left, e.clientY - rect.top);
  }, { passive: false });
  let drag = null;
  let dragged = false;
  svg.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, view: { ...view } };
    dragged = false;
  });
  window.addEventListener("pointermove", (e) => {
    if (!drag) return;
    if (Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y) > 3) dragged = true;
    view = { ...view, cx: drag.view.cx - (e.clientX - drag.x) / view.k, cy: drag.view.cy - (e.clientY - drag.y) / view.k };
    apply();
  }, { signal });
  window.addEventListener("pointerup", () => {
    drag = null;
  }, { signal });

  // search: matching tables are marked, the best one centred and lit; Enter goes to the next one
  let found = [];
  let current = 0;
  const count = h("span", { class: "muted er-found", role: "status" });
  const search = h("input", { type: "search", class: "er-search", placeholder: "Find a table…", "aria-label": "find a table", list: "er-tables", autocomplete: "off", spellcheck: "false" });
  const options = h("datalist", { id: "er-tables" }, sorted.map((name) => h("option", { value: name })));
  const show = () => {
    if (!found.length) return;
    const i = found[current];
    pinned = i;
    light(i);
    goTo(i);
    count.textContent = `${current + 1} of ${found.length}: ${nodes[i].name}`;
  };
  search.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase();
    for (const el of nodeLayer.querySelectorAll(".node.match")) el.classList.remove("match");
    found = [];
    current = 0;
    if (!q) {
      count.textContent = "";
      pinned = nodeLayer.querySelector(".node.selected") ? pinned : -1;
      light(pinned);
      return;
    }
    const rank = (n) => (n.name.toLowerCase() === q || n.label.toLowerCase() === q ? 0 : n.label.toLowerCase().startsWith(q) || n.name.toLowerCase().startsWith(q) ? 1 : 2);
    found = nodes.map((n, i) => i).filter((i) => nodes[i].name.toLowerCase().includes(q));
    found.sort((a, b) => rank(nodes[a]) - rank(nodes[b]) || neighbours[b].size - neighbours[a].size || a - b);
    for (const i of found) nodeEls[i].classList.add("match");
    if (found.length) show();
    else count.textContent = "no table matches";
  });
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && found.length) {
      current = (current + (e.shiftKey ? found.length - 1 : 1)) % found.length;
      show();
    } else if (e.key === "Escape") {
      search.value = "";
      search.dispatchEvent(new Event("input"));
    }
  });

  const inferred = r.edges.filter((e) => e.kind !== "declared").length;
  const tools = h(
    "div",
    { class: "row-actions er-tools" },
    h("button", { type: "button", class: "btn", onclick: () => zoom(1.3), "aria-label": "zoom in" }, "+"),
    h("button", { type: "button", class: "btn", onclick: () => zoom(1 / 1.3), "aria-label": "zoom out" }, "−"),
    h("button", { type: "button", class: "btn", onclick: () => ((view = fitTo(all, 0.02, 1.4)), apply()), title: "the whole diagram" }, "Fit"),
    h("button", { type: "button", class: "btn", onclick: () => ((view = start()), apply()), title: "back to the opening view" }, "Reset"),
    search,
    options,
    count,
  );
  const legend = h(
    "div",
    { class: "er-legend muted" },
    schemas.length > 1 ? schemas.map((sc) => h("span", { class: `er-schema sc${colour.get(sc)}` }, `${sc || "(no schema)"} ${nodes.filter((n) => n.schema === sc).length}`)) : null,
    h("span", {}, `${nodes.length} tables · ${links.length} keys, arrow from the referencing table to the referenced one${inferred ? ` · ${inferred} inferred (dashed)` : ""}`),
  );
  const hint = h(
    "p",
    { class: "er-hint muted" },
    hub >= 0 ? `Opens on ${nodes[hub].name} (${neighbours[hub].size} related tables). ` : "",
    `Drag to pan, wheel or +/− to zoom, Fit for all ${nodes.length} tables; hover a table to trace its keys.`,
  );
  return h("div", { class: "er-wrap", dataset: { marks: String(nodes.length), edges: String(links.length), hub: hub >= 0 ? nodes[hub].name : "" } }, tools, legend, hint, svg, panel);
}

/** A line between two boxes, from the edge of the first to the edge of the second (where the arrow head sits). */
function ends(a, b) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const cut = (n, f) => Math.min(Math.abs(dx) > 1e-9 ? (n.w / 2 + f) / Math.abs(dx) : Infinity, Math.abs(dy) > 1e-9 ? (n.h / 2 + f) / Math.abs(dy) : Infinity, 1);
  if (a === b) return [a.x, a.y - a.h / 2, a.x, a.y - a.h / 2];
  const s = cut(a, 0);
  const t = cut(b, 1);
  return [a.x + dx * s, a.y + dy * s, b.x - dx * t, b.y - dy * t];
}

/** Text width at the label font (a canvas measures it; an estimate when there is no canvas). */
function textWidth() {
  const c = document.createElement("canvas").getContext("2d");
  if (!c) return (t) => 6.8 * t.length;
  c.font = `${LABEL_PX}px ${getComputedStyle(document.body).fontFamily}`;
  return (t) => c.measureText(t).width;
}

function schema(t) {
  const pk = new Set(t.primary_key || []);
  const fkCols = new Map();
  for (const fk of t.foreign_keys || []) fk.columns.forEach((c, i) => fkCols.set(c, `${fk.ref_table}.${fk.ref_columns[i]}`));
  return h(
    "div",
    { class: "schema", dataset: { table: `${t.schema_name}.${t.name}` } },
    h("h2", {}, `${t.schema_name}.${t.name}`, h("span", { class: "muted" }, ` ${t.kind}${t.row_estimate !== null && t.row_estimate !== undefined ? ` · ~${text(t.row_estimate)} rows` : ""}`)),
    t.comment ? h("p", { class: "muted" }, t.comment) : null,
    h(
      "table",
      { class: "grid" },
      h("thead", {}, h("tr", {}, h("th", {}, "column"), h("th", {}, "type"), h("th", {}, "key"), h("th", {}, "null"))),
      h("tbody", {}, t.columns.map((c) => h("tr", {}, h("td", {}, c.name), h("td", {}, c.type), h("td", {}, [pk.has(c.name) ? "PK" : "", fkCols.has(c.name) ? `FK → ${fkCols.get(c.name)}` : ""].filter(Boolean).join(" ")), h("td", {}, c.nullable ? "yes" : "no")))),
    ),
    (t.referenced_by || []).length ? h("p", { class: "muted" }, "Referenced by: ", t.referenced_by.map((fk) => `${fk.table}(${fk.columns.join(", ")})`).join(", ")) : null,
  );
}
