// Charts: uPlot (vendored through npm at a pinned version, bundled inline) for lines; HTML bars; SVG sparklines.
import uPlot from "uplot";
import { h, s, fmt, short, tooltip } from "./dom.js";

export function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

export const palette = () => [1, 2, 3, 4, 5, 6].map((i) => cssVar(`--vf-c${i}`, "#3b6fd8"));

/** "2025-01-01" or an ISO timestamp -> seconds since the epoch (dates as UTC midnight). */
export function toSeconds(v) {
  if (typeof v === "number") return v;
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
  return Number.isNaN(t) ? null : t / 1000;
}

const utc = (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");

/**
 * A line chart.
 * opts: {x: number[] (seconds when time), series: [{label, values, color?, dash?, band?: "upper"|"lower",
 * marks?: bool, pointsOnly?: bool}], xLabel, yLabel, time: bool, shade: [[x0, x1]], height, onPoint(idx)}
 */
export function lineChart(opts) {
  const box = h("div", { class: "chart line-chart" });
  const colors = palette();
  const data = [opts.x, ...opts.series.map((sr) => sr.values)];
  let marks = 0;
  const series = [
    { label: opts.xLabel || "x", value: opts.time ? (u, v) => (v == null ? "" : dateLabel(v)) : (u, v) => fmt(v) },
  ];
  opts.series.forEach((sr, i) => {
    const color = sr.color || colors[i % colors.length];
    if (sr.marks) marks += sr.values.filter((v) => v !== null && v !== undefined).length;
    const base = { label: sr.label, value: (u, v) => (v == null ? "–" : fmt(v)), spanGaps: !!sr.spanGaps };
    if (sr.band) series.push({ ...base, stroke: "transparent", width: 0, points: { show: false } });
    else if (sr.pointsOnly)
      series.push({
        ...base,
        stroke: color,
        paths: () => null,
        points: { show: true, size: 10, width: 2, stroke: color, fill: color },
      });
    else
      series.push({
        ...base,
        stroke: color,
        width: 2,
        dash: sr.dash,
        points: { show: opts.x.length <= 60, size: 5, fill: color },
      });
  });
  const bands = [];
  const upper = opts.series.findIndex((sr) => sr.band === "upper");
  const lower = opts.series.findIndex((sr) => sr.band === "lower");
  if (upper >= 0 && lower >= 0) bands.push({ series: [upper + 1, lower + 1], fill: cssVar("--vf-band", "rgba(59,111,216,.15)") });
  const axisColor = cssVar("--vf-text-2", "#666");
  const gridColor = cssVar("--vf-grid", "rgba(128,128,128,.2)");
  const axis = (label, isX) => ({
    label,
    stroke: axisColor,
    grid: { stroke: gridColor, width: 1 },
    ticks: { stroke: gridColor, width: 1 },
    labelFont: "12px sans-serif",
    font: "11px sans-serif",
    size: isX ? (opts.time ? 52 : 40) : 56,
    labelSize: 18,
    values: isX ? (opts.time ? undefined : (u, vals) => vals.map(short)) : (u, vals) => vals.map(short),
  });
  const shadeFill = cssVar("--vf-shade", "rgba(128,128,128,.18)");
  const width = () => Math.max(280, Math.min(box.clientWidth || document.body.clientWidth - 24, 1200));
  const u = new uPlot(
    {
      width: width(),
      height: opts.height || 260,
      series,
      bands,
      scales: { x: { time: !!opts.time } },
      tzDate: utc,
      axes: [axis(opts.xLabel, true), axis(opts.yLabel, false)],
      legend: { show: true, live: true },
      cursor: { points: { size: 8 } },
      hooks: {
        drawClear: [
          (u) => {
            for (const [x0, x1] of opts.shade || []) {
              const a = u.valToPos(x0, "x", true);
              const b = u.valToPos(x1, "x", true);
              u.ctx.save();
              u.ctx.fillStyle = shadeFill;
              u.ctx.fillRect(Math.min(a, b), u.bbox.top, Math.max(2, Math.abs(b - a)), u.bbox.height);
              u.ctx.restore();
            }
          },
        ],
      },
    },
    data,
    box,
  );
  box.dataset.marks = String(marks);
  box.dataset.points = String(opts.x.length);
  new ResizeObserver(() => {
    const w = width();
    if (Math.abs(w - u.width) > 4) u.setSize({ width: w, height: u.height });
  }).observe(box);
  box._uplot = u;
  return box;
}

export function dateLabel(sec) {
  const d = new Date(sec * 1000);
  const iso = d.toISOString();
  return iso.endsWith("T00:00:00.000Z") ? iso.slice(0, 10) : iso.replace(".000Z", "Z").replace("T", " ");
}

/**
 * Horizontal bars (HTML): rows [{label, value, note?, title?}], one mark per row; onClick(row) drills down.
 */
export function barChart(rows, { unit = "", onClick, valueLabel = "value", share } = {}) {
  const max = Math.max(0, ...rows.map((r) => Math.abs(r.value ?? 0))) || 1;
  const box = h("div", { class: "chart bar-chart", role: "list", dataset: { marks: String(rows.length) } });
  for (const r of rows) {
    const w = (Math.abs(r.value ?? 0) / max) * 100;
    const bar = h("div", { class: "bar" + (r.value < 0 ? " neg" : ""), style: `width:${w.toFixed(2)}%` });
    const row = h(
      "div",
      {
        class: "bar-row" + (onClick ? " clickable" : ""),
        role: "listitem",
        tabindex: onClick ? 0 : undefined,
        dataset: { value: String(r.value) },
      },
      h("div", { class: "bar-label" }, r.label),
      h("div", { class: "bar-track" }, bar),
      h("div", { class: "bar-value" }, fmt(r.value) + (unit ? ` ${unit}` : ""), r.note ? h("span", { class: "muted" }, ` ${r.note}`) : null),
    );
    tooltip(row, () => [
      String(r.label),
      `${valueLabel}: ${fmt(r.value)}${unit ? ` ${unit}` : ""}`,
      ...(r.share !== undefined && r.share !== null ? [`${share || "share"}: ${fmt(r.share)}%`] : []),
      ...(r.title ? [r.title] : []),
      ...(onClick ? ["click to drill down"] : []),
    ]);
    if (onClick) {
      row.addEventListener("click", () => onClick(r));
      row.addEventListener("keydown", (e) => e.key === "Enter" && onClick(r));
    }
    box.appendChild(row);
  }
  return box;
}

/** A small SVG line of values (null gaps skipped). */
export function sparkline(values, { width = 120, height = 28, color } = {}) {
  const pts = values.map((v, i) => [i, v]).filter(([, v]) => typeof v === "number");
  const svg = s("svg", { class: "spark", viewBox: `0 0 ${width} ${height}`, width, height, "aria-hidden": "true" });
  if (pts.length < 2) return svg;
  const lo = Math.min(...pts.map((p) => p[1]));
  const hi = Math.max(...pts.map((p) => p[1]));
  const x = (i) => 2 + (i / (values.length - 1)) * (width - 4);
  const y = (v) => height - 3 - (hi === lo ? 0.5 : (v - lo) / (hi - lo)) * (height - 6);
  svg.appendChild(
    s("polyline", {
      points: pts.map(([i, v]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" "),
      fill: "none",
      stroke: color || "currentColor",
      "stroke-width": 1.5,
    }),
  );
  const [li, lv] = pts[pts.length - 1];
  svg.appendChild(s("circle", { cx: x(li), cy: y(lv), r: 2.5, fill: color || "currentColor" }));
  return svg;
}
