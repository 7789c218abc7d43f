// Secrets and isolation, per backend, in the release bundle: a visitor chats, the agent answers,
// the page is reloaded (the session comes back from storage) and the visitor writes again. The
// session's tokens — Voxsig's `pubsub_token` and `source_id`, GMS's `secureKey`, Push's urn —
// are taken from what the backend itself answered (HTTP bodies and WebSocket frames) and then
// looked for where they must never be: the console, the `chatwidget:*` event details, the host
// page's DOM and the widget's shadow DOM, any request to an origin other than the backend, and
// another backend's stored session. Every request and socket the browser made must go to the
// site itself or to the configured backend.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "../../tools/node_modules/playwright-core/index.mjs";
import { control, until, conversationWith } from "../backends/lib/helpers.mjs";
import { serveDist, launchChromium, widgetLoaded, LAUNCHER, BACKENDS, hostPage, backendOrigin } from "./serve.mjs";

/** The fields whose values are a session's credentials, per backend. */
const SECRET_FIELDS = { voxsig: ["pubsub_token", "source_id"], gms: ["secureKey"], push: ["urn"] };
const EVENTS = ["chatwidget:ready", "chatwidget:open", "chatwidget:close", "chatwidget:message", "chatwidget:error"];

const pages = Object.fromEntries(BACKENDS.map((b) => [`/${b}.html`, hostPage(b, { title: `Secrets (${b})` })]));
const { server, base } = await serveDist(pages);
const browser = await launchChromium(chromium);
// One context for all three backends: one site, one localStorage, three sessions side by side.
const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
after(async () => {
  await context.close();
  await browser.close();
  server.close();
});

/** Every string value of `fields` anywhere in `value`, looking inside strings that hold JSON
 * too (Push answers `registerUser` with its urn as a JSON string in the error slot). */
function secretsIn(value, fields, found = new Set()) {
  if (typeof value === "string") {
    const t = value.trim();
    if (t.startsWith("{") || t.startsWith("[")) {
      try { secretsIn(JSON.parse(t), fields, found); } catch { /* not JSON after all */ }
    }
  } else if (Array.isArray(value)) {
    for (const v of value) secretsIn(v, fields, found);
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (fields.includes(k) && typeof v === "string" && v.length >= 4) found.add(v);
      else secretsIn(v, fields, found);
    }
  }
  return found;
}

const tokens = {}; // backend → the tokens its server handed out

