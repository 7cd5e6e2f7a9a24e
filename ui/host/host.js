// A minimal MCP Apps host built on the ext-apps package's own host-side bridge (AppBridge), as in the
// ext-apps basic-host example: the view runs in a sandboxed iframe (allow-scripts only) on another origin.
// Used by the browser tests (tests/ui_host/) and by the /ui page of `vf-mcp serve --transport http`.
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";

const record = { calls: [], downloads: [], sizes: [], logs: [], initialized: 0 };

/**
 * Mount a view. opts: {container, viewUrl, toolName, input, result, theme, width, callTool(name, args) ->
 * Promise<CallToolResult>, styles}
 */
async function mount(opts) {
  const iframe = document.createElement("iframe");
  iframe.setAttribute("sandbox", "allow-scripts");
  iframe.setAttribute("title", `${opts.toolName} view`);
  iframe.style.width = `${opts.width || 640}px`;
  iframe.style.height = "200px";
  iframe.style.border = "0";
  iframe.style.display = "block";
  opts.container.replaceChildren(iframe);
  const bridge = new AppBridge(
    null,
    { name: "vf-mcp test host", version: "1.0.0" },
    { serverTools: {}, downloadFile: {}, openLinks: {}, logging: {} },
    {
      hostContext: {
        theme: opts.theme || "light",
        userAgent: opts.userAgent || "vf-mcp host",
        displayMode: "inline",
        availableDisplayModes: ["inline"],
        containerDimensions: { maxWidth: opts.width || 640, maxHeight: 6000 },
        toolInfo: { tool: { name: opts.toolName, inputSchema: { type: "object" } } },
        styles: opts.styles ? { variables: opts.styles } : undefined,
        locale: "en-US",
        timeZone: "UTC",
        platform: "web",
      },
    },
  );
  bridge.oncalltool = async (params) => {
    record.calls.push({ name: params.name, arguments: params.arguments });
    return await opts.callTool(params.name, params.arguments || {});
  };
  bridge.ondownloadfile = async (params) => {
    record.downloads.push(params);
    if (opts.onDownload) await opts.onDownload(params);
    return {};
  };
  bridge.onopenlink = async () => ({});
  bridge.onloggingmessage = (p) => record.logs.push(p);
  bridge.onsizechange = (p) => {
    record.sizes.push(p);
    if (p.height) iframe.style.height = `${Math.ceil(p.height)}px`;
  };
  const ready = new Promise((resolve) => {
    bridge.oninitialized = () => {
      record.initialized += 1;
      bridge.sendToolInput({ arguments: opts.input || {} });
      bridge.sendToolResult(opts.result);
      resolve();
    };
  });
  await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
  iframe.src = opts.viewUrl;
  await ready;
  window.vfHost.current = { bridge, iframe };
  return { bridge, iframe };
}

/** Switch the mounted view's theme (ui/notifications/host-context-changed). */
function setTheme(theme) {
  window.vfHost.current.bridge.setHostContext({ ...window.vfHost.current.bridge.getHostContext?.(), theme });
}

window.vfHost = { mount, record, setTheme, current: null };
