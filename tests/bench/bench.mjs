// The measurements behind scripts/bench: bundle bytes, what the widget costs a host page that
// loads it, the first click, long conversations, idle work and reconnects, in Debian's headless
// Chromium against the reference backends (scripts/backends start). Prints a table and writes it
// as JSON under bench-results/. Timings are medians; comparisons are made in the same run.
// Usage: node tests/bench/bench.mjs   (BENCH_RUNS=20 by default; BENCH_ONLY=sizes,page,... to pick)
import { readFileSync, readdirSync, mkdirSync, writeFileSync } from "node:fs";
import { execSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { chromium } from "../../tools/node_modules/playwright-core/index.mjs";
import { serveDist, launchChromium, widgetLoaded, LAUNCHER, BACKENDS, widgetTag, afterLoadSnippet, timingProbe } from "../visual/serve.mjs";
import { control, until } from "../backends/lib/helpers.mjs";
import { officialClients, measureThroughput } from "./throughput.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const RUNS = Number(process.env.BENCH_RUNS || 20);
const ONLY = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(",") : null;
const wanted = (name) => !ONLY || ONLY.includes(name);
const THROTTLE = 4;

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, d = 1) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error("[bench]", ...a);

/** One row of the printed table: what, figure, target, met. */
const rows = [];
const figures = {};
function report(key, what, value, unit, target, met) {
  figures[key] = { value, unit, target: target ?? null, met: met ?? null };
  rows.push([what, value === null ? "n/a" : `${value} ${unit}`, target ?? "", met === null || met === undefined ? "" : met ? "yes" : "NO"]);
}

const article = Array.from({ length: 12 }, (_, i) =>
  `<h2>Section ${i + 1}</h2><p>${"A paragraph of the host page's own content, the kind of text a shop or a blog has. ".repeat(6)}</p>`).join("");
