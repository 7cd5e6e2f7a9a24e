import { h, fmt } from "../dom.js";

const SEVERITIES = ["critical", "warning", "info"];

/** Scorecards per table and findings grouped by severity; a table card re-checks that table alone. */
export default {
  title: (r) => `Data quality: ${r.score === null || r.score === undefined ? "n/a" : fmt(r.score)} / 100`,
  render(r, ctx) {
    const cls = (v) => (v === null || v === undefined ? "neutral" : v >= 90 ? "good" : v >= 70 ? "warn" : "bad");
    const overall = h("div", { class: "tiles small" }, ["score", "completeness", "freshness", "consistency"].map((k) => h("div", { class: `tile ${cls(r[k])}` }, h("div", { class: "tile-title" }, k), h("div", { class: "tile-value" }, r[k] === null || r[k] === undefined ? "n/a" : fmt(r[k])))));
    const cards = h("div", { class: "cards", dataset: { marks: String(r.tables.length) } });
    for (const t of r.tables) {
      const counts = SEVERITIES.map((s) => [s, t.findings.filter((f) => f.severity === s).length]).filter(([, n]) => n);
      const card = h(
        "div",
        { class: `card ${cls(t.score)}` + (r.tables.length > 1 ? " clickable" : ""), dataset: { table: t.table }, tabindex: 0 },
        h("div", { class: "card-title" }, t.table),
        h("div", { class: "card-score" }, t.score === null || t.score === undefined ? "n/a" : fmt(t.score)),
        h("div", { class: "muted" }, `${fmt(t.rows)} rows${t.exact ? "" : ` (sample ${fmt(t.sample_size)})`}`),
        h("div", { class: "card-counts" }, counts.map(([s, n]) => h("span", { class: `sev sev-${s}` }, `${n} ${s}`))),
      );
      if (r.tables.length > 1) card.addEventListener("click", () => ctx.drill("check_data_quality", { ...ctx.input, table_name: t.table }));
      cards.appendChild(card);
    }
    const groups = SEVERITIES.map((sev) => {
      const found = r.tables.flatMap((t) => t.findings.filter((f) => f.severity === sev).map((f) => ({ ...f, table: t.table })));
      if (!found.length) return null;
      return h(
        "details",
        { class: `findings sev-${sev}`, open: sev !== "info" ? "" : undefined },
        h("summary", {}, `${found.length} ${sev}`),
        h("ul", {}, found.map((f) => h("li", {}, h("b", {}, `${f.table}${f.column ? `.${f.column}` : ""}`), ` ${f.type}: ${f.description}`, f.affected_rows !== null && f.affected_rows !== undefined ? ` (${fmt(f.affected_rows)} rows)` : "", h("div", { class: "muted" }, f.recommendation)))),
      );
    });
    return h("div", { class: "quality" }, overall, cards, groups, h("p", { class: "muted" }, r.scoring));
  },
};
