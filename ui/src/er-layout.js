// Layout of the ER diagram, computed once per result (pure: no DOM). Each connected component is laid out on its
// own (a radial tree from its best-connected table as the start, a force layout in a space squashed horizontally
// so that wide table boxes get room, then overlap removal on the real boxes); components are packed in rows,
// largest first, and the tables without keys go in a captioned grid below.

export const GAP_X = 18; // horizontal and vertical room kept between two table boxes
export const GAP_Y = 14;
const COMPONENT_GAP = 90;
const STEPS = 300; // force layout steps (fewer for big components)
const LEAF_STEPS = 60; // once the leaf tables are placed
const SQUASH = 0.4; // squashed space: boxes about as wide as tall

/**
 * nodes: [{w, h, schema}] (box sizes at zoom 1); links: [[i, j]] (j the referenced table).
 * Sets every node's x, y (box centre). Returns {hub, loners: {x, y, w} | null, box: {x, y, w, h}}.
 */
export function layout(nodes, links) {
  const n = nodes.length;
  const adj = nodes.map(() => new Set());
  for (const [a, b] of links) {
    if (a === b) continue;
    adj[a].add(b);
    adj[b].add(a);
  }
  const nb = adj.map((s) => [...s]);
  const comps = [];
  const seen = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (seen[i]) continue;
    const c = [i];
    seen[i] = 1;
    for (let q = 0; q < c.length; q++)
      for (const j of nb[c[q]])
        if (!seen[j]) {
          seen[j] = 1;
          c.push(j);
        }
    comps.push(c);
  }
  const loners = comps.filter((c) => c.length === 1).map((c) => c[0]);
  const groups = comps.filter((c) => c.length > 1).sort((a, b) => b.length - a.length || a[0] - b[0]);
  const boxes = groups.map((c) => component(c, nodes, nb));
  let hub = -1;
  for (let i = 0; i < n; i++) if (nb[i].length && (hub < 0 || nb[i].length > nb[hub].length)) hub = i; // -1: no keys

  // rows of components, largest first
  const area = boxes.reduce((s, b) => s + b.w * b.h, 0);
  const rowMax = Math.max(...boxes.map((b) => b.w), Math.sqrt(area) * 1.6, 600);
  let x = 0;
  let y = 0;
  let rowH = 0;
  let width = 0;
  groups.forEach((c, g) => {
    const b = boxes[g];
    if (x > 0 && x + b.w > rowMax) {
      x = 0;
      y += rowH + COMPONENT_GAP;
      rowH = 0;
    }
    for (const i of c) {
      nodes[i].x += x - b.x;
      nodes[i].y += y - b.y;
    }
    x += b.w + COMPONENT_GAP;
    rowH = Math.max(rowH, b.h);
    width = Math.max(width, x - COMPONENT_GAP);
  });
  let lonerBox = null;
  if (loners.length) {
    // a grid under the components, under a caption
    const top = groups.length ? y + rowH + COMPONENT_GAP : 0;
    const colW = Math.max(...loners.map((i) => nodes[i].w)) + GAP_X;
    const rowStep = Math.max(...loners.map((i) => nodes[i].h)) + GAP_Y;
    const cols = Math.max(1, Math.min(loners.length, Math.floor((Math.max(width, 600) + GAP_X) / colW)));
    loners.forEach((i, k) => {
      nodes[i].x = (k % cols) * colW + nodes[i].w / 2;
      nodes[i].y = top + 30 + Math.floor(k / cols) * rowStep + nodes[i].h / 2;
    });
    lonerBox = { x: 0, y: top, w: Math.min(loners.length, cols) * colW - GAP_X };
  }
  return { hub, loners: lonerBox, box: bounds(nodes, nodes.map((_, i) => i)) };
}

/** The bounding box of some nodes' boxes. */
export function bounds(nodes, ids) {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const i of ids) {
    const a = nodes[i];
    x0 = Math.min(x0, a.x - a.w / 2);
    x1 = Math.max(x1, a.x + a.w / 2);
    y0 = Math.min(y0, a.y - a.h / 2);
    y1 = Math.max(y1, a.y + a.h / 2);
  }
  return ids.length ? { x: x0, y: y0, w: x1 - x0, h: y1 - y0 } : { x: 0, y: 0, w: 0, h: 0 };
}

