// The demo as a newcomer uses it: scripts/demo (trunk serve + the reference backends), the demo
// page and the agent console side by side. For a minute the visitor and the agent (through the
// console) exchange messages while the backends log every step; the demo page must never
// navigate or reload (trunk used to reload it for every log line the backends wrote). Then the
// console is driven against each backend once, and both pages are screenshotted.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { chromium } from "../../tools/node_modules/playwright-core/index.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const out = path.join(root, "test-output");
const port = Number(process.env.DEMO_TEST_PORT || 8090);
const demoUrl = `http://127.0.0.1:${port}`;
const CHAT_SECONDS = Number(process.env.DEMO_CHAT_SECONDS || 60);

let demo;
let browser;
after(async () => {
  if (browser) await browser.close();
  if (demo) {
    try { process.kill(-demo.pid, "SIGTERM"); } catch {}
    await new Promise((r) => setTimeout(r, 2000));
    try { process.kill(-demo.pid, "SIGKILL"); } catch {}
  }
});

async function waitForDemo(ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const res = await fetch(`${demoUrl}/console/`);
      const home = await fetch(`${demoUrl}/`);
      if (res.ok && home.ok && (await home.text()).includes(".wasm")) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`scripts/demo did not serve ${demoUrl} within ${ms / 1000} s`);
}

const shadowText = (page) => page.evaluate(() => {
  const host = document.querySelector("chat-widget-root");
  return host && host.shadowRoot ? host.shadowRoot.textContent : "";
});

async function until(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A demo page on `backend`, counting every navigation of its main frame after the first load. */
async function demoPage(context, backend) {
  const page = await context.newPage();
  const navigations = [];
  page.on("framenavigated", (f) => { if (f === page.mainFrame()) navigations.push(f.url()); });
  await page.goto(`${demoUrl}/?backend=${backend}`);
  await page.waitForFunction(() => window.ChatWidget && typeof window.ChatWidget.open === "function", null, { timeout: 60000 });
  await page.evaluate(() => { window.__stillTheSamePage = true; ChatWidget.open(); });
  navigations.length = 0;
  return { page, navigations };
}

async function consolePage(context, backend) {
  const page = await context.newPage();
  await page.goto(`${demoUrl}/console/?backend=${backend}`);
  return page;
}

async function agentReplies(consoleP, visitorText, reply) {
  // The console lists the conversation and shows the visitor's message, then the agent answers.
  await until(`"${visitorText}" in the console`, async () =>
    (await consoleP.locator("#messages").textContent()).includes(visitorText));
  await consoleP.fill("#reply-text", reply);
  await consoleP.click("#reply button[type=submit]");
}

test("the demo page stays put for a minute of chat while the backends log; the console plays the agent for every backend", { timeout: 15 * 60 * 1000 }, async () => {
  await mkdir(out, { recursive: true });
  demo = spawn("bash", ["scripts/demo"], {
    cwd: root, detached: true, stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, PORT: String(port) },
  });
  await waitForDemo(10 * 60 * 1000);
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });

  // A minute of conversation on GMS, the agent answering from the console.
  const { page, navigations } = await demoPage(context, "gms");
  const consoleP = await consolePage(context, "gms");
  const end = Date.now() + CHAT_SECONDS * 1000;
  let n = 0;
  while (Date.now() < end) {
    const mine = `question ${n} ${Date.now()}`;
    await page.evaluate((t) => ChatWidget.sendMessage(t), mine);
    await agentReplies(consoleP, mine, `console answer ${n}`);
    await until(`console answer ${n} in the widget`, async () => (await shadowText(page)).includes(`console answer ${n}`));
    n += 1;
    await new Promise((r) => setTimeout(r, 2000));
  }
  assert.ok(n >= 5, `only ${n} exchanges in a minute`);
  assert.deepEqual(navigations, [], "the demo page navigated or reloaded during the chat");
  assert.equal(await page.evaluate(() => window.__stillTheSamePage), true, "the page was reloaded");
  assert.equal(await page.evaluate(() => ChatWidget.isOpen()), true, "the chat window stayed open");
  await page.screenshot({ path: path.join(out, "demo-page-gms.png") });
  await consoleP.screenshot({ path: path.join(out, "agent-console-gms.png") });

  // The console works for the other two backends: list, live messages, reply, rich message.
  for (const [backend, kind] of [["voxsig", "input_select"], ["push", "quick_replies"]]) {
    const { page: p, navigations: nav } = await demoPage(context, backend);
    const c = await consolePage(context, backend);
    const mine = `hello ${backend} ${Date.now()}`;
    await p.evaluate((t) => ChatWidget.sendMessage(t), mine);
    await agentReplies(c, mine, `console says hi on ${backend}`);
    await until(`the console's reply in the ${backend} widget`, async () => (await shadowText(p)).includes(`console says hi on ${backend}`));
    await c.click(`#rich button[data-kind=${kind}]`);
    const expected = backend === "voxsig" ? "Technical support" : "Great";
    await until(`the ${kind} in the ${backend} widget`, async () => (await shadowText(p)).includes(expected));
    if (backend === "push") {
      assert.equal(await c.locator("[data-action=typing-on]").isDisabled(), true, "Push has no typing event");
    }
    assert.deepEqual(nav, [], `the ${backend} demo page navigated`);
    await p.screenshot({ path: path.join(out, `demo-page-${backend}.png`) });
    await c.screenshot({ path: path.join(out, `agent-console-${backend}.png`) });
  }
});
