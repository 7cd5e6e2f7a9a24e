import { h, s, text } from "../dom.js";

/** Interactive ER diagram: force layout, pan (drag) and zoom (wheel, buttons), click a table for its schema. */
export default {
  title: (r) => (r.columns ? `Table ${r.schema_name}.${r.name}` : `Relationships: ${r.tables} tables, ${r.edges.length} keys`),
  render(r, ctx) {
    return r.columns ? schema(r) : diagram(r, ctx);
  },
};

let listening = null; // the window listeners of the diagram on screen (removed when it is drawn again)

function diagram(r, ctx) {
  listening?.abort();
  listening = new AbortController();
  const signal = listening.signal;
  const names = new Set();
  for (const e of r.edges) names.add(e.table).add(e.ref_table);
  for (const t of r.isolated || []) names.add(t);
  const nodes = [...names].sort().map((name, i, all) => {
    const a = (2 * Math.PI * i) / all.length;
    const rad = 60 + 14 * Math.sqrt(all.length) * 4;
    return { name, x: Math.cos(a) * rad, y: Math.sin(a) * rad, vx: 0, vy: 0, w: 8 + 6.2 * name.length };
  });
  const at = new Map(nodes.map((n, i) => [n.name, i]));
  const links = r.edges.map((e) => [at.get(e.table), at.get(e.ref_table), e]);
  layout(nodes, links);
  const svg = s("svg", { class: "er", role: "img", "aria-label": "entity-relationship diagram" });
  const world = s("g", { class: "world" });
  svg.appendChild(world);
  const edgeLayer = s("g", { class: "edges" });
  const nodeLayer = s("g", { class: "nodes" });
  world.append(edgeLayer, nodeLayer);
  for (const [a, b, e] of links) {
    const line = s("line", { x1: nodes[a].x, y1: nodes[a].y, x2: nodes[b].x, y2: nodes[b].y, class: `edge ${e.kind}` });
    line.appendChild(s("title", {}, `${e.table}(${e.columns.join(", ")}) → ${e.ref_table}(${e.ref_columns.join(", ")}) ${e.kind}, ${e.cardinality}`));
    edgeLayer.appendChild(line);
  }
  const panel = h("aside", { class: "er-panel" }, h("p", { class: "muted" }, "Click a table to see its columns and keys. Drag to pan, wheel or buttons to zoom."));
  for (const n of nodes) {
    const g = s("g", { class: "node", transform: `translate(${n.x},${n.y})`, tabindex: 0, "data-table": n.name });
    g.append(s("rect", { x: -n.w / 2, y: -11, width: n.w, height: 22, rx: 5 }), s("text", { "text-anchor": "middle", y: 4 }, n.name), s("title", {}, n.name));
    const open = async () => {
      for (const el of nodeLayer.querySelectorAll(".node.selected")) el.classList.remove("selected");
      g.classList.add("selected");
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
    nodeLayer.appendChild(g);
  }
  // pan and zoom on a viewBox
  const xs = nodes.map((n) => n.x);
  const ys = nodes.map((n) => n.y);
  const pad = 80;
  const fit = {
    x: Math.min(...xs, 0) - pad,
    y: Math.min(...ys, 0) - pad,
    w: Math.max(...xs, 0) - Math.min(...xs, 0) + 2 * pad,
    h: Math.max(...ys, 0) - Math.min(...ys, 0) + 2 * pad,
  };
  // start on the best-connected table at a readable scale; "Fit" shows everything
  const degree = nodes.map(() => 0);
  for (const [a, b] of links) {
    degree[a] += 1;
    degree[b] += 1;
  }
  const hub = nodes[degree.indexOf(Math.max(...degree, 0))] || { x: 0, y: 0 };
  const readable = Math.min(fit.w, 760);
  const start = readable < fit.w ? { x: hub.x - readable / 2, y: hub.y - (readable * fit.h) / fit.w / 2, w: readable, h: (readable * fit.h) / fit.w } : fit;
  let vb = { ...start };
  const apply = () => svg.setAttribute("viewBox", `${vb.x} ${vb.y} ${vb.w} ${vb.h}`);
  apply();
  const zoom = (f, cx = vb.x + vb.w / 2, cy = vb.y + vb.h / 2) => {
    vb = { x: cx - (cx - vb.x) * f, y: cy - (cy - vb.y) * f, w: vb.w * f, h: vb.h * f };
    apply();
  };
  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const rect = svg.getBoundingClientRect();
    zoom(e.deltaY > 0 ? 1.15 : 1 / 1.15, vb.x + ((e.clientX - rect.left) / rect.width) * vb.w, vb.y + ((e.clientY - rect.top) / rect.height) * vb.h);
  }, { passive: false });
  let drag = null;
  let dragged = false;
  svg.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, vb: { ...vb } };
    dragged = false;
  });
  window.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const rect = svg.getBoundingClientRect();
    const dx = ((e.clientX - drag.x) / rect.width) * vb.w;
    const dy = ((e.clientY - drag.y) / rect.height) * vb.h;
    if (Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y) > 3) dragged = true;
    vb = { ...vb, x: drag.vb.x - dx, y: drag.vb.y - dy };
    apply();
  }, { signal });
  window.addEventListener("pointerup", () => {
    drag = null;
  }, { signal });
  const tools = h(
    "div",
    { class: "row-actions" },
    h("button", { type: "button", class: "btn", onclick: () => zoom(1 / 1.3), "aria-label": "zoom in" }, "+"),
    h("button", { type: "button", class: "btn", onclick: () => zoom(1.3), "aria-label": "zoom out" }, "−"),
    h("button", { type: "button", class: "btn", onclick: () => ((vb = { ...fit }), apply()) }, "Fit"),
    h("span", { class: "muted" }, `${nodes.length} tables · ${links.length} keys (${r.edges.filter((e) => e.kind !== "declared").length} inferred, dashed)`),
  );
  return h("div", { class: "er-wrap", dataset: { marks: String(nodes.length), edges: String(links.length) } }, tools, svg, panel);
}

