import { h, fmt, pct } from "../dom.js";
import { lineChart, toSeconds, palette } from "../charts.js";

const NEXT = { daily: 86400 };

export default {
  title: (r) => `Trend of ${r.metric_applied} per ${r.period.replace(/ly$/, "").replace("dai", "day")}`,
  exportQuery: (r) => ({ query: r.sql, params: r.params }),
  render(r) {
    const out = h("div", { class: "trends" });
    const colors = palette();
    r.series.forEach((sr, i) => out.appendChild(seriesChart(r, sr, colors[i % colors.length])));
    return out;
  },
};

function seriesChart(r, sr, color) {
  const periods = sr.periods.map(toSeconds);
  const fc = sr.forecast || [];
  const x = [...periods, ...fc.map((f) => toSeconds(f.period_start))];
  const pad = (arr) => [...arr, ...fc.map(() => null)];
  const at = new Map(periods.map((p, i) => [p, i]));
  const anomalies = x.map(() => null);
  for (const a of sr.anomalies || []) {
    const i = at.get(toSeconds(a.period_start));
    if (i !== undefined) anomalies[i] = a.value;
  }
  // the forecast line starts at the last observed value so it reads as a continuation
  let lastIdx = periods.length - 1;
  while (lastIdx > 0 && sr.partial?.[lastIdx]) lastIdx -= 1; // partial periods are not what the forecast extends
  const fcLine = x.map((_, i) => (i < periods.length ? (i === lastIdx && fc.length ? sr.values[i] : null) : fc[i - periods.length].value));
  const upper = x.map((_, i) => (i < periods.length ? null : fc[i - periods.length].upper));
  const lower = x.map((_, i) => (i < periods.length ? null : fc[i - periods.length].lower));
  const step = periods.length > 1 ? periods[1] - periods[0] : NEXT.daily;
  const shade = [];
  sr.periods.forEach((p, i) => {
    if (sr.partial?.[i]) shade.push([periods[i], i + 1 < periods.length ? periods[i + 1] : periods[i] + step]);
  });
  const series = [
    { label: sr.group === null || sr.group === undefined ? r.metric_applied : String(sr.group), values: pad(sr.values), color, marks: true },
  ];
  const ma = Object.entries(sr.moving_averages || {})[0];
  if (ma) series.push({ label: ma[0].replace("ma_", "moving avg "), values: pad(ma[1]), dash: [4, 4], color: "var(--vf-text-2)" });
  if (fc.length) {
    series.push({ label: "forecast", values: fcLine, dash: [6, 4], color, spanGaps: true });
    series.push({ label: `upper ${Math.round((r.confidence_level || 0.95) * 100)}%`, values: upper, band: "upper" });
    series.push({ label: "lower", values: lower, band: "lower" });
  }
  if ((sr.anomalies || []).length) series.push({ label: "anomaly", values: anomalies, pointsOnly: true, color: "var(--vf-bad)" });
  const resolved = series.map((s) => ({ ...s, color: s.color && s.color.startsWith("var(") ? getComputedStyle(document.documentElement).getPropertyValue(s.color.slice(4, -1)).trim() || "#888" : s.color }));
  const chart = lineChart({
    x,
    series: resolved,
    time: true,
    xLabel: `${r.time_column} (${r.period}, ${r.time_zone || "UTC"})`,
    yLabel: r.metric_applied,
    shade,
  });
  chart.classList.add("trend-chart");
  chart.dataset.anomalies = String((sr.anomalies || []).length);
  chart.dataset.forecast = String(fc.length);
  chart.dataset.partial = String(shade.length);
  const facts = h(
    "dl",
    { class: "facts" },
    fact("direction", sr.direction),
    fact("total change", pct(sr.total_change_pct)),
    fact("growth per period", pct(sr.growth_rate_pct)),
    fact("slope", `${fmt(sr.slope_per_period)} / period`),
    fact("R²", fmt(sr.r_squared)),
    fact("significant", sr.trend_significant ? "yes" : "no"),
  );
  return h(
    "article",
    { class: "series" },
    sr.group !== null && sr.group !== undefined ? h("h2", {}, String(sr.group)) : null,
    chart,
    facts,
    shade.length ? h("p", { class: "muted legend-note" }, "Shaded: partial period (cut by the dates or today)") : null,
    (sr.anomalies || []).length
      ? h("ul", { class: "anomalies" }, sr.anomalies.map((a) => h("li", {}, `${a.period_start}: ${fmt(a.value)} (expected ${fmt(a.expected)}, ${a.severity})`)))
      : null,
    (sr.insights || []).length ? h("ul", { class: "insights" }, sr.insights.map((t) => h("li", {}, t))) : null,
  );
}

function fact(k, v) {
  return v === "" || v === undefined || v === null ? null : [h("dt", {}, k), h("dd", {}, v)];
}