// Every page carries the same timing probe, so it costs them all the same.
const hostPage = (widget, { snippet = false } = {}) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A host page</title><link rel="icon" href="data:,">${timingProbe}
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}</style></head>
<body><h1>A host page</h1>${article}
${!widget ? "" : snippet ? afterLoadSnippet(widget) : `<script>window.ChatWidget = window.ChatWidget || { q: [] };</script>
${widgetTag(widget)}`}
</body></html>`;

// In the widget pages of the long-conversation, idle and reconnect runs: frame arrival times,
// timers armed, sockets opened, and the wasm instance (for its memory).
const hooks = () => {
  window.__frames = { in: 0, out: 0 };
  window.__arrived = {};
  window.__opened = [];
  window.__timers = 0;
  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(...a) {
      super(...a);
      // Registered before the widget's own listener, so it sees each frame first.
      this.addEventListener("message", (e) => {
        window.__frames.in++;
        if (typeof e.data === "string") {
          for (const m of e.data.matchAll(/probe-(\d+)-end/g)) if (!(m[1] in window.__arrived)) window.__arrived[m[1]] = performance.now();
        }
      });
      this.addEventListener("open", () => window.__opened.push(performance.now()));
    }
    send(d) { window.__frames.out++; return super.send(d); }
  };
  for (const name of ["setTimeout", "setInterval"]) {
    const f = window[name];
    window[name] = function (...a) { window.__timers++; return f.apply(this, a); };
  }
  const keep = (r) => { window.__wasm = r.instance || r; return r; };
  const is = WebAssembly.instantiateStreaming;
  if (is) WebAssembly.instantiateStreaming = (...a) => is.apply(WebAssembly, a).then(keep);
  const i = WebAssembly.instantiate;
  WebAssembly.instantiate = (...a) => i.apply(WebAssembly, a).then(keep);
};

// Watches the widget's shadow root: when a node with "probe-N" is added, forces layout and
// records the time (frame arrival -> DOM updated and laid out = the append cost).
const watchRendered = () => {
  window.__rendered = {};
  const host = [...document.querySelectorAll("chat-widget-root")].find((h) => !h.hasAttribute("data-chat-widget-loader"));
  const sr = host.shadowRoot;
  new MutationObserver((ms) => {
    for (const m of ms) for (const n of m.addedNodes) {
      const t = n.textContent || "";
      for (const x of t.matchAll(/probe-(\d+)-end/g)) {
        if (!(x[1] in window.__rendered)) {
          void (sr.querySelector(".cw-log") || host).scrollHeight; // layout now, inside the measurement
          window.__rendered[x[1]] = performance.now();
        }
      }
    }
  }).observe(sr, { childList: true, subtree: true });
};

const metrics = async (cdp) => Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));

// ---------------------------------------------------------------------------------------------
function sizes() {
  const dist = path.join(root, "dist");
  const files = readdirSync(dist).filter((f) => /^chat-widget.*\.(js|wasm)$/.test(f));
  const kind = (f) => (f === "chat-widget.js" ? "loader" : f.endsWith(".wasm") ? "wasm" : "glue");
  const out = {};
  for (const f of files) {
    const b = readFileSync(path.join(dist, f));
    out[kind(f)] = {
      file: f, raw: b.length, gzip: zlib.gzipSync(b, { level: 9 }).length,
      brotli: zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length } }).length,
    };
  }
  const total = (k) => out.loader[k] + out.glue[k] + out.wasm[k];
  figures.bundle = out;
  report("bytes_first_paint", "bytes before the launcher shows (loader, brotli)", out.loader.brotli, "B", "", null);
  report("bytes_brotli", `bytes before the visitor can chat (brotli: loader ${out.loader.brotli} + glue ${out.glue.brotli} + wasm ${out.wasm.brotli})`,
    total("brotli"), "B", "<= 100000", total("brotli") <= 100000);
  report("bytes_gzip", "same, gzip -9", total("gzip"), "B", "", null);
  report("bytes_raw", "same, uncompressed", total("raw"), "B", "", null);
}

// ---------------------------------------------------------------------------------------------
async function pageCost(browser, base) {
  // kind: null (the plain page), "widget" (the two-tag embed) or "snippet" (the after-load one).
  const runOnce = async (kind) => {
    const widget = kind !== null;
    const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Emulation.setCPUThrottlingRate", { rate: THROTTLE });
    await cdp.send("Performance.enable");
    // The bundle is held back until the figures at the load event are read: the loader asks for
    // it on idle, which can come before this side of CDP hears of the load event.
    let release;
    const held = new Promise((r) => { release = r; });
    await page.route(/chat-widget-[0-9a-f]+\.js$/, async (route) => { await held; await route.continue(); });
    await page.goto(`${base}/${kind || "plain"}.html`, { waitUntil: "load" });
    const atLoad = await metrics(cdp);
    release();
    if (widget) await page.waitForFunction(() => window.__bench.mounted, null, { polling: 100, timeout: 60000 });
    await sleep(1500); // the widget settles (the plain page waits as long)
    const settled = await metrics(cdp);
    const marks = await page.evaluate(() => window.__bench);
    // A second visit with the bundle in the cache: click the placeholder as soon as it is drawn.
    let click = NaN;
    let clickBeforeMount = false;
    if (kind === "widget") {
      await page.goto(`${base}/widget.html`, { waitUntil: "commit" });
      await page.waitForFunction(() => window.__bench && window.__bench.placeholder, null, { polling: "raf", timeout: 30000 });
      // Where the launcher is drawn (bottom right, 60 px, 20 px from the edges): no waiting for
      // the element to be "stable", as a visitor's click does not wait either.
      await page.mouse.click(1100 - 50, 760 - 50);
      await page.locator("chat-widget-root .cw-input").waitFor({ state: "visible", timeout: 30000 });
      const t = await page.evaluate(() => ({ opened: performance.now(), ...window.__bench }));
      click = t.opened - t.click;
      clickBeforeMount = !t.mounted || t.mounted > t.click;
    }
    await context.close();
    return { atLoad, settled, marks, click, clickBeforeMount };
  };
  const plain = [], widget = [], snippet = [];
  for (let i = 0; i < RUNS; i++) {
    // Interleaved, so drift in the machine's load hits both alike.
    plain.push(await runOnce(null));
    widget.push(await runOnce("widget"));
    snippet.push(await runOnce("snippet"));
    log(`page cost run ${i + 1}/${RUNS}`);
  }
  const m = (xs, f) => median(xs.map(f));
  const task = (k) => (r) => r[k].TaskDuration * 1000;
  const script = (k) => (r) => r[k].ScriptDuration * 1000;
  const dLoad = m(widget, task("atLoad")) - m(plain, task("atLoad"));
  const dSettled = m(widget, task("settled")) - m(plain, task("settled"));
  figures.page = {
    plain_task_ms_at_load: round(m(plain, task("atLoad"))), widget_task_ms_at_load: round(m(widget, task("atLoad"))),
    plain_task_ms_settled: round(m(plain, task("settled"))), widget_task_ms_settled: round(m(widget, task("settled"))),
    plain_script_ms_settled: round(m(plain, script("settled"))), widget_script_ms_settled: round(m(widget, script("settled"))),
    plain_load_ms: round(m(plain, (r) => r.marks.load)), widget_load_ms: round(m(widget, (r) => r.marks.load)),
  };
  report("task_delta_at_load", `main-thread time added before the page's load event (CDP TaskDuration, ${THROTTLE}x CPU, median of ${RUNS})`,
    round(dLoad), "ms", "<= 50", dLoad <= 50);
  report("task_delta_settled", `main-thread time added once the bundle has loaded and mounted (after load, on idle)`,
    round(dSettled), "ms", "", null);
  report("script_delta_settled", "same, CDP ScriptDuration", round(m(widget, script("settled")) - m(plain, script("settled"))), "ms", "", null);
  const loadDelay = m(widget, (r) => r.marks.load) - m(plain, (r) => r.marks.load);
  report("load_event_delay", "page load event, widget page minus plain page", round(loadDelay), "ms", "~0", null);
  const phAfterLoad = m(widget, (r) => r.marks.placeholder - r.marks.load);
  report("launcher_vs_load", "launcher visible, relative to the load event (negative = before)", round(phAfterLoad), "ms", "", null);
  report("mounted_after_load", "bundle mounted (full widget ready), after the load event", round(m(widget, (r) => r.marks.mounted - r.marks.load)), "ms", "", null);
  const dLoadSnippet = m(snippet, task("atLoad")) - m(plain, task("atLoad"));
  figures.page.snippet_task_ms_at_load = round(m(snippet, task("atLoad")));
  figures.page.snippet_load_ms = round(m(snippet, (r) => r.marks.load));
  report("task_delta_at_load_snippet", "same as the first row, with the after-load snippet instead of the tag",
    round(dLoadSnippet), "ms", "<= 50", dLoadSnippet <= 50);
  report("load_event_delay_snippet", "page load event, after-load snippet page minus plain page",
    round(m(snippet, (r) => r.marks.load) - m(plain, (r) => r.marks.load)), "ms", "~0", null);
  report("mounted_after_load_snippet", "bundle mounted, after the load event, after-load snippet",
    round(m(snippet, (r) => r.marks.mounted - r.marks.load)), "ms", "", null);
  const click = m(widget, (r) => r.click);
  figures.page.clicks_before_mount = widget.filter((r) => r.clickBeforeMount).length;
  figures.page.click_ms = widget.map((r) => round(r.click));
  report("first_click", `first click on the launcher while the cached bundle loads -> window open (${THROTTLE}x CPU)`, round(click), "ms", "<= 300", click <= 300);
}