/** A few hundred steps of a plain force layout: springs on keys, repulsion between tables. */
function layout(nodes, links) {
  const n = nodes.length;
  const k = 90;
  for (let step = 0; step < 300; step++) {
    const t = 1 - step / 300;
    for (let i = 0; i < n; i++) {
      const a = nodes[i];
      for (let j = i + 1; j < n; j++) {
        const b = nodes[j];
        let dx = a.x - b.x;
        let dy = a.y - b.y;
        let d2 = dx * dx + dy * dy;
        if (d2 < 1) {
          dx = Math.random() - 0.5;
          dy = 0.5;
          d2 = 1;
        }
        const f = (k * k) / d2;
        a.vx += dx * f * 0.05;
        a.vy += dy * f * 0.05;
        b.vx -= dx * f * 0.05;
        b.vy -= dy * f * 0.05;
      }
    }
    for (const [i, j] of links) {
      if (i === j) continue;
      const a = nodes[i];
      const b = nodes[j];
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const d = Math.sqrt(dx * dx + dy * dy) || 1;
      const f = ((d - k * 1.4) / d) * 0.06;
      a.vx += dx * f;
      a.vy += dy * f;
      b.vx -= dx * f;
      b.vy -= dy * f;
    }
    for (const a of nodes) {
      a.vx -= a.x * 0.004; // gravity keeps isolated tables near
      a.vy -= a.y * 0.004;
      const v = Math.sqrt(a.vx * a.vx + a.vy * a.vy);
      const cap = 30 * t + 1;
      if (v > cap) {
        a.vx *= cap / v;
        a.vy *= cap / v;
      }
      a.x += a.vx;
      a.y += a.vy;
      a.vx *= 0.5;
      a.vy *= 0.5;
    }
  }
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
