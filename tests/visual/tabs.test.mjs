// One conversation, one connection per browser: the release bundle from dist/ on a host page,
// opened in several real tabs of one Chromium context against each reference backend.
// Three tabs hold one connection (control API GET /_control/connections); a message typed in
// each tab reaches the server once and shows in all three; the agent's reply and typing show in
// all three; closing the leader tab right after it sent a message hands the conversation to
// another tab and the message arrives once (Push: once or twice, the window every Push client
// has); two tabs opened at the same instant by a new visitor make one conversation. Without Web Locks (removed by an init script) every tab runs
// its own connection, as before: the fallback, measured too.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "../../tools/node_modules/playwright-core/index.mjs";
import { control, until as poll } from "../backends/lib/helpers.mjs";
import { serveDist, launchChromium, widgetLoaded, BACKENDS, hostPage, shownMessages } from "./serve.mjs";

const typingEvents = { voxsig: true, gms: true, push: false }; // Push has no typing event.


const pages = Object.fromEntries(BACKENDS.map((b) => [`/${b}.html`, hostPage(b)]));
const { server, base } = await serveDist(pages);
const browser = await launchChromium(chromium);
after(async () => { await browser.close(); server.close(); });

const openConnections = async (backend) => (await control(backend, "/connections")).open;
const receivedCount = async (backend, text) =>
  (await control(backend, "/received")).filter((r) => (r.content ?? r.text ?? r.message ?? "") === text).length;

const until = (what, fn, ms = 20000) => poll(fn, ms, what);

/** A tab on the backend's host page, with its errors collected. */
async function openTab(context, backend, errors) {
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(`${backend}: ${e.message}`));
  if (process.env.TABS_DEBUG) page.on("console", (m) => console.log(`[${backend} tab] ${m.type()}: ${m.text()}`));
  await page.goto(`${base}/${backend}.html`);
  await widgetLoaded(page);
  return page;
}

/** Whether `text` shows once in the tab, and — for the visitor's — as accepted by the server. */
const showsOnce = async (page, text, { sent = false } = {}) => {
  const hits = (await shownMessages(page)).filter((m) => m.text === text);
  return hits.length === 1 && (!sent || ["sent", "delivered", "read"].includes(hits[0].status));
};
async function everywhere(tabs, what, fn, ms) {
  try {
    await until(what, async () => {
      for (const t of tabs) if (!(await fn(t))) return false;
      return true;
    }, ms);
  } catch (e) {
    for (const [i, t] of tabs.entries()) {
      if (!t.isClosed()) console.error(`tab ${i} shows:`, JSON.stringify((await shownMessages(t)).slice(-6)));
    }
    throw e;
  }
}

async function send(page, text) {
  if (!(await page.evaluate(() => window.ChatWidget.isOpen()))) {
    await page.locator("chat-widget-root .cw-launcher").click();
  }
  await page.locator("chat-widget-root .cw-input").fill(text);
  await page.keyboard.press("Enter");
}

