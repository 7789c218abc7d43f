// Embedding mistakes real sites make: the snippet included twice, a page whose window.ChatWidget
// is something else, and a visitor who leaves for another page and comes back with Back. Each must
// end with one working widget and one connection to the backend.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "../../tools/node_modules/playwright-core/index.mjs";
import { control, until } from "../backends/lib/helpers.mjs";
import { serveDist, launchChromium, widgetLoaded, LAUNCHER, widgetTag } from "./serve.mjs";

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
};
const { server, base } = await serveDist(pages);
const browser = await launchChromium(chromium);
after(async () => { await browser.close(); server.close(); });

const openConnections = async () => (await control("voxsig", "/connections")).open;
/** The count once the sockets of earlier tests have finished closing (two equal reads 0.5 s apart). */
async function settledConnections() {
  let last = await openConnections();
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await openConnections();
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

async function withPage(path, fn) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
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
    const text = `after coming back ${Date.now()}`;
    await converse(p, text);
    assert.equal(await p.locator("chat-widget-root").count(), 1, "one widget element");
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await openConnections()) - before, 1, "one connection after coming back");
    const received = (await control("voxsig", "/received")).filter((m) => m.content === text);
    assert.equal(received.length, 1, "the message after coming back reached the server once");
  });
});