/** One connected component: radial start, force layout, overlap removal. Returns its bounding box. */
function component(ids, nodes, nb) {
  const m = ids.length;
  const local = new Map(ids.map((g, i) => [g, i]));
  const adj = ids.map((g) => nb[g].map((j) => local.get(j)));
  const deg = adj.map((a) => a.length);
  const schemaOf = ids.map((g) => nodes[g].schema);
  let hub = 0;
  for (let i = 1; i < m; i++) if (deg[i] > deg[hub]) hub = i;

  // start: a radial tree (breadth-first from the hub, each subtree an angle proportional to its leaves)
  const depth = new Int32Array(m).fill(-1);
  const kids = ids.map(() => []);
  const order = [hub];
  depth[hub] = 0;
  for (let q = 0; q < order.length; q++) {
    const u = order[q];
    const next = adj[u]
      .filter((v) => depth[v] < 0)
      .sort((a, b) => (schemaOf[a] < schemaOf[b] ? -1 : schemaOf[a] > schemaOf[b] ? 1 : deg[b] - deg[a] || a - b));
    for (const v of next) {
      depth[v] = depth[u] + 1;
      kids[u].push(v);
      order.push(v);
    }
  }
  const leaves = new Float64Array(m);
  for (let q = m - 1; q >= 0; q--) {
    const u = order[q];
    leaves[u] = kids[u].length ? kids[u].reduce((s, v) => s + leaves[v], 0) : 1;
  }
  const sq = squash(ids, nodes);
  const k = 46; // ideal edge length in the squashed space
  const X = new Float64Array(m);
  const Y = new Float64Array(m);
  const lo = new Float64Array(m);
  const hi = new Float64Array(m);
  hi[hub] = 2 * Math.PI;
  for (const u of order) {
    let a = lo[u];
    for (const v of kids[u]) {
      lo[v] = a;
      a += ((hi[u] - lo[u]) * leaves[v]) / leaves[u];
      hi[v] = a;
    }
    const mid = (lo[u] + hi[u]) / 2;
    X[u] = Math.cos(mid) * depth[u] * k * 1.6;
    Y[u] = Math.sin(mid) * depth[u] * k * 1.6;
  }
  // the tables with two or more neighbours first; then each leaf table goes next to its only neighbour, on the side
  // away from that table's other neighbours, and everything settles together (cheaper, and leaves do not tangle)
  const core = [];
  for (let i = 0; i < m; i++) if (deg[i] >= 2) core.push(i);
  if (core.length >= 3 && core.length < m) {
    const at = new Map(core.map((g, i) => [g, i]));
    const cx = Float64Array.from(core, (i) => X[i]);
    const cy = Float64Array.from(core, (i) => Y[i]);
    force(cx, cy, core.map((i) => adj[i].filter((j) => at.has(j)).map((j) => at.get(j))), core.map((i) => schemaOf[i]), k, STEPS, k * 2);
    core.forEach((i, c) => {
      X[i] = cx[c];
      Y[i] = cy[c];
    });
    const leavesOf = new Map();
    for (let i = 0; i < m; i++) if (deg[i] < 2) leavesOf.set(adj[i][0], [...(leavesOf.get(adj[i][0]) || []), i]);
    for (const [p, ls] of leavesOf) {
      let mx = 0;
      let my = 0;
      let c = 0;
      for (const j of adj[p])
        if (deg[j] >= 2) {
          mx += X[j];
          my += Y[j];
          c += 1;
        }
      const dir = c ? Math.atan2(Y[p] - my / c, X[p] - mx / c) : 0;
      const spread = Math.min(0.6, 5 / ls.length);
      ls.forEach((l, n) => {
        const a = dir + (n - (ls.length - 1) / 2) * spread;
        X[l] = X[p] + Math.cos(a) * k;
        Y[l] = Y[p] + Math.sin(a) * k;
      });
    }
    force(X, Y, adj, schemaOf, k, LEAF_STEPS, k * 0.5);
  } else force(X, Y, adj, schemaOf, k, STEPS, k * 2);
  for (let i = 0; i < m; i++) {
    nodes[ids[i]].x = X[i] * sq;
    nodes[ids[i]].y = Y[i];
  }
  separate(ids, nodes);
  return bounds(nodes, ids);
}

/** How much wider than tall the space is for the force layout (table boxes are wide). */
function squash(ids, nodes) {
  let w = 0;
  let h = 0;
  for (const i of ids) {
    w += nodes[i].w + GAP_X;
    h += nodes[i].h + GAP_Y;
  }
  return Math.min(4, Math.max(1, (w / h) * SQUASH));
}

