// Serves the repository on http://127.0.0.1:PORT (default 8080; PORT=0 picks a free one) for the
// browser demo, dist/demo/index.html (built by `npm run build`; it loads the browser bundle
// dist/browser/lstm-ts.js and trains in a Web Worker): `npm run demo`, then open the printed URL
// (add ?threads=2 for two kernel threads in the worker; the pages are served cross-origin
// isolated). Static files only, no network needed.
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".css": "text/css; charset=utf-8",
};

const server = createServer(async (req, res) => {
  const path = decodeURIComponent(new URL(req.url ?? "/", "http://localhost").pathname);
  if (path === "/") {
    res.writeHead(302, { location: "/dist/demo/" }).end();
    return;
  }
  const file = normalize(join(root, path.endsWith("/") ? `${path}index.html` : path));
  if (!file.startsWith(root.endsWith(sep) ? root : root + sep)) {
    res.writeHead(403).end();
    return;
  }
  try {
    const body = await readFile(file);
    res.writeHead(200, {
      "content-type": types[extname(file)] ?? "application/octet-stream",
      // Cross-origin isolation: SharedArrayBuffer, so ?threads=2 runs on Web Workers.
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
    });
    res.end(body);
  } catch {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found");
  }
});

server.listen(Number(process.env.PORT ?? 8080), "127.0.0.1", () => {
  const { port } = server.address();
  console.log(`lstm-ts demo: http://127.0.0.1:${port}/dist/demo/  (Ctrl-C to stop)`);
});
