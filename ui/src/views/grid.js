import { h, text, num } from "../dom.js";
import { barChart, lineChart, toSeconds } from "../charts.js";

const TIME = /^(date|timestamp|timestamptz|timestamp with(out)? time zone)/;
const NUMERIC = /^(smallint|integer|bigint|numeric|real|double precision|int2|int4|int8|float4|float8|decimal|money)/;

/** A sortable result grid and the chart the result's shape suggests (time + number: line; category + number: bars). */
export default {
  title: (r) => `${r.row_count} row${r.row_count === 1 ? "" : "s"}${r.truncated ? " (more exist)" : ""}`,
  exportQuery: (r, input) => (input.sql ? { query: input.sql, params: input.params } : null),
  render(r) {
    const out = h("div", { class: "grid-view" });
    const chart = suggest(r);
    if (chart) out.appendChild(chart);
    out.appendChild(table(r));
    if (r.truncated) out.appendChild(h("p", { class: "muted" }, r.truncated_reason || "Truncated: export_results gets every row."));
    for (const hint of r.optimization_hints || []) out.appendChild(h("p", { class: "muted" }, hint));
    return out;
  },
};

export function suggest(r) {
  const cols = r.columns;
  const ni = cols.findIndex((c) => NUMERIC.test(c.type));
  if (ni < 0 || r.rows.length < 2) return null;
  const ti = cols.findIndex((c) => TIME.test(c.type));
  if (ti >= 0) {
    const rows = r.rows.filter((row) => row[ti] !== null).sort((a, b) => toSeconds(a[ti]) - toSeconds(b[ti]));
    const box = lineChart({
      x: rows.map((row) => toSeconds(row[ti])),
      series: [{ label: cols[ni].name, values: rows.map((row) => num(row[ni])), marks: true }],
      time: true,
      xLabel: cols[ti].name,
      yLabel: cols[ni].name,
    });
    box.dataset.suggested = "line";
    return box;
  }
  const ci = cols.findIndex((c, i) => i !== ni && !NUMERIC.test(c.type));
  if (ci < 0 || r.rows.length > 50) return null;
  const box = barChart(r.rows.map((row) => ({ label: text(row[ci]), value: num(row[ni]) })), { valueLabel: cols[ni].name });
  box.dataset.suggested = "bars";
  return box;
}

function table(r) {
  let order = null;
  const tbody = h("tbody");
  const fill = () => {
    let rows = r.rows;
    if (order) {
      const [i, dir] = order;
      rows = [...rows].sort((a, b) => {
        const x = a[i];
        const y = b[i];
        if (x === y) return 0;
        if (x === null) return 1;
        if (y === null) return -1;
        const nx = num(x);
        const ny = num(y);
        const c = nx !== null && ny !== null ? nx - ny : String(x).localeCompare(String(y));
        return dir * c;
      });
    }
    tbody.replaceChildren(...rows.map((row) => h("tr", {}, row.map((v) => h("td", { class: (typeof v === "number" ? "num" : "") + (v === null ? " null" : "") }, text(v))))));
  };
  const heads = r.columns.map((c, i) => {
    const th = h("th", { tabindex: 0, title: c.type, "aria-sort": "none" }, c.name);
    th.addEventListener("click", () => {
      order = order && order[0] === i ? [i, -order[1]] : [i, 1];
      for (const x of heads) x.setAttribute("aria-sort", "none");
      th.setAttribute("aria-sort", order[1] > 0 ? "ascending" : "descending");
      fill();
    });
    return th;
  });
  fill();
  return h("div", { class: "table-scroll" }, h("table", { class: "grid sortable" }, h("thead", {}, h("tr", {}, heads)), tbody));
}