// ---------------------------------------------------------------------------------------------
async function openWidget(browser, base, backend, { throttle = 1 } = {}) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  await context.addInitScript(hooks);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  if (throttle > 1) await cdp.send("Emulation.setCPUThrottlingRate", { rate: throttle });
  await cdp.send("Performance.enable");
  await page.goto(`${base}/${backend}.html`);
  await widgetLoaded(page);
  await page.locator(LAUNCHER).click();
  await page.locator("chat-widget-root .cw-input").waitFor({ state: "visible" });
  await page.evaluate(watchRendered);
  return { context, page, cdp };
}

async function say(page, backend, text, seen = text) {
  await control(backend, "/agent/say", { text });
  await page.locator("chat-widget-root .cw-msg-agent", { hasText: seen }).first().waitFor({ timeout: 30000 });
}

async function appendCost(page, backend, from, n) {
  for (let k = from; k < from + n; k++) await say(page, backend, `probe-${k}-end`, `probe-${k}-end`);
  return page.evaluate(([from, n]) => {
    const out = [];
    for (let k = from; k < from + n; k++) out.push(window.__rendered[k] - window.__arrived[k]);
    return out;
  }, [from, n]);
}

async function longConversation(browser, base) {
  const backend = "push";
  const { context, page, cdp } = await openWidget(browser, base, backend);
  try {
    await page.locator("chat-widget-root .cw-input").fill("hello, bench");
    await page.keyboard.press("Enter");
    await page.locator("chat-widget-root .cw-msg-visitor").first().waitFor();
    await sleep(500);
    const small = await appendCost(page, backend, 0, 15);
    const N = 10000;
    const t0 = Date.now();
    const before = await metrics(cdp);
    await control(backend, "/agent/burst", { n: N, text: "burst" });
    await page.locator("chat-widget-root .cw-msg-agent", { hasText: `burst ${N}/${N}` }).waitFor({ timeout: 300000 });
    const burstMs = Date.now() - t0;
    const after = await metrics(cdp);
    await sleep(1000);
    const big = await appendCost(page, backend, 100, 15);
    const transcript = await page.evaluate(() => {
      const sr = [...document.querySelectorAll("chat-widget-root")].find((h) => !h.hasAttribute("data-chat-widget-loader")).shadowRoot;
      const earlier = sr.querySelector(".cw-earlier");
      return { drawn: sr.querySelectorAll(".cw-msg").length, earlier: earlier ? earlier.textContent : null };
    });
    // Opening the window on the long transcript: close, then time click -> input shown and laid out.
    const opens = [];
    for (let i = 0; i < 7; i++) {
      await page.keyboard.press("Escape");
      await page.locator("chat-widget-root .cw-input").waitFor({ state: "hidden" });
      await sleep(200);
      const ms = await page.evaluate(() => new Promise((resolve) => {
        const host = [...document.querySelectorAll("chat-widget-root")].find((h) => !h.hasAttribute("data-chat-widget-loader"));
        const sr = host.shadowRoot;
        const t0 = performance.now();
        sr.querySelector(".cw-launcher").click();
        const check = () => {
          const input = sr.querySelector(".cw-input");
          if (input && input.offsetParent !== null && sr.querySelector(".cw-log")) {
            void sr.querySelector(".cw-log").scrollHeight;
            resolve(performance.now() - t0);
          } else setTimeout(check, 0);
        };
        check();
      }));
      opens.push(ms);
    }
    await cdp.send("HeapProfiler.collectGarbage");
    const m = await metrics(cdp);
    const wasmBytes = await page.evaluate(() => (window.__wasm && window.__wasm.exports.memory ? window.__wasm.exports.memory.buffer.byteLength : NaN));
    const heapMB = (m.JSHeapUsedSize + wasmBytes) / 1048576;
    figures.long = { small_ms: small.map((x) => round(x, 2)), big_ms: big.map((x) => round(x, 2)), burst_ms: burstMs,
      burst_task_ms: round((after.TaskDuration - before.TaskDuration) * 1000), transcript, open_ms: opens.map((x) => round(x)),
      js_heap_mb: round(m.JSHeapUsedSize / 1048576), wasm_memory_mb: round(wasmBytes / 1048576), dom_nodes: m.Nodes };
    report("append_small", "append one message, 1 message in the transcript (frame -> laid out)", round(median(small), 2), "ms", "", null);
    report("append_10k", `append one message, ${N} messages in the transcript`, round(median(big), 2), "ms", "<= 4", median(big) <= 4);
    report("burst_10k", `${N} agent messages in one burst, until the last is shown`, burstMs, "ms", "", null);
    report("open_10k", `open the window with ${N} messages in the transcript`, round(median(opens)), "ms", "<= 100", median(opens) <= 100);
    report("heap_10k", `JS heap + wasm memory with ${N} messages`, round(heapMB), "MB", "<= 30", heapMB <= 30);
  } finally {
    await context.close();
  }
}

