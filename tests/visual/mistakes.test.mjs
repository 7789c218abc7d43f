// Embedding mistakes real sites make: the snippet included twice, a page whose window.ChatWidget
// is something else, a visitor who leaves for another page and comes back with Back, loaded anew
// or shown from the back/forward cache (frozen while away: pagehide, then pageshow). Each must
// end with one working widget and one connection to the backend.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "../../tools/node_modules/playwright-core/index.mjs";
import { control, until, conversationWith } from "../backends/lib/helpers.mjs";
import { serveDist, launchChromium, widgetLoaded, LAUNCHER, widgetTag, BACKENDS, hostPage } from "./serve.mjs";

const tag = widgetTag("voxsig");
const page = (title, body) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title><link rel="icon" href="data:,"></head>
<body><p>${title}</p>${body}</body></html>`;
const pages = {
  "/twice.html": page("Snippet twice", `<script>window.ChatWidget = window.ChatWidget || { q: [] };</script>${tag}
    <script>window.ChatWidget = window.ChatWidget || { q: [] };</script>${tag}`),
  "/taken.html": page("ChatWidget is taken", `<script>window.ChatWidget = "the site's own value";</script>${tag}`),
  "/plain.html": page("Plain", tag),
  "/other.html": page("Another page of the site", "<p>elsewhere</p>"),
  ...Object.fromEntries(BACKENDS.map((b) => [`/${b}.html`, hostPage(b)])),
};
const { server, base } = await serveDist(pages);
const browser = await launchChromium(chromium);
after(async () => { await browser.close(); server.close(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const openConnections = async (backend = "voxsig") => (await control(backend, "/connections")).open;
/** The count once the sockets of earlier tests have finished closing (two equal reads 0.5 s apart). */
async function settledConnections(backend = "voxsig") {
  let last = await openConnections(backend);
  for (let i = 0; i < 20; i++) {
    await sleep(500);
    const now = await openConnections(backend);
    if (now === last) return now;
    last = now;
  }
  return last;
}

/** Opens the widget, sends a message and waits until the server has confirmed it. */
async function converse(p, text) {
  if (!(await p.evaluate(() => window.ChatWidget.isOpen()))) await p.locator(LAUNCHER).click();
  await p.locator("chat-widget-root .cw-input").fill(text);
  await p.keyboard.press("Enter");
  await p.locator("chat-widget-root .cw-msg-visitor:is([data-status='sent'], [data-status='delivered'], [data-status='read'])",
    { hasText: text }).waitFor({ timeout: 20000 });
}

/** Runs `fn` on a page of `path` once the widget has loaded, in a fresh context of `from`; no
 * page error may happen meanwhile. */
async function withPage(path, fn, { from = browser } = {}) {
  const context = await from.newContext({ viewport: { width: 1000, height: 720 } });
  // Whether a page was shown from the back/forward cache (pageshow.persisted) or loaded anew.
  await context.addInitScript(() => addEventListener("pageshow", (e) => { window.__fromBfcache = e.persisted; }));
  const errors = [];
  try {
    const p = await context.newPage();
    p.on("pageerror", (e) => errors.push(e.message));
    await p.goto(`${base}${path}`);
    await widgetLoaded(p);
    await fn(p);
    assert.deepEqual(errors, [], "no page errors");
  } finally {
    await context.close();
  }
}

test("the snippet included twice gives one widget and one connection", async () => {
  const before = await settledConnections();
  await withPage("/twice.html", async (p) => {
    await converse(p, `twice ${Date.now()}`);
    assert.equal(await p.locator("chat-widget-root").count(), 1, "one widget element");
    assert.equal(await p.locator(LAUNCHER).count(), 1, "one launcher");
    await until(async () => (await openConnections()) - before === 1, 10000, "one connection");
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await openConnections()) - before, 1, "still one connection");
  });
});

test("a page whose window.ChatWidget is something else still gets a working widget", async () => {
  await withPage("/taken.html", async (p) => {
    await converse(p, `taken ${Date.now()}`);
    assert.equal(await p.locator("chat-widget-root").count(), 1);
  });
});

test("leaving for another page and coming back with Back keeps one widget and one connection", async () => {
  const before = await settledConnections();
  await withPage("/plain.html", async (p) => {
    await converse(p, `before leaving ${Date.now()}`);
    await p.goto(`${base}/other.html`);
    await p.goBack();
    await widgetLoaded(p);
    // Playwright's browser has the back/forward cache off: this is the page loaded anew (the
    // cache is tested below).
    console.log(`# Back: ${(await p.evaluate(() => window.__fromBfcache)) ? "restored from the back/forward cache" : "loaded anew"}`);
    const text = `after coming back ${Date.now()}`;
    await converse(p, text);
    assert.equal(await p.locator("chat-widget-root").count(), 1, "one widget element");
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await openConnections()) - before, 1, "one connection after coming back");
    const received = (await control("voxsig", "/received")).filter((m) => m.content === text);
    assert.equal(received.length, 1, "the message after coming back reached the server once");
  });
});

