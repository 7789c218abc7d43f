// Hostile content from the agent side, per backend, in the release bundle: markup, event
// handlers, script URLs, SVG, entity-encoded and markdown-link tricks, bidi overrides and
// zero-width characters, a 1 MB message; on Push also hostile quick replies (100 of them, of
// which the widget shows the first 20) and attachment URLs. Every payload tries to set
// window.__pwned. Checks: nothing executed, only allow-listed elements in the shadow root, no
// on* attributes, every link http(s) with rel="noopener noreferrer", every image http(s) with
// no referrer, the text shown literally, and the composer still answers and sends afterwards.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "../../tools/node_modules/playwright-core/index.mjs";
import { control } from "../backends/lib/helpers.mjs";
import { serveDist, launchChromium, widgetLoaded, LAUNCHER, BACKENDS, hostPage } from "./serve.mjs";


const PWN = "window.__pwned=(window.__pwned||0)+1";
const payloads = [
  `<script>${PWN}</script>`,
  `<img src=x onerror="${PWN}">`,
  `<svg onload="${PWN}"><circle r=10 /></svg>`,
  `<iframe src="javascript:${PWN}"></iframe>`,
  `javascript:${PWN}`,
  `[click me](javascript:${PWN})`,
  `data:text/html,<script>${PWN}</script>`,
  `vbscript:msgbox(1)`,
  `&lt;img src=x onerror=${PWN}&gt; &#60;script&#62;${PWN}&#60;/script&#62;`,
  `<a href="javascript:${PWN}">link</a> <style>*{display:none}</style>`,
  `https://example.com/"onmouseover="${PWN}`,
  `Agent\u202Egnp.exe\u200B\u200D\uFEFF name`,
  `<math><mi xlink:href="javascript:${PWN}">x</mi></math>`,
];
const HOSTILE = `<img src=x onerror="${PWN}">`;
/** Voxsig: every other field an agent or a bot fills (POST /_control/agent/raw), each with markup
 * that must show as text and URLs that must not become links or images. `shows` is text the
 * widget must show as typed. */
const voxsigFields = [
  { body: { content: "hostile sender", sender: { name: `${HOSTILE}\u202Eevil\u200B`, available_name: `${HOSTILE}agent`, avatar_url: `javascript:${PWN}`, thumbnail: `javascript:${PWN}` } } },
  { body: { bot: true, sender: { name: `<svg onload="${PWN}">bot`, avatar_url: `data:image/svg+xml,<svg onload="${PWN}"/>` }, content_type: "cards", content: "hostile cards",
    content_attributes: { items: [{ media_url: `javascript:${PWN}`, title: `<script>${PWN}</script>card`, description: `${HOSTILE}description`,
      actions: [{ type: "link", text: `${HOSTILE}link`, uri: `javascript:${PWN}` }, { type: "link", text: "vb", uri: "vbscript:msgbox(1)" },
        { type: "postback", text: `<b onmouseover="${PWN}">choose</b>`, payload: HOSTILE }] }] } },
    shows: [`<script>${PWN}</script>card`, `${HOSTILE}description`] },
  { body: { bot: true, content_type: "form", content: "hostile form",
    content_attributes: { items: [{ name: `"><img src=x onerror="${PWN}">`, label: `<script>${PWN}</script>label`, type: "text", placeholder: HOSTILE, required: true },
      { name: "e", label: `${HOSTILE}email`, type: "email", placeholder: "x", required: false }] } },
    shows: [`<script>${PWN}</script>label`] },
  { body: { bot: true, content_type: "input_select", content: "hostile select", content_attributes: { items: [{ title: `<script>${PWN}</script>option`, value: HOSTILE }] } },
    shows: [`<script>${PWN}</script>option`] },
  { body: { bot: true, content_type: "article", content: "hostile articles", content_attributes: { items: [{ title: `${HOSTILE}article`, description: HOSTILE, link: `javascript:${PWN}` }] } },
    shows: [`${HOSTILE}article`] },
  { body: { content: "hostile attachments", attachments: [
    { file_type: "image", data_url: `javascript:${PWN}`, thumb_url: `javascript:${PWN}` },
    { file_type: "file", data_url: `https://example.com/"><img src=x onerror="${PWN}">.pdf` },
    { file_type: "file", data_url: `data:text/html,<script>${PWN}</script>` },
    { file_type: "video", data_url: "vbscript:msgbox(1)" }] } },
];
const ALLOWED = new Set(["div", "span", "button", "a", "img", "textarea", "form", "input", "label", "p", "ul", "li",
  "svg", "path", "circle", "time", "i", "header", "footer", "section", "h2", "strong", "br", "fieldset", "legend", "select", "option"]);