for (const backend of ["voxsig", "gms", "push"]) {
  test(`${backend}: three tabs share one connection; nothing lost or doubled, even when the leader closes`, async () => {
    const errors = [];
    const nonce = `${backend}-${Date.now().toString(36)}`;
    const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
    try {
      const before = await openConnections(backend);
      const tabs = [];
      for (let i = 0; i < 3; i++) tabs.push(await openTab(context, backend, errors));
      const [a, b, c] = tabs;

      // The conversation starts in one tab; every tab shows each message once, sent.
      for (const [i, tab] of tabs.entries()) {
        const text = `tab ${i} says hi ${nonce}`;
        await send(tab, text);
        await everywhere(tabs, `"${text}" sent in every tab`, (t) => showsOnce(t, text, { sent: true }));
      }
      await until("one connection for three tabs", async () => (await openConnections(backend)) - before === 1);
      for (let i = 0; i < 3; i++) {
        assert.equal(await receivedCount(backend, `tab ${i} says hi ${nonce}`), 1, `tab ${i}'s message reached the server once`);
      }

      // The agent's typing and reply reach every tab.
      if (typingEvents[backend]) {
        await control(backend, "/agent/typing", { on: true });
        await everywhere(tabs, "agent typing in every tab", (t) => t.locator("chat-widget-root .cw-typing").isVisible());
      }
      const reply = `agent answers ${nonce}`;
      await control(backend, "/agent/say", { text: reply });
      await everywhere(tabs, "the agent's reply in every tab", (t) => showsOnce(t, reply));

      // The leader (the first tab) sends and closes at once: another tab takes over and the
      // message arrives once.
      const inFlight = `sent as the leader closed ${nonce}`;
      await send(a, inFlight);
      await a.close();
      await everywhere([b, c], `"${inFlight}" sent after the hand-over`, (t) => showsOnce(t, inFlight, { sent: true }), 30000);
      await until("one connection after the hand-over", async () => (await openConnections(backend)) - before === 1);
      await new Promise((r) => setTimeout(r, 1500)); // A second copy would have arrived by now.
      const copies = await receivedCount(backend, inFlight);
      if (backend === "push") {
        // Push never confirms a send; the closed tab's socket may or may not have carried the
        // message before it went, and no client can tell: the new leader sends it again, as
        // after a reload in that window (README, Push guarantees). Never lost, at most twice.
        assert.ok(copies === 1 || copies === 2, `the in-flight message reached Push once or twice, not ${copies} times`);
        console.log(`# push: in-flight message at the hand-over reached the server ${copies} time(s)`);
      } else {
        assert.equal(copies, 1, "the in-flight message reached the server once");
      }

      // A follower's message after the hand-over still goes through the new leader, once.
      const late = `after the hand-over ${nonce}`;
      await send(c, late);
      await everywhere([b, c], `"${late}" sent in both tabs`, (t) => showsOnce(t, late, { sent: true }));
      assert.equal(await receivedCount(backend, late), 1);
      assert.deepEqual(errors, [], "no page errors");
    } finally {
      await context.close();
    }
  });

  test(`${backend}: a new visitor opening two tabs at the same instant gets one conversation`, async () => {
    const errors = [];
    const nonce = `${backend}-twin-${Date.now().toString(36)}`;
    const context = await browser.newContext();
    try {
      const [a, b] = await Promise.all([openTab(context, backend, errors), openTab(context, backend, errors)]);
      await Promise.all([send(a, `first ${nonce}`), send(b, `second ${nonce}`)]);
      await everywhere([a, b], "both messages in both tabs", async (t) =>
        (await showsOnce(t, `first ${nonce}`, { sent: true })) && (await showsOnce(t, `second ${nonce}`, { sent: true })));
      const conversations = (await control(backend, "/conversations")).conversations
        .filter((cv) => cv.messages.some((m) => String(m.text).includes(nonce)));
      assert.equal(conversations.length, 1, `one conversation holds both messages: ${JSON.stringify(conversations.map((cv) => cv.id))}`);
      assert.deepEqual(errors, [], "no page errors");
    } finally {
      await context.close();
    }
  });
}

test("without Web Locks every tab keeps its own connection (the fallback) and still converses", async () => {
  const errors = [];
  const nonce = `fallback-${Date.now().toString(36)}`;
  const context = await browser.newContext();
  await context.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined, configurable: true });
  });
  try {
    const before = await openConnections("voxsig");
    const tabs = [];
    for (let i = 0; i < 3; i++) tabs.push(await openTab(context, "voxsig", errors));
    await send(tabs[0], `first ${nonce}`);
    await until("the first tab's message sent", () => showsOnce(tabs[0], `first ${nonce}`, { sent: true }));
    for (const t of tabs.slice(1)) await t.locator("chat-widget-root .cw-launcher").click();
    await until("one connection per tab", async () => (await openConnections("voxsig")) - before === 3);
    await send(tabs[2], `third ${nonce}`);
    await until("the third tab's message sent", () => showsOnce(tabs[2], `third ${nonce}`, { sent: true }));
    assert.equal(await receivedCount("voxsig", `third ${nonce}`), 1);
    assert.deepEqual(errors, [], "no page errors");
  } finally {
    await context.close();
  }
});
