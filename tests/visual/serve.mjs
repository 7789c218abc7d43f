// A website for the browser tests: serves the release bundle from dist/ and the given host
// pages, on a free loopback port, as a site that embeds the widget would.
import http from "node:http";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { ports } from "../backends/lib/helpers.mjs";

// CW_DIST serves another build (a profiling one) in place of dist/.
const dist = process.env.CW_DIST || path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist");
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
export function launchChromium(chromium, { bfcache = false } = {}) {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    // Playwright turns the back/forward cache off; `bfcache` keeps it, as every real browser has it.
    ignoreDefaultArgs: bfcache ? ["--disable-back-forward-cache"] : [],
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

/** The messages the widget draws now, oldest first: who wrote each, its text and its status. */
export const shownMessages = (page) => page.evaluate(() => {
  const root = document.querySelector("chat-widget-root:not([data-chat-widget-loader])").shadowRoot;
  return [...root.querySelectorAll(".cw-msg")].map((m) => ({
    from: m.classList.contains("cw-msg-visitor") ? "visitor" : m.classList.contains("cw-msg-agent") ? "agent" : "system",
    text: (m.querySelector(".cw-bubble") || m).textContent.trim(),
    status: m.getAttribute("data-status"),
  }));
});

/** The loopback origin of a reference backend. */
export const backendOrigin = (backend) => `http://127.0.0.1:${ports[backend]}`;

/** The snippet's data attributes that point the widget at a backend at `origin`. */
export function backendAttributes(backend, origin = backendOrigin(backend)) {
  return {
    voxsig: `data-voxsig-url="${origin}" data-voxsig-inbox="demo-inbox"`,
    gms: `data-gms-url="${origin}/genesys/cometd" data-gms-service="customer-support"`,
    push: `data-push-host="${origin}" data-push-channel-uuid="cf3d62bc" data-push-host-api="https://new.push.al"`,
  }[backend];
}

/** The three backends, in the order every browser test runs them. */
export const BACKENDS = ["voxsig", "gms", "push"];

/** The widget's script tag, as the README tells a site to add it. */
export const widgetTag = (backend, origin = backendOrigin(backend)) =>
  `<script async src="chat-widget.js" data-backend="${backend}" ${backendAttributes(backend, origin)} data-locale="en"></script>`;

/** A host page of a site that embeds the widget. `snippet: false` leaves out the inline
 * `window.ChatWidget` queue stub (for pages whose CSP forbids inline scripts). */
export function hostPage(backend, { title = `Shop (${backend})`, text = "A page of a site with the chat widget.",
  snippet = true, origin = backendOrigin(backend) } = {}) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title><link rel="icon" href="data:,"></head>
<body><p>${text}</p>
${snippet ? "<script>window.ChatWidget = window.ChatWidget || { q: [] };</script>\n" : ""}${widgetTag(backend, origin)}
</body></html>`;
}

/** The settings of `backendAttributes` as `window.ChatWidget.config` takes them: the attribute
 * names camel-cased, as the loader copies them from `dataset`. */
export const backendConfig = (backend, origin = backendOrigin(backend)) => Object.fromEntries(
  [...backendAttributes(backend, origin).matchAll(/data-([a-z-]+)="([^"]*)"/g)]
    .map(([, name, value]) => [name.replace(/-([a-z])/g, (_, c) => c.toUpperCase()), value]));

/** The README's after-load snippet: the loader's tag is added once the page has loaded, with
 * the settings in `ChatWidget.config`, so nothing of the widget is fetched before `load`. */
export const afterLoadSnippet = (backend, origin = backendOrigin(backend)) => `<script>
  window.ChatWidget = window.ChatWidget || { q: [] };
  window.ChatWidget.config = ${JSON.stringify({ backend, ...backendConfig(backend, origin), locale: "en" })};
  (function () {
    function add() {
      var s = document.createElement("script");
      s.src = "chat-widget.js";
      document.body.appendChild(s);
    }
    if (document.readyState === "complete") add();
    else addEventListener("load", add);
  })();
</script>`;

/** A timing probe for host pages: `window.__bench` gets when the page's load event fired, the
 * first click, and when the loader's placeholder and the bundle's own launcher were added. */
export const timingProbe = `<script>
window.__bench = {};
addEventListener("load", function () { __bench.load = performance.now(); });
document.addEventListener("click", function () { if (!__bench.click) __bench.click = performance.now(); }, true);
new MutationObserver(function (ms) { ms.forEach(function (m) { m.addedNodes.forEach(function (n) {
  if (n.nodeName !== "CHAT-WIDGET-ROOT") return;
  var k = n.hasAttribute("data-chat-widget-loader") ? "placeholder" : "mounted";
  if (!__bench[k]) __bench[k] = performance.now();
}); }); }).observe(document.documentElement, { childList: true, subtree: true });
</script>`;