// ---------------------------------------------------------------------------------------------
async function idle(browser, base) {
  const SECONDS = Number(process.env.BENCH_IDLE_SECONDS || 30);
  for (const backend of ["voxsig", "gms", "push"]) {
    const { context, page, cdp } = await openWidget(browser, base, backend);
    try {
      await page.locator("chat-widget-root .cw-input").fill(`idle bench ${backend}`);
      await page.keyboard.press("Enter");
      await sleep(3000);
      const a = await metrics(cdp);
      const sa = await page.evaluate(() => ({ timers: window.__timers, ...window.__frames }));
      await sleep(SECONDS * 1000);
      const b = await metrics(cdp);
      const sb = await page.evaluate(() => ({ timers: window.__timers, ...window.__frames }));
      const perMin = (x) => round((x * 60) / SECONDS);
      const r = { timers: perMin(sb.timers - sa.timers), frames_in: perMin(sb.in - sa.in), frames_out: perMin(sb.out - sa.out),
        task_ms: perMin((b.TaskDuration - a.TaskDuration) * 1000) };
      figures[`idle_${backend}`] = r;
      report(`idle_${backend}`, `${backend}: open and idle, per minute: timers armed / frames in / frames out`,
        `${r.timers} / ${r.frames_in} / ${r.frames_out}`, `(main thread ${r.task_ms} ms/min)`,
        "timers <= heartbeats", r.timers <= Math.max(r.frames_in, r.frames_out) + 2);
    } finally {
      await context.close();
    }
  }
}

