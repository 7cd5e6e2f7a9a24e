// vf-mcp MCP Apps views: one bundle, the view chosen by <meta name="vf-view"> (or the tool's name).
import { App, applyDocumentTheme, applyHostFonts, applyHostStyleVariables } from "@modelcontextprotocol/ext-apps";
import { h, text } from "./dom.js";
import { VIEWS, TOOL_VIEWS } from "./views/index.js";
import "./style.css";
import "uplot/dist/uPlot.min.css";

const root = document.getElementById("root");
const state = { input: {}, view: null, history: [] };

const app = new App({ name: "vf-mcp views", version: "1" }, {}, { autoResize: true });

function applyHost(ctx) {
  if (!ctx) return;
  if (ctx.theme) applyDocumentTheme(ctx.theme);
  if (ctx.styles?.variables) applyHostStyleVariables(ctx.styles.variables);
  if (ctx.styles?.css?.fonts) applyHostFonts(ctx.styles.css.fonts);
  const box = ctx.containerDimensions;
  if (box) root.style.maxWidth = box.width ? `${box.width}px` : box.maxWidth ? `${box.maxWidth}px` : "";
}

function chosenView() {
  const meta = document.querySelector('meta[name="vf-view"]');
  if (meta?.content && VIEWS[meta.content]) return meta.content;
  const tool = app.getHostContext()?.toolInfo?.tool?.name;
  return TOOL_VIEWS[tool] || "grid";
}

/** Call one of vf-mcp's tools through the host (keys, rate limits, masking and audit apply). */
async function call(name, args) {
  const res = await app.callServerTool({ name, arguments: args });
  if (res.isError || !res.structuredContent) {
    const msg = (res.content || []).map((c) => c.text || "").join(" ") || `${name} failed`;
    throw new Error(msg);
  }
  return res.structuredContent;
}

/** Export a query's full result through export_results and hand the file to the host (ui/download-file). */
async function download(query, params, format, status) {
  status.textContent = `exporting ${format}…`;
  try {
    const out = await call("export_results", { query, format, params: params || [] });
    const uri = out.download_url || out.resource_uri;
    const mime =
      format === "excel" ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" : "text/csv";
    let ok = false;
    try {
      const r = await app.downloadFile({ contents: [{ type: "resource_link", uri, name: out.file_name, mimeType: mime }] });
      ok = !r?.isError;
    } catch {
      ok = false;
    }
    status.replaceChildren(ok ? `${out.file_name}: ${out.row_count} rows, ${out.file_size}` : "download: ");
    if (!ok && /^https?:\/\//.test(uri)) {
      const a = h("a", { target: "_blank", rel: "noopener" }, out.file_name);
      a.href = uri;
      status.appendChild(a);
    } else if (!ok) status.appendChild(document.createTextNode(uri));
  } catch (e) {
    status.textContent = `export failed: ${e.message}`;
  }
}

function notes(result, input) {
  const items = [];
  if (result.time_zone) items.push(h("li", {}, "Time zone: ", h("b", {}, result.time_zone)));
  for (const p of result.partial_periods || [])
    items.push(h("li", { class: "partial-note" }, `Partial period ${p.period_start}: ${p.days_covered}/${p.days_in_period} days (${p.reason})${p.excluded ? ", left out of the statistics" : ""}`));
  for (const c of result.conventions || []) items.push(h("li", {}, c));
  if (result.tied_not_shown) items.push(h("li", {}, `${result.tied_not_shown} tied entries not shown at the cut-off`));
  if (result.from_cache) items.push(h("li", {}, "From cache"));
  const sql = Array.isArray(result.sql) ? result.sql.join(";\n") : result.sql || (typeof input.sql === "string" ? input.sql : null);
  const params = result.params || (Array.isArray(input.params) ? input.params : []);
  return h(
    "footer",
    { class: "notes" },
    items.length ? h("ul", {}, items) : null,
    sql ? h("details", { class: "sql" }, h("summary", {}, "SQL"), h("pre", {}, sql), params.length ? h("pre", {}, `params: ${JSON.stringify(params)}`) : null) : null,
  );
}

/** Render one tool result into the page; `drill` adds a back button to the previous view. */
export function render(view, input, result, { drill = false } = {}) {
  const started = performance.now();
  state.last = () => render(view, input, result, { drill });
  const v = VIEWS[view] || VIEWS.grid;
  const status = h("span", { class: "status", role: "status" });
  const ctx = {
    input: input || {},
    call,
    status,
    drill: async (tool, args) => {
      status.textContent = `${tool}…`;
      try {
        const res = await call(tool, args);
        state.history.push(() => render(view, input, result, { drill }));
        render(TOOL_VIEWS[tool] || "grid", args, res, { drill: true });
      } catch (e) {
        status.textContent = e.message;
      }
    },
  };
  const actions = h("div", { class: "actions" });
  const exportable = v.exportQuery ? v.exportQuery(result, ctx.input) : null;
  if (exportable) {
    for (const [label, format] of [["CSV", "csv"], ["Excel", "excel"]])
      actions.appendChild(h("button", { type: "button", class: "btn download", dataset: { format }, onclick: () => download(exportable.query, exportable.params, format, status) }, `⬇ ${label}`));
  }
  if (drill && state.history.length)
    actions.prepend(h("button", { type: "button", class: "btn back", onclick: () => state.history.pop()() }, "← Back"));
  if (v.exportQuery && !exportable) actions.hidden = true;
  let body;
  try {
    body = v.render(result, ctx);
  } catch (e) {
    body = h("p", { class: "error" }, `This result could not be drawn: ${e.message}`);
  }
  root.replaceChildren(
    h("header", {}, h("h1", {}, v.title(result, ctx.input)), result.message ? h("p", { class: "msg" }, result.message) : null, h("div", { class: "bar-actions" }, actions, status)),
    h("section", { class: "view", dataset: { view } }, body),
    notes(result, ctx.input),
  );
  const ms = performance.now() - started;
  document.documentElement.dataset.renderMs = ms.toFixed(1);
  document.documentElement.dataset.view = view;
  document.documentElement.dataset.rendered = String(Number(document.documentElement.dataset.rendered || 0) + 1);
}

function renderError(res) {
  const msg = (res.content || []).map((c) => c.text || "").join("\n");
  root.replaceChildren(h("p", { class: "error" }, msg || "The tool failed."));
}

app.ontoolinput = (p) => {
  state.input = p.arguments || {};
};
app.ontoolresult = (res) => {
  state.history = [];
  if (res.isError || !res.structuredContent) return renderError(res);
  render(chosenView(), state.input, res.structuredContent);
};
app.onhostcontextchanged = (ctx) => {
  applyHost(ctx);
  if ((ctx.theme || ctx.styles) && state.last) state.last(); // canvas colours follow the new theme
};
app.onteardown = async () => ({});

root.replaceChildren(h("p", { class: "muted" }, "Waiting for the result…"));
app.connect().then(
  () => {
    applyHost(app.getHostContext());
    document.documentElement.dataset.connected = "true";
  },
  (e) => root.replaceChildren(h("p", { class: "error" }, `Could not connect to the host: ${text(e.message)}`)),
);