const pages = Object.fromEntries(BACKENDS.map((b) => [`/${b}.html`, hostPage(b)]));
const { server, base } = await serveDist(pages);
const browser = await launchChromium(chromium);
after(async () => { await browser.close(); server.close(); });

/** Everything in the shadow root that a hostile payload could have put there. */
const audit = (page) => page.evaluate(() => {
  const root = document.querySelector("chat-widget-root:not([data-chat-widget-loader])").shadowRoot;
  const all = [...root.querySelectorAll("*")];
  return {
    pwned: window.__pwned || 0,
    tags: [...new Set(all.map((e) => e.localName))],
    handlers: all.flatMap((e) => [...e.attributes].filter((a) => /^on/i.test(a.name)).map((a) => `${e.localName}[${a.name}]`)),
    links: [...root.querySelectorAll("a")].map((a) => ({ href: a.getAttribute("href"), rel: a.rel })),
    images: [...root.querySelectorAll("img")].map((i) => ({ src: i.getAttribute("src"), referrer: i.referrerPolicy })),
    text: root.textContent,
  };
});

for (const backend of BACKENDS) {
  test(`${backend}: hostile agent content is shown as text and executes nothing`, async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
    try {
      const page = await context.newPage();
      const errors = [];
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("dialog", (d) => { errors.push(`dialog: ${d.message()}`); d.dismiss(); });
      await page.goto(`${base}/${backend}.html`);
      await widgetLoaded(page);
      await page.locator(LAUNCHER).click();
      await page.locator("chat-widget-root .cw-input").fill(`hello from the hostile test ${backend}`);
      await page.keyboard.press("Enter");
      await page.locator("chat-widget-root .cw-msg-visitor:is([data-status='sent'], [data-status='delivered'], [data-status='read'])").waitFor({ timeout: 20000 });

      for (const text of payloads) await control(backend, "/agent/say", { text });
      if (backend === "voxsig") for (const f of voxsigFields) await control("voxsig", "/agent/raw", f.body);
      // GMS: the agent's nickname is whatever the agent desktop sends.
      if (backend === "gms") await control("gms", "/agent/say", { text: "from a hostile name", nickname: `${HOSTILE}\u202Eevil\u200B` });
      // The last one carries Push's quick replies (shown on the newest message only).
      if (backend === "push") {
        await control(backend, "/agent/say", {
          text: "payloads-end",
          quick_replies: [`<img src=x onerror="${PWN}">`, `javascript:${PWN}`, ...Array.from({ length: 98 }, (_, i) => `reply ${i}`)],
          attachments: [`javascript:${PWN}`, `data:image/svg+xml,<svg onload="${PWN}"/>`, "https://example.com/a.png", `vbscript:x`],
        });
      }
      else await control(backend, "/agent/say", { text: "payloads-end" });
      await page.locator("chat-widget-root .cw-msg-agent", { hasText: "payloads-end" }).waitFor({ timeout: 30000 });

      const seen = await audit(page);
      for (const p of payloads) {
        // Shown as typed (links are split into <a> and text, so compare the text content).
        assert.ok(seen.text.includes(p.replace(/\s+/g, " ").trim().slice(0, 12)), `payload shown as text: ${p}`);
      }
      if (backend === "voxsig") {
        for (const t of voxsigFields.flatMap((f) => f.shows || [])) assert.ok(seen.text.includes(t), `field shown as text: ${t}`);
      }
      assert.equal(seen.pwned, 0, "nothing executed");
      assert.deepEqual(seen.tags.filter((t) => !ALLOWED.has(t)), [], `only allow-listed elements: ${seen.tags}`);
      assert.deepEqual(seen.handlers, [], "no event-handler attributes");
      for (const l of seen.links) {
        assert.match(l.href, /^https?:\/\//, `link is http(s): ${l.href}`);
        assert.ok(/noopener/.test(l.rel) && /noreferrer/.test(l.rel), `link rel: ${l.rel}`);
      }
      for (const i of seen.images) {
        assert.match(i.src, /^https?:\/\//, `image is http(s): ${i.src}`);
        assert.equal(i.referrer, "no-referrer");
      }
      if (backend === "push") {
        const replies = await page.locator("chat-widget-root .cw-quick-reply").allTextContents();
        // The Push core keeps the first 20 (src/core/push/payload.rs): a bounded row of buttons.
        assert.equal(replies.length, 20, "100 quick replies: the first 20 shown");
        assert.ok(replies.includes(`<img src=x onerror="${PWN}">`), "a hostile quick reply is shown as text");
      }

      // A 1 MB message (Push splits it into many parts; the list then shows only the newest).
      const big = "x".repeat(1024 * 1024 - 12) + " big-end";
      await control(backend, "/agent/say", { text: big });
      await page.locator("chat-widget-root .cw-msg-agent", { hasText: "big-end" }).waitFor({ timeout: 60000 });

      // Still responsive: a message typed after all that is sent, and typing is not sluggish.
      const input = page.locator("chat-widget-root .cw-input");
      const t0 = Date.now();
      await input.fill("still here");
      const fillMs = Date.now() - t0;
      await page.keyboard.press("Enter");
      await page.locator("chat-widget-root .cw-msg-visitor:is([data-status='sent'], [data-status='delivered'], [data-status='read'])",
        { hasText: "still here" }).waitFor({ timeout: 20000 });
      console.log(`# ${backend}: ${payloads.length + 1} hostile messages, tags ${seen.tags.length}, links ${seen.links.length}, images ${seen.images.length}, typing after them ${fillMs} ms`);
      assert.ok(fillMs < 2000, `typing stays responsive (${fillMs} ms)`);
      assert.equal((await audit(page)).pwned, 0);
      assert.deepEqual(errors, [], "no page errors or dialogs");
    } finally {
      await context.close();
    }
  });
}

// 10,000 agent messages in one burst (Push: the reference server publishes them back to back,
// POST /agent/burst) while the visitor types. Input latency is what the Event Timing API
// measures for each key (from the key's timestamp to the next paint, as INP does): every key
// typed during the burst must be there, in order, and none may wait longer than INP's "poor"
// threshold, 500 ms.
test("push: 10,000 messages in one burst: every key the visitor types lands, none waits 500 ms", { timeout: 300000 }, async () => {
  const N = 10000;
  const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  try {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/push.html`);
    await widgetLoaded(page);
    await page.locator(LAUNCHER).click();
    const input = page.locator("chat-widget-root .cw-input");
    await input.fill("hello before the burst");
    await page.keyboard.press("Enter");
    await page.locator("chat-widget-root .cw-msg-visitor:is([data-status='sent'], [data-status='delivered'], [data-status='read'])").waitFor({ timeout: 20000 });
    await page.evaluate(() => {
      window.__keys = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) if (e.name === "keydown" || e.name === "keypress" || e.name === "input") window.__keys.push(e.duration);
      }).observe({ type: "event", durationThreshold: 16, buffered: true });
    });
    await input.click();
    const t0 = Date.now();
    await control("push", "/agent/burst", { n: N, text: "burst" });
    const last = page.locator("chat-widget-root .cw-msg-agent", { hasText: `burst ${N}/${N}` });
    let typed = "";
    let during = 0;
    while (!(await last.count())) {
      const ch = "abcdefghijklmnopqrstuvwxyz"[typed.length % 26];
      await page.keyboard.type(ch);
      typed += ch;
      if (Date.now() - t0 > 240000) throw new Error(`burst not shown after 240 s (${typed.length} keys typed)`);
      during++;
      await new Promise((r) => setTimeout(r, 50));
    }
    const burstMs = Date.now() - t0;
    // The Event Timing entries of the last keys are reported at their next paint.
    await new Promise((r) => setTimeout(r, 500));
    const durations = await page.evaluate(() => window.__keys);
    const worst = Math.max(0, ...durations);
    const value = await input.inputValue();
    console.log(`# push burst: ${N} messages shown in ${burstMs} ms; ${during} keys typed during it; ` +
      `${durations.length} key events over 16 ms, worst ${Math.round(worst)} ms`);
    assert.ok(during >= 10, `keys were typed while the burst was being shown (${during})`);
    assert.equal(value, typed, "every key typed during the burst is in the composer, in order");
    assert.ok(worst <= 500, `no key waited longer than 500 ms for its paint (worst ${worst} ms)`);
    await page.keyboard.press("Enter");
    await page.locator("chat-widget-root .cw-msg-visitor:is([data-status='sent'], [data-status='delivered'], [data-status='read'])", { hasText: typed }).waitFor({ timeout: 20000 });
    assert.deepEqual(errors, [], "no page errors");
  } finally {
    await context.close();
  }
});