// ---------------------------------------------------------------------------------------------
async function reconnect(browser, base) {
  for (const backend of ["voxsig", "gms", "push"]) {
    const { context, page } = await openWidget(browser, base, backend);
    const times = [];
    try {
      await page.locator("chat-widget-root .cw-input").fill(`reconnect bench ${backend}`);
      await page.keyboard.press("Enter");
      await page.locator("chat-widget-root .cw-msg-visitor:not([data-status='pending'])").first().waitFor({ timeout: 20000 });
      await sleep(1000);
      for (let i = 0; i < RUNS; i++) {
        const k = 5000 + i;
        const opened = await page.evaluate(() => window.__opened.length);
        const t0 = await page.evaluate(() => performance.now());
        await control(backend, "/drop", {});
        if (backend === "push") {
          // Push keeps no mailbox: a message published while no socket is subscribed is lost
          // (README, Push). Caught up = a new socket is open and the banner is gone.
          await page.waitForFunction((n) => window.__opened.length > n, opened, { polling: 10, timeout: 30000 });
          await page.locator("chat-widget-root .cw-banner").waitFor({ state: "detached", timeout: 30000 });
          await until(async () => (await control(backend, "/sessions")).some((s) => s.open && s.subscriptions.length), 30000, "subscribed");
          times.push((await page.evaluate(() => performance.now())) - t0);
        } else {
          // The agent writes while the widget is cut off; caught up = that message is shown.
          await control(backend, "/agent/say", { text: `probe-${k}-end` });
          await page.locator("chat-widget-root .cw-msg-agent", { hasText: `probe-${k}-end` }).waitFor({ timeout: 30000 });
          await page.locator("chat-widget-root .cw-banner").waitFor({ state: "detached", timeout: 30000 });
          const shown = await page.evaluate((k) => window.__rendered[k], k);
          times.push(shown - t0);
        }
        // Each drop hits a connection that has been up for a while, as a real one would: the
        // Push core keeps backing off connections that die within 1 s of their handshake.
        await sleep(1500);
      }
    } catch (e) {
      // One backend that does not come back is a finding, not a reason to lose the others'.
      console.error(`[bench] reconnect ${backend}: run ${times.length + 1} failed: ${e.message.split("\n")[0]}`);
      report(`reconnect_${backend}_stuck`, `${backend}: a reconnect did not complete within 30 s (run ${times.length + 1} of ${RUNS})`,
        null, "", "never", false);
    } finally {
      await context.close();
    }
    figures[`reconnect_${backend}`] = times.map((x) => round(x));
    if (!times.length) continue;
    const med = median(times);
    report(`reconnect_${backend}`, `${backend}: server drops every connection -> online and caught up (median of ${times.length})`,
      round(med), "ms", "<= 1500", med <= 1500);
  }
}

