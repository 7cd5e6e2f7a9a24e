// The /ui page: a small MCP client (2026-07-28 per-request envelope over streamable HTTP, advertising the
// MCP Apps extension) and a host (host.js, the ext-apps AppBridge) that shows each tool's view.
(() => {
  "use strict";
  const PV = "2026-07-28";
  const UI = "io.modelcontextprotocol/ui";
  const $ = (id) => document.getElementById(id);
  const key = $("key");
  const pick = $("tool");
  const status = $("status");
  const err = $("err");
  let tools = [];
  let nextId = 1;
  key.value = sessionStorage.getItem("vf-mcp-key") || "";

  async function rpc(method, params) {
    const id = nextId++;
    const meta = {
      "io.modelcontextprotocol/protocolVersion": PV,
      "io.modelcontextprotocol/clientCapabilities": { extensions: { [UI]: { mimeTypes: ["text/html;profile=mcp-app"] } } },
      "io.modelcontextprotocol/clientInfo": { name: "vf-mcp /ui page", version: "1" },
    };
    const headers = {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": PV,
      "mcp-method": method,
    };
    if (params && params.name) headers["mcp-name"] = params.name;
    if (key.value.trim()) headers.authorization = `Bearer ${key.value.trim()}`;
    const res = await fetch("/mcp", {
      method: "POST",
      headers,
      body: JSON.stringify({ jsonrpc: "2.0", id, method, params: { ...(params || {}), _meta: meta } }),
    });
    if (res.status === 401) throw new Error("The API key was refused (401).");
    if (res.status === 429) throw new Error("Rate limited (429): try again later.");
    const type = res.headers.get("content-type") || "";
    let msg = null;
    if (type.includes("text/event-stream")) {
      for (const line of (await res.text()).split(/\r?\n/)) {
        if (!line.startsWith("data:")) continue;
        const m = JSON.parse(line.slice(5));
        if (m.id === id) msg = m;
      }
    } else msg = await res.json();
    if (!msg) throw new Error(`No answer (HTTP ${res.status}).`);
    if (msg.error) throw new Error(msg.error.message);
    return msg.result;
  }

  const viewOf = (t) => {
    const uri = t._meta && t._meta.ui && t._meta.ui.resourceUri;
    const m = uri && /^ui:\/\/vf-mcp\/([a-z]+)\.html$/.exec(uri);
    return m ? m[1] : null;
  };
  const appOnly = (t) => {
    const v = t._meta && t._meta.ui && t._meta.ui.visibility;
    return Array.isArray(v) && !v.includes("model");
  };

  $("load").addEventListener("click", async () => {
    err.textContent = "";
    sessionStorage.setItem("vf-mcp-key", key.value.trim());
    status.textContent = "loading tools…";
    try {
      const listed = [];
      let cursor;
      do {
        const page = await rpc("tools/list", cursor ? { cursor } : {});
        listed.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor);
      tools = listed.filter((t) => viewOf(t) && !appOnly(t));
      pick.replaceChildren(...tools.map((t) => new Option(t.name, t.name)));
      pick.disabled = !tools.length;
      $("run").disabled = !tools.length;
      status.textContent = `${tools.length} tools with a view`;
      showArgs();
    } catch (e) {
      err.textContent = e.message;
      status.textContent = "";
    }
  });

  pick.addEventListener("change", showArgs);

  function typeOf(schema) {
    if (!schema) return "string";
    if (schema.enum) return "enum";
    const alt = (schema.anyOf || schema.oneOf || []).find((s) => s.type !== "null");
    if (alt) return typeOf(alt);
    return Array.isArray(schema.type) ? schema.type.find((x) => x !== "null") : schema.type || "json";
  }

  function showArgs() {
    const tool = tools.find((t) => t.name === pick.value);
    const box = $("args");
    box.replaceChildren();
    $("desc").textContent = tool ? tool.description || "" : "";
    if (!tool) return;
    const schema = tool.inputSchema || {};
    const required = new Set(schema.required || []);
    for (const [name, prop] of Object.entries(schema.properties || {})) {
      const kind = typeOf(prop);
      const enumValues = prop.enum || ((prop.anyOf || []).find((s) => s.enum) || {}).enum;
      const label = document.createElement("label");
      label.htmlFor = `arg-${name}`;
      label.textContent = name + (required.has(name) ? " *" : "");
      const hint = document.createElement("span");
      hint.className = "hint";
      hint.textContent = ` ${kind}${prop.description ? `: ${prop.description}` : ""}`;
      label.appendChild(hint);
      let input;
      if (enumValues) {
        input = document.createElement("select");
        if (!required.has(name)) input.appendChild(new Option("", ""));
        for (const v of enumValues) input.appendChild(new Option(String(v), JSON.stringify(v)));
        if (prop.default !== undefined) input.value = JSON.stringify(prop.default);
      } else if (kind === "boolean") {
        input = document.createElement("input");
        input.type = "checkbox";
        input.checked = prop.default === true;
      } else {
        input = document.createElement("input");
        input.type = kind === "integer" || kind === "number" ? "number" : prop.format === "date" ? "date" : "text";
        if (prop.default !== undefined && prop.default !== null)
          input.value = typeof prop.default === "object" ? JSON.stringify(prop.default) : String(prop.default);
        if (kind === "array" || kind === "object" || kind === "json") input.placeholder = "JSON, e.g. [\"status\"]";
      }
      input.id = `arg-${name}`;
      input.dataset.arg = name;
      input.dataset.kind = enumValues ? "enum" : kind;
      box.append(label, input);
    }
  }

  function collect() {
    const args = {};
    for (const input of document.querySelectorAll("[data-arg]")) {
      const name = input.dataset.arg;
      const kind = input.dataset.kind;
      if (kind === "boolean") {
        if (input.checked) args[name] = true;
        continue;
      }
      const raw = input.value.trim();
      if (raw === "") continue;
      if (kind === "enum") args[name] = JSON.parse(raw);
      else if (kind === "integer" || kind === "number") args[name] = Number(raw);
      else if (kind === "array" || kind === "object" || kind === "json") {
        try {
          args[name] = JSON.parse(raw);
        } catch {
          args[name] = kind === "array" ? [raw] : raw;
        }
      } else args[name] = raw;
    }
    return args;
  }

  $("pick").addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const tool = tools.find((t) => t.name === pick.value);
    if (!tool) return;
    const args = collect();
    status.textContent = `running ${tool.name}…`;
    try {
      const result = await rpc("tools/call", { name: tool.name, arguments: args });
      status.textContent = result.isError ? "the tool answered with an error" : "";
      const dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
      await window.vfHost.mount({
        container: $("view"),
        viewUrl: `/ui/view/${viewOf(tool)}.html`,
        toolName: tool.name,
        input: args,
        result,
        theme: dark ? "dark" : "light",
        width: Math.max(320, Math.min($("out").clientWidth - 34, 940)),
        userAgent: "vf-mcp /ui page",
        callTool: (name, a) => rpc("tools/call", { name, arguments: a }),
        onDownload: async (p) => {
          for (const c of p.contents || []) {
            const uri = c.type === "resource_link" ? c.uri : null;
            if (uri && /^https?:\/\//.test(uri)) {
              const a = document.createElement("a");
              a.href = uri;
              a.download = c.name || "";
              a.rel = "noopener";
              document.body.appendChild(a);
              a.click();
              a.remove();
            }
          }
        },
      });
    } catch (x) {
      err.textContent = x.message;
      status.textContent = "";
    }
  });
})();