// The back/forward cache: the visitor leaves and comes back with Back, and Chromium shows the
// page from the cache, frozen while away (no timers, no sockets: pagehide, then pageshow with
// persisted). Away longer than every heartbeat and session timeout on the servers' side (Push's
// 20 s pingTimeout, CometD's 10 s maxInterval, Voxsig's 6 s stale threshold), so whatever the page
// had may be gone when it is shown again, and it must notice at once rather than wait for its own
// timers. Not much longer: at 30 s or more Chromium evicted these pages ("JavaScriptExecution",
// measured 2026-12-07), and the page then loads anew, which the test above covers.
const AWAY_MS = Number(process.env.AWAY_MS || 25000);
const cachingBrowser = await launchChromium(chromium, { bfcache: true });
after(() => cachingBrowser.close());
for (const backend of BACKENDS) {
  test(`${backend}: ${AWAY_MS / 1000} s in the back/forward cache, then Back: what the agent said meanwhile is shown, one connection`, { timeout: AWAY_MS + 120000 }, async () => {
    const before = await settledConnections(backend);
    await withPage(`/${backend}.html`, async (p) => {
      const first = `before leaving ${backend} ${Date.now()}`;
      await converse(p, first);
      const opened = (await control(backend, "/connections")).opened;
      await p.goto(`${base}/other.html`);
      await sleep(1000);
      const said = `said while away ${backend} ${Date.now()}`;
      await control(backend, "/agent/say", { text: said });
      await sleep(AWAY_MS - 1000);
      const whileAway = (await control(backend, "/connections")).open - before;
      const back = Date.now();
      // A page from the cache fires no load event: wait for the navigation only.
      await p.goBack({ waitUntil: "commit" });
      await p.waitForFunction(() => window.__fromBfcache !== undefined, null, { timeout: 10000 });
      const why = await p.evaluate(() => JSON.stringify(performance.getEntriesByType("navigation")[0].notRestoredReasons));
      assert.equal(await p.evaluate(() => window.__fromBfcache), true, `the page came from the back/forward cache (not restored: ${why})`);
      // Push keeps no mailbox: Chromium closed the cached page's socket, and what is published
      // while none is subscribed is lost (README). The widget must subscribe again: the agent
      // says something each second until the server publishes it to a subscriber, and that one
      // must be shown.
      let awaited = said;
      if (backend === "push") {
        const urn = (await conversationWith("push", first)).id;
        awaited = await until(async () => {
          const text = `said after coming back ${Date.now()}`;
          await control("push", "/agent/say", { text, urn });
          await sleep(1000);
          const published = (await control("push", "/published")).find((x) => x.text === text && x.urn === urn);
          return published && published.subscribers > 0 && text;
        }, 20000, "a subscriber on the page's channel again");
      }
      await p.locator("chat-widget-root .cw-msg-agent", { hasText: awaited }).waitFor({ timeout: 30000 });
      const caughtUpMs = Date.now() - back;
      const text = `after coming back ${backend} ${Date.now()}`;
      await converse(p, text);
      assert.equal(await p.locator("chat-widget-root").count(), 1, "one widget element");
      const saidShown = await p.locator("chat-widget-root .cw-msg-agent", { hasText: said }).count();
      if (backend === "push") assert.ok(saidShown <= 1, "the message said while away shown at most once");
      else assert.equal(saidShown, 1, "the message said while away shown once");
      const open = (await settledConnections(backend)) - before;
      const reopened = opened === undefined ? "" : `, ${(await control(backend, "/connections")).opened - opened} socket(s) opened since`;
      console.log(`# ${backend}: back from the cache after ${AWAY_MS} ms (${whileAway} connection(s) held at the end of it); ` +
        `the agent's message shown ${caughtUpMs} ms after Back${backend === "push" ? ` (the one said while away: ${saidShown ? "shown" : "lost"})` : ""}; ${open} connection(s)${reopened}`);
      assert.equal(open, 1, "one connection after coming back");
    }, { from: cachingBrowser });
  });
}
