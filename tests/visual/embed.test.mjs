// The widget as a website gets it: dist/ served by a static server, a host page with a hostile
// stylesheet and the two-tag snippet pointed at the local Voxsig reference backend. A short
// conversation, then axe-core inside the shadow root (no serious or critical violations), and
// a screenshot of the open widget in test-output/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { chromium } from "../../tools/node_modules/playwright-core/index.mjs";
import { serveDist, launchChromium, widgetLoaded, LAUNCHER, widgetTag, afterLoadSnippet, timingProbe } from "./serve.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const out = path.join(root, "test-output");
const voxsig = `http://127.0.0.1:${process.env.VOXSIG_PORT || 3101}`;

const hostPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hostile host page</title>
<link rel="icon" href="data:,">
<style>
  * { all: unset !important; }
  div, section, button, chat-widget-root { display: none !important; visibility: hidden !important; }
  [data-chat-widget] { opacity: 0 !important; transform: scale(0) !important; }
  body { font-size: 40px !important; }
</style></head>
<body><p>A website whose CSS tries to break everything.</p>
<script>window.ChatWidget = window.ChatWidget || { q: [] };</script>
<script async src="chat-widget.js" data-backend="voxsig" data-voxsig-url="${voxsig}" data-voxsig-inbox="demo-inbox" data-locale="en"></script>
</body></html>`;

test("embedded from dist/ on a hostile page: converses, passes axe, looks right", async () => {
  const { server, base } = await serveDist({ "/": hostPage, "/hostile.html": hostPage });
  const browser = await launchChromium(chromium);
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/hostile.html`);
    await widgetLoaded(page, 15000);
    const launcher = page.locator(LAUNCHER);
    const box = await launcher.boundingBox();
    assert.ok(box && box.width >= 40 && box.x + box.width <= 1100, `launcher visible on screen: ${JSON.stringify(box)}`);

    await launcher.click();
    const input = page.locator("chat-widget-root .cw-input");
    await input.fill("Hi, is my order on its way?");
    await page.keyboard.press("Enter");
    await page.locator("chat-widget-root .cw-msg-agent", { hasText: "You said: Hi, is my order on its way?" }).waitFor({ timeout: 15000 });
    // Confirmed by the server. Not 'read': real Chatwoot records the agent's reading with
    // update_column and broadcasts nothing (CW app/controllers/concerns/seen_status_concern.rb),
    // so a contact's own message never turns read on the widget.
    await page.locator("chat-widget-root .cw-msg-visitor:is([data-status='sent'], [data-status='delivered'], [data-status='read'])").waitFor({ timeout: 15000 });

    await page.addScriptTag({ path: path.join(root, "tools/node_modules/axe-core/axe.min.js") });
    for (const colorScheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme });
      const results = await page.evaluate(async () =>
        window.axe.run({ include: [{ fromShadowDom: ["chat-widget-root", ".cw"] }] }, { resultTypes: ["violations"] }));
      const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      for (const v of bad) for (const n of v.nodes) console.error(colorScheme, v.id, JSON.stringify(n.target), n.failureSummary);
      assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`), [], `no serious or critical axe violations (${colorScheme})`);
    }
    await page.emulateMedia({ colorScheme: "light" });

    await mkdir(out, { recursive: true });
    await page.screenshot({ path: path.join(out, "embed-hostile-page-open.png") });
    assert.deepEqual(errors, [], "no page errors");
  } finally {
    await browser.close();
    server.close();
  }
});

test("the loader draws the launcher before the bundle, and a click made while the bundle loads opens the window", async () => {
  const { server, base } = await serveDist({ "/slow.html": hostPage });
  const browser = await launchChromium(chromium);
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    // The wasm takes two seconds to arrive, as on a slow network.
    let wasmRequested = 0;
    await page.route(/\.wasm$/, async (route) => {
      wasmRequested = Date.now();
      await new Promise((r) => setTimeout(r, 2000));
      await route.continue();
    });
    await page.goto(`${base}/slow.html`);
    const placeholder = page.locator("chat-widget-root[data-chat-widget-loader] .cw-launcher");
    await placeholder.waitFor({ state: "visible", timeout: 5000 });
    const box = await placeholder.boundingBox();
    assert.ok(box && box.width >= 40 && box.x + box.width <= 1100, `placeholder launcher on screen: ${JSON.stringify(box)}`);
    assert.equal(await page.evaluate(() => typeof window.ChatWidget.version), "undefined", "the bundle is not there yet");
    await placeholder.click();
    assert.ok(wasmRequested > 0, "the bundle is on its way by the time of the click");
    // The click is not lost: the window opens as soon as the bundle runs.
    await page.locator("chat-widget-root .cw-input").waitFor({ state: "visible", timeout: 15000 });
    assert.equal(await page.locator("chat-widget-root[data-chat-widget-loader]").count(), 0, "the placeholder is gone");
    assert.equal(await page.locator("chat-widget-root").count(), 1, "one widget on the page");
    assert.equal(await page.evaluate(() => window.ChatWidget.isOpen()), true);
    assert.deepEqual(errors, [], "no page errors");
  } finally {
    await browser.close();
    server.close();
  }
});

test("the launcher is drawn after the page's load, and before it when the load is slow", async () => {
  const page = (img, queued = "") => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title><link rel="icon" href="data:,">${timingProbe}</head>
<body><p>A shop.</p>${img ? '<img src="slow.png" alt="">' : ""}${queued}${widgetTag("voxsig")}</body></html>`;
  // A call queued before the tag: the bundle is fetched at once, before the launcher is drawn.
  const queued = `<script>window.ChatWidget = { q: [["setLocale", "en"]] };</script>`;
  const { server, base } = await serveDist({ "/fast.html": page(false), "/heavy.html": page(true), "/queued.html": page(false, queued) });
  const browser = await launchChromium(chromium);
  try {
    const tab = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    // Held back until the bundle is there, so that the loader's own launcher can be seen.
    await tab.route(/\.wasm$/, async (route) => { await new Promise((r) => setTimeout(r, 1500)); await route.continue(); });
    await tab.goto(`${base}/fast.html`);
    await tab.waitForFunction(() => window.__bench.placeholder, null, { timeout: 10000 });
    const fast = await tab.evaluate(() => window.__bench);
    assert.ok(fast.load && fast.placeholder >= fast.load, `drawn after load: ${JSON.stringify(fast)}`);
    await widgetLoaded(tab, 15000);

    // Drawn while the bundle is already on its way: the launcher says it is busy.
    await tab.goto(`${base}/queued.html`);
    const busy = tab.locator("chat-widget-root[data-chat-widget-loader] .cw-launcher");
    await busy.waitFor({ timeout: 10000 });
    assert.equal(await busy.getAttribute("aria-busy"), "true", "the launcher drawn while the bundle loads is busy");
    await widgetLoaded(tab, 15000);

    // An image that takes 6 s holds the page's load: the launcher does not wait for it.
    await tab.route(/slow\.png$/, async (route) => { await new Promise((r) => setTimeout(r, 6000)); await route.fulfill({ status: 404 }); });
    await tab.goto(`${base}/heavy.html`, { waitUntil: "commit" });
    await tab.waitForFunction(() => window.__bench && window.__bench.placeholder, null, { timeout: 10000 });
    const heavy = await tab.evaluate(() => window.__bench);
    assert.ok(!heavy.load && heavy.placeholder < 4000, `drawn before a slow load: ${JSON.stringify(heavy)}`);
    await tab.locator("chat-widget-root[data-chat-widget-loader] .cw-launcher").click();
    await tab.locator("chat-widget-root .cw-input").waitFor({ state: "visible", timeout: 15000 });
  } finally {
    await browser.close();
    server.close();
  }
});

