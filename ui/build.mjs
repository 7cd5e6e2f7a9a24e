// Builds the views into ONE self-contained HTML file (every byte of JS and CSS inline, no network), committed
// as ../vf_mcp/ui/static/views.html, and the host script (../vf_mcp/ui/static/host.js: the test host and the /ui page). `npm run build`.
import { build } from "esbuild";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";

const here = new URL(".", import.meta.url).pathname;

// zod (used by the ext-apps SDK to validate messages) re-exports ~50 locale bundles; the views need English only.
// The ext-apps SDK takes only `Protocol` from the MCP client package; importing the package's index would also
// bundle its HTTP/SSE transports and OAuth providers. The package is pinned (package-lock.json), and the build
// fails if the chunk below stops exporting Protocol as `v`.
const clientDir = `${here}node_modules/@modelcontextprotocol/client/dist/`;
const protocolOnly = {
  name: "mcp-client-protocol-only",
  setup(b) {
    b.onResolve({ filter: /^@modelcontextprotocol\/client$/ }, (args) =>
      args.importer.includes("/ext-apps/") ? { path: "protocol", namespace: "protocol-only" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "protocol-only" }, () => {
      const index = readFileSync(`${clientDir}index.mjs`, "utf8");
      const m = index.match(/\bv as Protocol\b[^;]*from "\.\/(src-[A-Za-z0-9_-]+\.mjs)"/);
      if (!m) throw new Error("@modelcontextprotocol/client: Protocol not found where the build expects it");
      return { contents: `export { v as Protocol } from ${JSON.stringify(clientDir + m[1])};`, resolveDir: here };
    });
  },
};

const englishOnly = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes("/zod/") ? { path: args.importer.replace(/classic\/[^/]+$|core\/[^/]+$/, "locales/en.js").replace(/\/[^/]*$/, "/en-only.js"), namespace: "en-only", pluginData: args.importer } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "en-only" }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path.replace(/en-only\.js$/, "en.js"))};`,
      resolveDir: here,
    }));
  },
};
const out = `${here}../vf_mcp/ui/static/`;

const views = await build({
  entryPoints: [`${here}src/main.js`],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  write: false,
  outdir: "out",
  legalComments: "none",
  loader: { ".css": "css" },
  plugins: [englishOnly, protocolOnly],
  metafile: true,
});
const js = views.outputFiles.find((f) => f.path.endsWith(".js")).text;
const css = views.outputFiles.find((f) => f.path.endsWith(".css")).text;
const safeJs = js.replace(/<\/script/gi, "<\\/script");
const html = `<!doctype html>
<html lang="en"><head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>vf-mcp view</title>
<style>${css}</style>
</head><body><main id="root"></main>
<script>${safeJs}</script>
</body></html>
`;
mkdirSync(out, { recursive: true });
writeFileSync(`${out}views.html`, html);

const host = await build({
  entryPoints: [`${here}host/host.js`],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  write: false,
  outdir: "out",
  legalComments: "none",
  plugins: [englishOnly, protocolOnly],
  metafile: true,
});
writeFileSync(`${out}host.js`, host.outputFiles[0].text);

// The licences of every npm package inside the two bundles (read from each package's own files).
const packages = new Set();
for (const meta of [views.metafile, host.metafile])
  for (const input of Object.keys(meta.inputs)) {
    const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
    if (m) packages.add(m[1]);
  }
let licences = "Third-party software bundled into views.html and host.js (built by ui/build.mjs).\n";
for (const name of [...packages].sort()) {
  const dir = `${here}node_modules/${name}`;
  const meta = JSON.parse(readFileSync(`${dir}/package.json`, "utf8"));
  const file = ["LICENSE", "LICENSE.md", "LICENSE.txt", "license"].map((f) => `${dir}/${f}`).find((f) => existsSync(f));
  licences += `\n==== ${name} ${meta.version} (${meta.license}) ====\n${file ? readFileSync(file, "utf8").trim() : `License: ${meta.license}`}\n`;
}
writeFileSync(`${out}THIRD_PARTY_LICENSES.txt`, licences);

const pkg = JSON.parse(readFileSync(`${here}package.json`, "utf8"));
console.log(`views.html: ${html.length} bytes (${(Buffer.byteLength(html) / 1024).toFixed(1)} KiB); host.js: ${host.outputFiles[0].text.length} bytes; deps ${JSON.stringify(pkg.dependencies)}`);
