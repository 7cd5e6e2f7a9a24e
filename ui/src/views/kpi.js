import { h, fmt, pct, text, num } from "../dom.js";
import { lineChart, sparkline, toSeconds, cssVar } from "../charts.js";

export default {
  title: (r) => (r.points ? `${r.title} per ${r.timeframe}` : r.title),
  render(r, ctx) {
    return r.points ? history(r) : dashboard(r, ctx);
  },
};

function dashboard(r, ctx) {
  const tiles = h("div", { class: "tiles", dataset: { marks: String(r.kpis.length) } });
  for (const k of r.kpis) {
    const state = k.good === true ? "good" : k.good === false ? "bad" : "neutral";
    const arrow = k.trend === "up" ? "▲" : k.trend === "down" ? "▼" : k.trend === "stable" ? "■" : "";
    const canDrill = !k.error && num(k.value) !== null && k.name !== "data_health";
    const tile = h(
      "div",
      {
        class: `tile ${state}` + (canDrill ? " clickable" : ""),
        role: canDrill ? "button" : undefined,
        tabindex: canDrill ? 0 : undefined,
        title: k.description || undefined,
        dataset: { kpi: k.name },
      },
      h("div", { class: "tile-title" }, k.title),
      k.error
        ? h("div", { class: "error" }, k.error)
        : h("div", { class: "tile-value" }, text(k.value), k.unit ? h("span", { class: "unit" }, ` ${k.unit}`) : null),
      k.detail !== null && k.detail !== undefined ? h("div", { class: "tile-detail" }, text(k.detail)) : null,
      k.trend
        ? h("div", { class: `tile-change ${state}` }, h("span", { "aria-hidden": "true" }, arrow + " "), pct(k.percent_change) || k.trend, k.previous_value !== null && k.previous_value !== undefined ? h("span", { class: "muted" }, ` vs ${text(k.previous_value)}`) : null)
        : null,
      num(k.previous_value) !== null && num(k.value) !== null
        ? sparkline([num(k.previous_value), num(k.value)], { color: cssVar(state === "bad" ? "--vf-bad" : state === "good" ? "--vf-good" : "--vf-c1", "#3b6fd8") })
        : null,
    );
    if (canDrill) {
      const go = () => ctx.drill("kpi_history", { name: k.name, timeframe: ctx.input.timeframe || r.timeframe });
      tile.addEventListener("click", go);
      tile.addEventListener("keydown", (e) => e.key === "Enter" && go());
    }
    tiles.appendChild(tile);
  }
  return h(
    "div",
    { class: "kpi" },
    h("p", { class: "muted" }, `Current: ${r.current_period}` + (r.previous_period ? ` · previous: ${r.previous_period}` : "")),
    tiles,
    h("p", { class: "muted" }, `Source: ${r.source} · click a tile for its trend`),
  );
}

function history(r) {
  const x = r.points.map((p) => toSeconds(p.start));
  const last = r.points[r.points.length - 1];
  const chart = lineChart({
    x,
    series: [{ label: r.title, values: r.points.map((p) => num(p.value)), marks: true }],
    time: true,
    xLabel: `${r.timeframe} starting (${r.time_zone})`,
    yLabel: r.unit || r.title,
    shade: last?.partial ? [[toSeconds(last.start), toSeconds(last.end)]] : [],
  });
  return h("div", { class: "kpi-history" }, chart, last?.partial ? h("p", { class: "muted partial-note" }, `Shaded: ${last.start.slice(0, 10)} to date (partial period)`) : null, h("p", { class: "muted" }, `Values in ${r.unit || "units"}; ${fmt(r.points.length)} periods`));
}