test("the after-load snippet: nothing of the widget is fetched before the page's load, then it converses", async () => {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title><link rel="icon" href="data:,">${timingProbe}</head>
<body><p>A shop.</p>${afterLoadSnippet("voxsig")}</body></html>`;
  const { server, base } = await serveDist({ "/snippet.html": html });
  const browser = await launchChromium(chromium);
  try {
    const tab = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    const errors = [];
    tab.on("pageerror", (e) => errors.push(e.message));
    await tab.goto(`${base}/snippet.html`);
    await widgetLoaded(tab, 15000);
    const { marks, fetched } = await tab.evaluate(() => ({
      marks: window.__bench,
      fetched: performance.getEntriesByType("resource").filter((e) => /chat-widget/.test(e.name))
        .map((e) => ({ name: e.name.replace(/.*\//, ""), start: e.startTime })),
    }));
    assert.ok(marks.placeholder >= marks.load, `drawn after load: ${JSON.stringify(marks)}`);
    assert.ok(fetched.some((f) => f.name.endsWith(".wasm")), `the bundle was fetched: ${JSON.stringify(fetched)}`);
    assert.deepEqual(fetched.filter((f) => f.start < marks.load), [], `nothing of the widget fetched before load (${marks.load} ms)`);
    await tab.locator(LAUNCHER).click();
    await tab.locator("chat-widget-root .cw-input").fill("Sent from the after-load snippet");
    await tab.keyboard.press("Enter");
    await tab.locator("chat-widget-root .cw-msg-agent", { hasText: "You said: Sent from the after-load snippet" }).waitFor({ timeout: 15000 });
    assert.deepEqual(errors, [], "no page errors");
  } finally {
    await browser.close();
    server.close();
  }
});