for (const backend of BACKENDS) {
  test(`${backend}: the session's tokens stay between the widget, its storage and the backend`, { timeout: 120000 }, async () => {
    const fields = SECRET_FIELDS[backend];
    const backendHost = new URL(backendOrigin(backend)).host;
    const siteHost = new URL(base).host;
    const page = await context.newPage();
    const consoleTexts = [];
    const events = [];
    const requests = []; // {url, body}
    const sockets = []; // urls
    const found = new Set();
    const look = (text) => { for (const s of secretsIn(text, fields)) found.add(s); };
    await page.exposeFunction("__recordWidgetEvent", (name, detail) => events.push({ name, detail }));
    await page.addInitScript((names) => {
      for (const name of names) {
        window.addEventListener(name, (e) => {
          let detail;
          try { detail = JSON.stringify(e.detail); } catch { detail = String(e.detail); }
          window.__recordWidgetEvent(name, detail);
        });
      }
    }, EVENTS);
    page.on("console", (m) => consoleTexts.push(`${m.type()}: ${m.text()} ${m.location().url}`));
    page.on("pageerror", (e) => consoleTexts.push(`pageerror: ${e.message}`));
    page.on("request", (r) => requests.push({ url: r.url(), body: r.postData() || "" }));
    page.on("response", async (r) => {
      if (new URL(r.url()).host !== backendHost) return;
      try { look(await r.text()); } catch { /* a body that is gone (redirect, aborted) */ }
    });
    page.on("websocket", (ws) => {
      sockets.push(ws.url());
      ws.on("framereceived", (f) => typeof f.payload === "string" && look(f.payload));
    });

    const input = page.locator("chat-widget-root .cw-input");
    const write = async (text) => {
      await input.fill(text);
      await page.keyboard.press("Enter");
      await page.locator("chat-widget-root .cw-msg-visitor", { hasText: text })
        .and(page.locator("[data-status=sent], [data-status=delivered], [data-status=read]")).waitFor({ timeout: 20000 });
    };
    const nonce = Date.now().toString(36);
    const first = `${backend} secrets ${nonce} one`;
    await page.goto(`${base}/${backend}.html`);
    await widgetLoaded(page);
    await page.locator(LAUNCHER).click();
    await write(first);
    const conversation = await until(() => conversationWith(backend, first), 20000, "the conversation on the server");
    const reply = `${backend} secrets ${nonce} agent`;
    await control(backend, "/agent/say", { text: reply, conversation_id: conversation.id });
    await page.locator("chat-widget-root .cw-msg-agent", { hasText: reply }).waitFor({ timeout: 20000 });

    await page.reload();
    await widgetLoaded(page);
    if (!(await page.evaluate(() => window.ChatWidget.isOpen()))) await page.locator(LAUNCHER).click();
    await page.locator("chat-widget-root .cw-msg-agent", { hasText: reply }).waitFor({ timeout: 20000 });
    const second = `${backend} secrets ${nonce} two`;
    await write(second);
    // The reload must have resumed the same session: the second message is in the same conversation.
    await until(async () => (await conversationWith(backend, second))?.id === conversation.id, 20000,
      "the second message in the same conversation");

    const secrets = [...found];
    assert.ok(secrets.length >= 1, `the backend handed out ${fields.join(", ")} (found ${secrets.length})`);
    tokens[backend] = secrets;

    // Where the browser went: the site and the backend, nothing else.
    for (const r of requests) {
      const host = new URL(r.url).host;
      assert.ok(host === siteHost || host === backendHost, `a request only to the site or the backend: ${r.url}`);
    }
    for (const url of sockets) assert.equal(new URL(url).host, backendHost, `a socket only to the backend: ${url}`);
    assert.ok(sockets.length >= 1 || backend === "gms", "the widget opened a socket");

    const storage = await page.evaluate(() => Object.fromEntries(Object.entries(localStorage)));
    const key = Object.keys(storage).find((k) => k.startsWith(`chat-widget:${backend}:`));
    const dom = await page.evaluate(() => {
      const root = document.querySelector("chat-widget-root:not([data-chat-widget-loader])");
      return document.documentElement.outerHTML + (root && root.shadowRoot ? root.shadowRoot.innerHTML : "");
    });
    for (const secret of secrets) {
      const where = (xs) => xs.filter((x) => x.includes(secret));
      assert.deepEqual(where(consoleTexts), [], `a token is never written to the console`);
      assert.deepEqual(where(events.map((e) => `${e.name} ${e.detail}`)), [], `a token is never in a chatwidget:* event`);
      assert.ok(!dom.includes(secret), "a token is never in the page's or the widget's DOM");
      assert.deepEqual(where(requests.filter((r) => new URL(r.url).host !== backendHost).map((r) => r.url + r.body)), [],
        "a token is never sent to the site");
      // Stored, under this backend's own key only.
      const holders = Object.keys(storage).filter((k) => storage[k].includes(secret));
      assert.ok(holders.length >= 1, "the session is stored (a reload resumes it)");
      for (const k of holders) assert.ok(k.startsWith(`chat-widget:${backend}:`), `a token is stored under its backend's key only: ${k}`);
    }
    // The tokens of backends that ran before are not in this one's key or traffic.
    for (const [other, theirs] of Object.entries(tokens)) {
      if (other === backend) continue;
      for (const secret of theirs) {
        assert.ok(!requests.some((r) => (r.url + r.body).includes(secret)), `${other}'s token is never sent to ${backend}`);
        assert.ok(!key || !storage[key].includes(secret), `${other}'s token is not in ${backend}'s stored session`);
      }
    }
    assert.ok(key && key.includes(backendHost), `the stored session's key names the backend's address: ${key}`);
    await page.close();
  });
}
