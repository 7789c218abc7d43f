// The widget on a strict host page: served with a Content-Security-Policy that allows no inline
// script or style ('unsafe-inline' nowhere), only the site's own scripts, wasm compilation and
// connections to the backend. Per backend the visitor opens the widget, sends a message and reads
// the agent's reply; the page must report no CSP violation at all (securitypolicyviolation
// events and console errors) and the widget must still be styled (its stylesheet is adopted, not
// a <style> element; the host's declarations go through CSSOM, not a style attribute).
// Trusted Types (require-trusted-types-for 'script') are not covered: Leptos fills its static
// view templates through innerHTML (README, "Content-Security-Policy").
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "../../tools/node_modules/playwright-core/index.mjs";
import { control } from "../backends/lib/helpers.mjs";
import { serveDist, launchChromium, widgetLoaded, LAUNCHER, BACKENDS, backendOrigin, hostPage } from "./serve.mjs";

/** Exactly the directives README's "Content-Security-Policy" section tells a site to add. */
const policy = (backend) => [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  `connect-src 'self' ${backendOrigin(backend)} ${backendOrigin(backend).replace("http", "ws")}`,
  "img-src 'self' https: data:",
].join("; ");

const pages = {};
for (const b of BACKENDS) {
  // No inline script: the loader defines window.ChatWidget itself.
  const html = hostPage(b, { title: `Strict shop (${b})`, text: "A site with a strict Content-Security-Policy.", snippet: false });
  pages[`/${b}.html`] = { html, headers: { "content-security-policy": policy(b) } };
}
const { server, base } = await serveDist(pages);
const browser = await launchChromium(chromium);
after(async () => { await browser.close(); server.close(); });

{
  for (const backend of BACKENDS) {
    test(`${backend}: strict CSP: converses with no violation and is styled`, async () => {
      const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
      try {
        const page = await context.newPage();
        const problems = [];
        page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
        page.on("console", (m) => {
          if (m.type() === "error" || /Content Security Policy|Trusted Type/i.test(m.text())) {
            problems.push(`console ${m.type()}: ${m.text()}`);
          }
        });
        // Injected by the browser, not the page, so the policy does not stop this listener.
        await page.addInitScript(() => {
          window.__violations = [];
          document.addEventListener("securitypolicyviolation", (e) =>
            window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`));
        });
        await page.goto(`${base}/${backend}.html`);
        await widgetLoaded(page);

        const launcher = page.locator(LAUNCHER);
        const look = await launcher.evaluate((el) => {
          const s = getComputedStyle(el);
          const host = getComputedStyle(el.getRootNode().host);
          return { position: s.position, radius: s.borderRadius, background: s.backgroundColor, host: host.position, z: host.zIndex };
        });
        assert.equal(look.position, "fixed", `the widget's stylesheet applies: ${JSON.stringify(look)}`);
        assert.equal(look.radius, "50%");
        assert.notEqual(look.background, "rgba(0, 0, 0, 0)");
        assert.equal(look.host, "fixed", "the host element's own declarations apply");
        assert.equal(look.z, "2147483000");

        await launcher.click();
        const text = `strict ${backend} ${Date.now().toString(36)}`;
        await page.locator("chat-widget-root .cw-input").fill(text);
        await page.keyboard.press("Enter");
        await page.locator("chat-widget-root .cw-msg-visitor:is([data-status='sent'], [data-status='delivered'], [data-status='read'])",
          { hasText: text }).waitFor({ timeout: 20000 });
        const reply = `agent answers ${text}`;
        await control(backend, "/agent/say", { text: reply });
        await page.locator("chat-widget-root .cw-msg-agent", { hasText: reply }).waitFor({ timeout: 20000 });
        const dialog = await page.locator("chat-widget-root .cw-window").evaluate((el) => getComputedStyle(el).position);
        assert.equal(dialog, "fixed", "the open window is styled");

        const violations = await page.evaluate(() => window.__violations);
        assert.deepEqual([...violations, ...problems], [], "no CSP violation, no error");
      } finally {
        await context.close();
      }
    });
  }
}
