import { h, fmt, pct } from "../dom.js";
import { barChart } from "../charts.js";

export default {
  title: (r) => `Comparison${r.time_column ? ` over ${r.time_column}` : ""}`,
  render(r) {
    const arrow = r.trend === "up" ? "▲" : r.trend === "down" ? "▼" : "■";
    const change = h(
      "div",
      { class: `change ${r.trend || "stable"}` },
      h("span", { class: "arrow", "aria-hidden": "true" }, arrow),
      h("span", { class: "pct" }, r.percent_change === null || r.percent_change === undefined ? "n/a" : pct(r.percent_change)),
      h("span", { class: "muted" }, r.difference === null || r.difference === undefined ? "" : ` (${r.difference > 0 ? "+" : ""}${fmt(r.difference)})`),
    );
    const rows = [r.group1, r.group2].map((g, i) => ({
      label: g.label,
      value: g.value,
      note: `(${fmt(g.records)} rows)`,
      title: g.period || (i === 1 ? "baseline" : ""),
    }));
    return h(
      "div",
      { class: "compare" },
      change,
      barChart(rows),
      r.percent_change_note ? h("p", { class: "muted" }, r.percent_change_note) : null,
      h("p", { class: "insight" }, r.insight),
      h("ul", { class: "windows" }, [r.group1, r.group2].filter((g) => g.period).map((g) => h("li", {}, `${g.label}: ${g.period}`))),
    );
  },
};