// ---------------------------------------------------------------------------------------------
// The same agent-message frames dispatched on the widget's socket and on the official client's,
// in one page (tests/bench/throughput.mjs); frames per second and the ratio, per backend.
async function throughput(browser, base) {
  const N = 1000;
  // Twice: all frames in one task (a burst read at once), and each in a task of its own (as
  // frames come from the network; the widget's once-per-task work, such as saving the session,
  // is then paid per frame).
  for (const perTask of [false, true]) {
    for (const backend of ["voxsig", "gms", "push"]) {
      const r = await measureThroughput(browser, base, backend, { n: N, runs: Math.min(RUNS, 7), perTask });
      const rate = (ms) => (N * 1000) / ms;
      const widget = rate(median(r.widget));
      const official = rate(median(r.official));
      const client = { voxsig: "@rails/actioncable", gms: "cometd", push: "socketcluster-client 9" }[backend];
      const key = `throughput_${backend}${perTask ? "_per_task" : ""}`;
      report(key, `${backend}: ${N} agent messages dispatched on the socket ${perTask ? "one per task" : "in one task"}, frames/s: widget (core, store, list) / ${client} (decode, callback)`,
        `${Math.round(widget)} / ${Math.round(official)} = ${round(widget / official, 3)}x`, "", ">= 1.0x", widget >= official);
      // The runs behind the medians (report() writes the figure itself).
      Object.assign(figures[key], { widget_ms: r.widget.map((x) => round(x)), official_ms: r.official.map((x) => round(x)), n: N });
    }
  }
}

// ---------------------------------------------------------------------------------------------
const sh = (c) => { try { return execSync(c, { cwd: root, encoding: "utf8" }).trim(); } catch { return "unknown"; } };
// Read before measuring: the tree measured is the one scripts/bench built, not whatever it is
// when the run ends.
const commit = sh("git rev-parse --short HEAD") + (sh("git status --porcelain") ? "-dirty" : "");
const pages = { "/plain.html": hostPage(null), "/widget.html": hostPage("voxsig"),
  "/snippet.html": hostPage("voxsig", { snippet: true }) };
for (const b of BACKENDS) pages[`/${b}.html`] = hostPage(b);
// The throughput pages: the widget's page with the official clients loaded too.
pages["/official.js"] = { html: await officialClients(), headers: { "content-type": "text/javascript" } };
for (const b of BACKENDS) pages[`/tp-${b}.html`] = hostPage(b).replace("</body>", `<script src="/official.js"></script>\n</body>`);
const { server, base } = await serveDist(pages);
const browser = await launchChromium(chromium);
try {
  // A section that fails is reported as failed and the others still run and are written.
  const sections = { sizes, page: pageCost, long: longConversation, idle, reconnect, throughput };
  for (const [name, run] of Object.entries(sections)) {
    if (!wanted(name)) continue;
    console.error(`[bench] ${name}`);
    try {
      await run(browser, base);
    } catch (e) {
      console.error(`[bench] ${name} failed: ${e.stack || e}`);
      report(`${name}_error`, `${name}: the measurement failed: ${String(e.message || e).split("\n")[0]}`, null, "", "", false);
    }
  }
} finally {
  await browser.close();
  server.close();
}

const result = {
  date: new Date().toISOString(),
  commit,
  machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, memory_gib: round(os.totalmem() / 2 ** 30), os: `${os.type()} ${os.release()}`,
    chromium: sh("chromium --version"), node: process.version },
  runs: RUNS, cpu_throttle: THROTTLE, figures,
};
const w = [0, 0, 0, 0];
for (const r of rows) r.forEach((c, i) => { w[i] = Math.max(w[i], String(c).length); });
console.log(`\nchat widget bench, ${result.date}, ${result.commit}, ${result.machine.cpu} x${result.machine.cores}, ${result.machine.chromium}`);
for (const r of [["figure", "measured", "target", "met"], ...rows]) console.log(r.map((c, i) => String(c).padEnd(w[i])).join(" | "));
mkdirSync(path.join(root, "bench-results"), { recursive: true });
const file = path.join(root, "bench-results", `${result.date.slice(0, 16).replace(":", "")}-${result.commit}${ONLY ? "-" + ONLY.join("+") : ""}.json`);
writeFileSync(file, JSON.stringify(result, null, 2) + "\n");
console.log(`\nwritten: ${path.relative(root, file)}`);