/** Fruchterman-Reingold with a cooling schedule, a weak pull to the centre and to each schema's centre. */
function force(X, Y, adj, schemaOf, k, most, hot) {
  const m = X.length;
  const DX = new Float64Array(m);
  const DY = new Float64Array(m);
  const steps = Math.max(Math.min(40, most), Math.min(most, Math.round(6e6 / (m * m))));
  const schemas = [...new Set(schemaOf)];
  const sIndex = schemaOf.map((s) => schemas.indexOf(s));
  const sx = new Float64Array(schemas.length);
  const sy = new Float64Array(schemas.length);
  const sn = new Float64Array(schemas.length);
  for (let i = 0; i < m; i++) sn[sIndex[i]] += 1;
  const k2 = k * k;
  let temp = hot;
  const cool = Math.pow((k * 0.02) / hot, 1 / steps); // down to 0.02k
  for (let step = 0; step < steps; step++) {
    DX.fill(0);
    DY.fill(0);
    sx.fill(0);
    sy.fill(0);
    for (let i = 0; i < m; i++) {
      sx[sIndex[i]] += X[i];
      sy[sIndex[i]] += Y[i];
      const xi = X[i];
      const yi = Y[i];
      for (let j = i + 1; j < m; j++) {
        let dx = xi - X[j];
        let dy = yi - Y[j];
        let d2 = dx * dx + dy * dy;
        if (d2 < 0.01) {
          dx = 0.1 * ((i * 7 + j * 3) % 5) - 0.2 || 0.1; // coincident: a deterministic nudge
          dy = 0.1;
          d2 = dx * dx + dy * dy;
        }
        const f = k2 / d2;
        DX[i] += dx * f;
        DY[i] += dy * f;
        DX[j] -= dx * f;
        DY[j] -= dy * f;
      }
    }
    for (let i = 0; i < m; i++)
      for (const j of adj[i]) {
        if (j < i) continue;
        const dx = X[j] - X[i];
        const dy = Y[j] - Y[i];
        const f = Math.sqrt(dx * dx + dy * dy) / k;
        DX[i] += dx * f;
        DY[i] += dy * f;
        DX[j] -= dx * f;
        DY[j] -= dy * f;
      }
    for (let i = 0; i < m; i++) {
      const s = sIndex[i];
      DX[i] += (sx[s] / sn[s] - X[i]) * 0.08 - X[i] * 0.03;
      DY[i] += (sy[s] / sn[s] - Y[i]) * 0.08 - Y[i] * 0.03;
      const len = Math.sqrt(DX[i] * DX[i] + DY[i] * DY[i]);
      if (len > 0) {
        const move = Math.min(len, temp) / len;
        X[i] += DX[i] * move;
        Y[i] += DY[i] * move;
      }
    }
    temp *= cool;
  }
}

/** Pushes overlapping boxes apart (a little past the overlap, vertically unless that is a much longer move) until none overlap. */
function separate(ids, nodes) {
  const m = ids.length;
  const a = ids.map((i) => nodes[i]);
  for (let pass = 0; pass < 400; pass++) {
    let moved = false;
    a.sort((p, q) => p.x - p.w / 2 - (q.x - q.w / 2));
    for (let i = 0; i < m; i++) {
      const p = a[i];
      for (let j = i + 1; j < m; j++) {
        const q = a[j];
        const ox = (p.w + q.w) / 2 + GAP_X - Math.abs(p.x - q.x);
        if (q.x - q.w / 2 > p.x + p.w / 2 + GAP_X) break; // sorted by left edge: no later box can touch p
        if (ox <= 0) continue;
        const oy = (p.h + q.h) / 2 + GAP_Y - Math.abs(p.y - q.y);
        if (oy <= 0) continue;
        moved = true;
        if (oy * 4 < ox) {
          const s = p.y < q.y || (p.y === q.y && i < j) ? 1 : -1;
          p.y -= s * oy * 0.6 + s * 0.01;
          q.y += s * oy * 0.6 + s * 0.01;
        } else {
          const s = p.x <= q.x ? 1 : -1;
          p.x -= s * ox * 0.6 + s * 0.01;
          q.x += s * ox * 0.6 + s * 0.01;
        }
      }
    }
    if (!moved) return;
  }
  // not settled (very dense input): put every box that still overlaps an earlier one in a row below
  const box = bounds(nodes, ids);
  let x = box.x;
  const placed = [];
  for (const p of a) {
    if (placed.some((q) => Math.abs(p.x - q.x) < (p.w + q.w) / 2 && Math.abs(p.y - q.y) < (p.h + q.h) / 2)) {
      p.x = x + p.w / 2;
      p.y = box.y + box.h + GAP_Y + p.h / 2;
      x += p.w + GAP_X;
    }
    placed.push(p);
  }
}
