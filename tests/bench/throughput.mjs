// Protocol throughput against the official JS clients, in the same Chromium page: the widget's
// own socket and one of the official client's (`@rails/actioncable`, `cometd`,
// `socketcluster-client` v9) are connected to the same reference backend; then the same N agent
// messages, as the backend itself would frame them, are dispatched as `message` events on each
// socket (the real driver path for the widget, without the network) and timed until the last one
// has come out: the widget's `chatwidget:message` event and the last message drawn in the list
// (core, store and drawing) against the official client's message callback (decoding only: it
// draws nothing).
//
// The frames are made from one the backend really sent: the agent says a template message on the
// live conversation, each socket's copy is recorded, and N variants get new ids, transcript
// positions and texts.
import * as esbuild from "../../tools/node_modules/esbuild/lib/main.js";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { control, ports } from "../backends/lib/helpers.mjs";
import { widgetLoaded, LAUNCHER } from "../visual/serve.mjs";

const tools = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../tools");
const TEMPLATE = "tp-template";

/** The official clients as one script that sets `window.Official`. */
export async function officialClients() {
  const out = await esbuild.build({
    stdin: {
      contents: `import * as ActionCable from "@rails/actioncable"; import { CometD } from "cometd";
        import * as socketClusterClient from "socketcluster-client";
        window.Official = { ActionCable, CometD, socketClusterClient };`,
      resolveDir: tools, loader: "js",
    },
    bundle: true, format: "iife", platform: "browser", write: false, minify: true, logLevel: "warning",
    define: { global: "window" },
  });
  return out.outputFiles[0].text;
}

/** Init script: keeps every socket the page opens, with the frames it received that hold the
 * template text, so that frames can later be dispatched on exactly that socket. */
export const recordSockets = () => {
  window.__sockets = [];
  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(...a) {
      super(...a);
      const entry = { ws: this, url: String(a[0]), template: null };
      window.__sockets.push(entry);
      this.addEventListener("message", (e) => {
        if (typeof e.data === "string" && e.data.includes("tp-template")) entry.template = e.data;
      });
    }
  };
};

// How to make the i-th message from a recorded frame, per protocol. Each returns the frame text.
const variants = {
  // ActionCable: {identifier, message: {event: "message.created", data: message}} (Chatwoot's
  // RoomChannel broadcast); ids must be new, since both sides drop a message they already have.
  voxsig(template, i, text) {
    const f = JSON.parse(template);
    f.message.data.id = 1e9 + i;
    f.message.data.content = text;
    return JSON.stringify(f);
  },
  // CometD: an array of Bayeux messages on /service/chatV2/<service>, whose data is a Chat V2
  // response with the next transcript position (the widget applies positions in order).
  gms(template, i, text) {
    const f = JSON.parse(template);
    const m = f.find((x) => x.data && Array.isArray(x.data.messages) && x.data.messages.some((y) => y.text === TEMPLATE));
    const base = m.data.messages.find((y) => y.text === TEMPLATE);
    const index = base.index + i;
    m.data.messages = [{ ...base, index, text }];
    m.data.nextPosition = index + 1;
    delete m.id;
    return JSON.stringify([m]);
  },
  // SocketCluster: {event: "#publish", data: {channel, data: message}}.
  push(template, i, text) {
    const f = JSON.parse(template);
    const swap = (v) => (typeof v === "string" ? v.replace(TEMPLATE, text) : v);
    const walk = (o) => { for (const k of Object.keys(o)) { if (o[k] && typeof o[k] === "object") walk(o[k]); else o[k] = swap(o[k]); } };
    walk(f.data.data);
    for (const k of ["id", "message_id", "messageId"]) if (k in f.data.data) f.data.data[k] = `tp-${i}`;
    return JSON.stringify(f);
  },
};

// In the page: connects the official client to the backend and resolves once it is listening
// where the widget is; `window.__official.count` then counts the messages it hands out.
const connectOfficial = {
  voxsig: ({ port, identifier }) => new Promise((resolve) => {
    const { ActionCable } = window.Official;
    window.__official = { count: 0 };
    const consumer = ActionCable.createConsumer(`ws://127.0.0.1:${port}/cable`);
    window.__official.sub = consumer.subscriptions.create(JSON.parse(identifier), {
      connected() { resolve(window.__official.sub.identifier); },
      received() { window.__official.count++; window.__official.done?.(); },
    });
  }),
  gms: ({ port, channel }) => new Promise((resolve) => {
    const cometd = new window.Official.CometD();
    window.__official = { count: 0 };
    cometd.configure({ url: `http://127.0.0.1:${port}/genesys/cometd` });
    cometd.addListener(channel, (m) => { window.__official.count += (m.data.messages || []).length; window.__official.done?.(); });
    cometd.handshake((h) => { if (h.successful) resolve(null); });
  }),
  // socketcluster-client 9 (the client of SocketCluster v9) is event-emitter based.
  push: ({ port, channel, query }) => new Promise((resolve) => {
    const socket = window.Official.socketClusterClient.connect({ hostname: "127.0.0.1", port, path: "/socketcluster/", query });
    window.__official = { count: 0 };
    socket.subscribe(channel).watch(() => { window.__official.count++; window.__official.done?.(); });
    socket.on("connect", () => resolve(null));
  }),
};

