import { h, fmt, text } from "../dom.js";
import { barChart } from "../charts.js";

export default {
  title: (r, input) => `Ranking${input.entity_column ? ` of ${input.entity_column}` : ""}`,
  exportQuery: (r) => ({ query: r.sql, params: r.params }),
  render(r, ctx) {
    const rows = r.ranking.map((e) => ({
      label: `${e.rank}. ${e.label !== null && e.label !== undefined ? text(e.label) : text(e.entity)}`,
      value: e.value,
      share: e.percent_of_total,
      note: e.percent_of_total !== null && e.percent_of_total !== undefined ? `${fmt(e.percent_of_total)}%` : "",
      key: e.entity,
      title: e.label !== null && e.label !== undefined ? `${ctx.input.entity_column || "entity"} = ${text(e.entity)}` : "",
    }));
    const onClick = ctx.input?.table_name && ctx.input?.entity_column
      ? (row) => ctx.drill("calculate_metrics", {
          table_name: ctx.input.table_name,
          metric: "count",
          filters: [...(Array.isArray(ctx.input.filters) ? ctx.input.filters : []), { column: ctx.input.entity_column, operator: "=", value: row.key }],
        })
      : undefined;
    return h(
      "div",
      { class: "rank" },
      barChart(rows, { onClick, valueLabel: "value", share: "share of total" }),
      h("p", { class: "muted" }, `${fmt(r.total_entities)} entities in all; ${r.ranking_method}`),
      r.null_entity ? h("p", { class: "muted" }, `NULL ${ctx.input.entity_column || "entity"}: ${fmt(r.null_entity.records)} rows, value ${fmt(r.null_entity.value)} (not ranked)`) : null,
      r.label_column ? h("p", { class: "muted" }, `Labels from ${r.label_column}${r.label_key ? ` (${r.label_key})` : ""}`) : null,
    );
  },
};
