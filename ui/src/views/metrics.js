import { h, fmt, text } from "../dom.js";
import { barChart, lineChart, toSeconds } from "../charts.js";

export default {
  title: (r) => r.summary?.metric_applied || "Metrics",
  exportQuery: (r) => ({ query: r.sql, params: r.params }),
  render(r, ctx) {
    const cols = r.columns;
    const vi = cols.indexOf("value");
    const groupCols = cols.filter((c, i) => i !== vi && c !== "records");
    const gi = groupCols.length ? cols.indexOf(groupCols[0]) : -1;
    const out = h("div", { class: "metrics" });
    if (gi < 0) {
      const v = r.results[0]?.[vi];
      out.appendChild(h("p", { class: "big-number", dataset: { marks: "1" } }, fmt(v)));
      return out;
    }
    const isTime = r.time_column ? true : r.results.every((row) => typeof row[gi] === "string" && toSeconds(row[gi]) !== null && /^\d{4}-\d{2}-\d{2}/.test(row[gi]));
    let chart;
    if (isTime && groupCols.length === 1) {
      const rows = [...r.results].sort((a, b) => toSeconds(a[gi]) - toSeconds(b[gi]));
      chart = lineChart({
        x: rows.map((row) => toSeconds(row[gi])),
        series: [{ label: r.summary.metric_applied, values: rows.map((row) => row[vi]), marks: true }],
        time: true,
        xLabel: `${groupCols[0]}${r.time_zone ? ` (${r.time_zone})` : ""}`,
        yLabel: r.summary.metric_applied,
      });
    } else {
      const label = (row) => groupCols.map((c) => text(row[cols.indexOf(c)])).join(" · ");
      const ri = cols.indexOf("records");
      const rows = r.results.map((row) => ({ label: label(row), value: row[vi], key: row[gi], note: ri >= 0 ? `(${fmt(row[ri])} rows)` : "" }));
      const onClick = ctx.input?.table_name ? (row) => ctx.drill("calculate_metrics", drillArgs(ctx.input, groupCols[0], row.key)) : undefined;
      chart = barChart(rows, { onClick, valueLabel: r.summary.metric_applied });
    }
    const table = grid(r);
    table.hidden = true;
    const toggle = h("button", { type: "button", class: "btn toggle", onclick: () => {
      table.hidden = !table.hidden;
      chart.hidden = !table.hidden;
      toggle.textContent = table.hidden ? "Table" : "Chart";
    } }, "Table");
    out.append(h("div", { class: "row-actions" }, toggle), chart, table);
    return out;
  },
};

/** The same metric filtered to one category (the other group columns kept). */
export function drillArgs(input, column, value) {
  const groups = (input.group_by ? [].concat(input.group_by) : []).filter((g) => (typeof g === "string" ? g : g.column) !== column);
  const filters = [...(Array.isArray(input.filters) ? input.filters : []), value === null ? { column, operator: "IS NULL" } : { column, operator: "=", value }];
  const args = { ...input, filters };
  if (groups.length) args.group_by = groups;
  else delete args.group_by;
  return args;
}

function grid(r) {
  return h(
    "table",
    { class: "grid" },
    h("thead", {}, h("tr", {}, r.columns.map((c) => h("th", {}, c)))),
    h("tbody", {}, r.results.map((row) => h("tr", {}, row.map((v) => h("td", { class: typeof v === "number" ? "num" : "" }, text(v)))))),
  );
}