/** Dispatches `frames` on socket `index` and resolves with the ms until `counter()` grew by their
 * number and, for the widget, the last message is drawn in the list (it draws at most once per
 * animation frame); run in the page. `perTask`: each frame in a task of its own (a
 * MessageChannel hop), as frames from the network come, instead of all in one. */
const timeFrames = ({ index, frames, which, perTask, last }) => new Promise((resolve) => {
  const ws = window.__sockets[index].ws;
  const counter = which === "widget" ? () => window.__tp.count : () => window.__official.count;
  const host = [...document.querySelectorAll("chat-widget-root")].find((h) => !h.hasAttribute("data-chat-widget-loader"));
  const drawn = () => {
    if (which !== "widget") return true;
    const bubbles = host.shadowRoot.querySelectorAll(".cw-msg-agent .cw-bubble");
    return bubbles.length > 0 && bubbles[bubbles.length - 1].textContent === last;
  };
  const target = counter() + frames.length;
  const t0 = performance.now();
  let finished = false;
  // Re-checked after a task hop, not on the next animation frame: a list drawn in this task's
  // microtasks is seen at once, one drawn on the next frame when it is.
  const poll = new MessageChannel();
  poll.port1.onmessage = () => done();
  const done = () => {
    if (finished || counter() < target) return;
    // Never drawn (a bench bug, not a figure): NaN after a minute rather than a hang.
    if (!drawn() && performance.now() - t0 < 60000) { poll.port2.postMessage(null); return; }
    if (!drawn()) { finished = true; resolve(NaN); return; }
    finished = true;
    window.__tp.done = window.__official.done = null;
    resolve(performance.now() - t0);
  };
  window.__tp.done = window.__official.done = done;
  if (!perTask) {
    for (const data of frames) ws.dispatchEvent(new MessageEvent("message", { data }));
    done();
    return;
  }
  const hop = new MessageChannel();
  let i = 0;
  hop.port1.onmessage = () => {
    ws.dispatchEvent(new MessageEvent("message", { data: frames[i++] }));
    if (i < frames.length) hop.port2.postMessage(null);
    else done();
  };
  hop.port2.postMessage(null);
});

/** Measures one backend: frames per second for the widget and the official client. */
export async function measureThroughput(browser, base, backend, { n = 1000, runs = 5, perTask = false } = {}) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  await context.addInitScript(recordSockets);
  try {
    const page = await context.newPage();
    await page.goto(`${base}/tp-${backend}.html`);
    await widgetLoaded(page);
    await page.locator(LAUNCHER).click();
    await page.locator("chat-widget-root .cw-input").fill(`throughput ${backend}`);
    await page.keyboard.press("Enter");
    await page.locator("chat-widget-root .cw-msg-visitor:is([data-status='sent'], [data-status='delivered'], [data-status='read'])").waitFor({ timeout: 20000 });
    await page.evaluate(() => {
      window.__tp = { count: 0 };
      addEventListener("chatwidget:message", (e) => {
        if (String(e.detail.text).startsWith("tp ")) { window.__tp.count++; window.__tp.done?.(); }
      });
    });
    // The template as the widget's socket received it tells the official client where to listen.
    await control(backend, "/agent/say", { text: TEMPLATE });
    await page.waitForFunction(() => window.__sockets.some((s) => s.template), null, { timeout: 20000 });
    const mine = await page.evaluate(() => {
      const i = window.__sockets.findIndex((s) => s.template);
      return { index: i, template: window.__sockets[i].template, url: window.__sockets[i].url };
    });
    const where = { port: ports[backend] };
    if (backend === "voxsig") where.identifier = JSON.parse(mine.template).identifier;
    if (backend === "gms") where.channel = JSON.parse(mine.template).find((x) => x.data && x.data.messages).channel;
    if (backend === "push") {
      where.channel = JSON.parse(mine.template).data.channel;
      where.query = Object.fromEntries(new URL(mine.url).searchParams);
    }
    const identifier = await page.evaluate(connectOfficial[backend], where);
    const theirIndex = await page.evaluate(() => window.__sockets.length - 1);

    const results = { widget: [], official: [] };
    let next = 1;
    const batch = () => {
      const frames = [];
      for (let k = 0; k < n; k++, next++) frames.push(variants[backend](mine.template, next, `tp ${next}`));
      return frames;
    };
    for (let r = 0; r < runs; r++) {
      // Each gets the same frames (the official client's voxsig frames name its own subscription).
      const frames = batch();
      const theirs = backend === "voxsig" ? frames.map((f) => { const x = JSON.parse(f); x.identifier = identifier; return JSON.stringify(x); }) : frames;
      const last = `tp ${next - 1}`;
      results.widget.push(await page.evaluate(timeFrames, { index: mine.index, frames, which: "widget", perTask, last }));
      results.official.push(await page.evaluate(timeFrames, { index: theirIndex, frames: theirs, which: "official", perTask }));
    }
    return results;
  } finally {
    await context.close();
  }
}
