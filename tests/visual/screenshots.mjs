// Drives dist/embed-example.html in headless Chromium like a visitor and saves screenshots:
// closed, open, mid-conversation, narrow viewport, dark mode, Chinese.
// Usage: node tests/visual/screenshots.mjs <base-url> <out-dir>
import { chromium } from "../../tools/node_modules/playwright-core/index.mjs";
import { mkdirSync } from "node:fs";
import { launchChromium, widgetLoaded } from "./serve.mjs";

const [base = "http://127.0.0.1:8090", out = "test-output/screenshots"] = process.argv.slice(2);
mkdirSync(out, { recursive: true });

const browser = await launchChromium(chromium);

async function page(opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 }, ...opts });
  const p = await context.newPage();
  p.on("pageerror", (e) => console.error("page error:", e.message));
  p.on("console", (m) => { if (m.type() === "error") console.error("console:", m.text()); });
  await p.goto(`${base}/embed-example.html`);
  await widgetLoaded(p);
  return p;
}

const shot = (p, name) => p.screenshot({ path: `${out}/${name}.png` });
const agentReplies = (p) => p.locator("chat-widget-root .cw-msg-agent").count();

async function converse(p) {
  if (!(await p.evaluate(() => window.ChatWidget.isOpen()))) {
    await p.locator("chat-widget-root .cw-launcher").click();
  }
  await p.locator("chat-widget-root .cw-msg-agent").first().waitFor();
  await p.locator("chat-widget-root .cw-input").fill("Do you deliver to Lisbon? I need boots size 43 before Friday.");
  await p.keyboard.press("Enter");
  await p.waitForFunction(() => document.querySelector("chat-widget-root").shadowRoot.querySelectorAll(".cw-msg-agent").length >= 2);
  await p.locator("chat-widget-root .cw-input").fill("What does it cost?");
  await p.keyboard.press("Enter");
  await p.locator("chat-widget-root .cw-typing").waitFor();
}

let p = await page();
await p.waitForTimeout(2500); // the greeting arrives while closed: unread badge
await shot(p, "1-closed-with-unread");
await p.locator("chat-widget-root .cw-launcher").click();
await p.waitForTimeout(400);
await shot(p, "2-open");
await converse(p);
await shot(p, "3-mid-conversation-typing");
await p.waitForFunction(() => document.querySelector("chat-widget-root").shadowRoot.querySelectorAll(".cw-msg-agent").length >= 3);
await p.waitForTimeout(300);
await shot(p, "4-reply-with-link");
await p.close();

p = await page({ viewport: { width: 375, height: 700 }, isMobile: true, hasTouch: true });
await converse(p);
await shot(p, "5-narrow-viewport");
await p.close();

p = await page({ colorScheme: "dark" });
await converse(p);
await shot(p, "6-dark-mode");
await p.close();

p = await page({ locale: "zh-CN" });
await p.evaluate(() => window.ChatWidget.setLocale("zh-CN"));
await p.locator("chat-widget-root .cw-launcher").click();
await p.locator("chat-widget-root .cw-msg-agent").first().waitFor();
await shot(p, "7-chinese");
await p.close();

console.log(`screenshots written to ${out}/`);
await browser.close();
