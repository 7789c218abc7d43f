// A website for the browser tests: serves the release bundle from dist/ and the given host
// pages, on a free loopback port, as a site that embeds the widget would.
import http from "node:http";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist");
const types = { ".js": "text/javascript", ".wasm": "application/wasm", ".html": "text/html" };

/** Starts the site; `pages` maps a path to its HTML, or to `{ html, headers }` for a page
 * served with headers of its own (a Content-Security-Policy). Resolves to {server, base}. */
export function serveDist(pages) {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname in pages) {
      const page = pages[url.pathname];
      const { html, headers = {} } = typeof page === "string" ? { html: page } : page;
      res.writeHead(200, { "content-type": "text/html", ...headers });
      return res.end(html);
    }
    const file = path.join(dist, path.normalize(url.pathname).replace(/^(\.\.[/\\])+/, ""));
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": types[path.extname(file)] || "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () =>
    resolve({ server, base: `http://127.0.0.1:${server.address().port}` })));
}

/** Debian's headless Chromium, as every browser test here runs it. */
export function launchChromium(chromium) {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** The bundle's own launcher, once the loader has fetched the bundle and its placeholder is gone. */
export const LAUNCHER = "chat-widget-root:not([data-chat-widget-loader]) .cw-launcher";

/** Waits until the bundle has loaded: the loader draws a placeholder launcher at once and fetches
 * the wasm after the page's load event (or on the first hover, focus or click). */
export async function widgetLoaded(page, timeout = 30000) {
  await page.waitForFunction(() => window.ChatWidget && window.ChatWidget.version, null, { timeout });
  await page.locator(LAUNCHER).waitFor({ timeout });
}
