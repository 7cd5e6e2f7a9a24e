import { h, fmt } from "../dom.js";
import { tooltip } from "../dom.js";

/** The plan as a tree: each node's own cost (and time with analyze), its share, the costly nodes highlighted. */
export default {
  title: (r) => `Query plan${r.analyzed ? " (analyzed)" : ""}`,
  render(r) {
    const root = Array.isArray(r.plan) ? r.plan[0]?.Plan : r.plan?.Plan || r.plan;
    const out = h("div", { class: "explain" });
    out.appendChild(
      h("dl", { class: "facts" },
        h("dt", {}, "total cost"), h("dd", {}, fmt(r.total_cost)),
        r.planning_time_ms !== null && r.planning_time_ms !== undefined ? [h("dt", {}, "planning"), h("dd", {}, `${fmt(r.planning_time_ms)} ms`)] : null,
        r.execution_time_ms !== null && r.execution_time_ms !== undefined ? [h("dt", {}, "execution"), h("dd", {}, `${fmt(r.execution_time_ms)} ms`)] : null,
        h("dt", {}, "parameters"), h("dd", {}, r.params_mode),
      ),
    );
    if (!root) return out;
    const analyzed = root["Actual Total Time"] !== undefined;
    const totalOf = (n) => (analyzed ? (n["Actual Total Time"] || 0) * (n["Actual Loops"] || 1) : n["Total Cost"] || 0);
    const grand = totalOf(root) || 1;
    let count = 0;
    const build = (n) => {
      count += 1;
      const kids = n.Plans || [];
      const own = Math.max(0, totalOf(n) - kids.reduce((a, c) => a + totalOf(c), 0));
      const share = (own / grand) * 100;
      const label = [n["Node Type"], n["Relation Name"] ? `on ${n.Schema ? `${n.Schema}.` : ""}${n["Relation Name"]}${n.Alias && n.Alias !== n["Relation Name"] ? ` ${n.Alias}` : ""}` : "", n["Index Name"] ? `using ${n["Index Name"]}` : ""].filter(Boolean).join(" ");
      const rows = analyzed ? `rows ${fmt(n["Actual Rows"])} (est. ${fmt(n["Plan Rows"])})` : `rows est. ${fmt(n["Plan Rows"])}`;
      const measure = analyzed ? `${fmt(own)} ms own` : `cost ${fmt(own)} own`;
      const row = h(
        "div",
        { class: "plan-node" + (share >= 20 ? " hot" : ""), dataset: { share: share.toFixed(1) } },
        h("span", { class: "plan-label" }, label),
        h("span", { class: "plan-bar" }, h("span", { style: `width:${Math.min(100, share).toFixed(1)}%` })),
        h("span", { class: "plan-share" }, `${fmt(share)}%`),
        h("span", { class: "muted plan-meta" }, `${measure} · total ${fmt(n["Total Cost"])} · ${rows}${n["Actual Loops"] > 1 ? ` · ${n["Actual Loops"]} loops` : ""}`),
      );
      tooltip(row, () => [label, `startup cost ${fmt(n["Startup Cost"])}, total cost ${fmt(n["Total Cost"])}`, ...(analyzed ? [`actual time ${fmt(n["Actual Startup Time"])}..${fmt(n["Actual Total Time"])} ms × ${n["Actual Loops"]} loops`] : []), ...(n.Filter ? [`filter: ${n.Filter}`] : []), ...(n["Hash Cond"] ? [`hash cond: ${n["Hash Cond"]}`] : []), ...(n["Index Cond"] ? [`index cond: ${n["Index Cond"]}`] : [])]);
      return h("li", {}, row, kids.length ? h("ul", {}, kids.map(build)) : null);
    };
    const tree = h("ul", { class: "plan-tree" }, build(root));
    tree.dataset.marks = String(count);
    out.appendChild(tree);
    if ((r.issues || []).length)
      out.appendChild(h("div", { class: "findings" }, h("h2", {}, "Issues"), h("ul", {}, r.issues.map((f) => h("li", { class: `sev-${f.severity}` }, h("b", {}, `${f.severity}: ${f.check}`), ` on ${f.object} — ${f.recommendation}`)))));
    if ((r.suggestions || []).length) out.appendChild(h("div", {}, h("h2", {}, "Suggestions"), h("ul", {}, r.suggestions.map((t) => h("li", {}, t)))));
    return out;
  },
};
