import trends from "./trends.js";
import metrics from "./metrics.js";
import compare from "./compare.js";
import rank from "./rank.js";
import kpi from "./kpi.js";
import er from "./er.js";
import explain from "./explain.js";
import quality from "./quality.js";
import grid from "./grid.js";

export const VIEWS = { trends, metrics, compare, rank, kpi, er, explain, quality, grid };

/** The tool -> view map of vf_mcp/ui/views.py (for drill-down results and hosts without the meta tag). */
export const TOOL_VIEWS = {
  analyze_trends: "trends",
  calculate_metrics: "metrics",
  compare_data: "compare",
  rank_entities: "rank",
  get_kpi_dashboard: "kpi",
  kpi_history: "kpi",
  get_table_relationships: "er",
  get_table_schema: "er",
  explain_query: "explain",
  check_data_quality: "quality",
  run_query: "grid",
};
