// Conformance of the reference GMS server, driven by the official CometD JavaScript client
// (cometd 9 + cometd-nodejs-client) over WebSocket and over long-polling, the way Genesys' Chat
// V2 sample does, plus raw Bayeux clients (tests/backends/lib/helpers.mjs) where the official
// one hides what is checked (ids, HTTP codes, headers, which reply carries an event). Every case
// starts with POST /_control/reset and sets what it needs through /_control/config and faults.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { adapt } from "../../../tools/node_modules/cometd-nodejs-client/cometd-nodejs-client.js";
import { CometD } from "../../../tools/node_modules/cometd/cometd.js";
import { ports, control, until, bayeuxHttp, bayeuxSocket } from "../lib/helpers.mjs";

adapt();
const url = `http://127.0.0.1:${ports.gms}/genesys/cometd`;
const channel = "/service/chatV2/customer-support";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Every client a case opens, closed after the file even when a case fails half way (a CometD
// client left polling would keep the process alive).
const live = new Set();
after(() => {
  for (const c of live) {
    if (c.cometd) { if (!c.cometd.isDisconnected()) c.cometd.disconnect(); } else c.close();
  }
});

/** The official client over `transport` ("websocket", "long-polling", or "auto": both
 * registered, as a browser page has them). `handshake` is the first handshake reply (a failed
 * one when "auto" tries a refused WebSocket first); `ready` resolves at the first successful. */
function connect(transport = "websocket") {
  const cometd = new CometD();
  if (transport === "websocket") cometd.unregisterTransport("long-polling");
  if (transport === "long-polling") cometd.unregisterTransport("websocket");
  cometd.unregisterTransport("callback-polling");
  cometd.configure({ url, logLevel: "warn" });
  live.add({ cometd });
  const notifications = [];
  cometd.addListener(channel, (m) => notifications.push(m.data));
  const ready = new Promise((resolve) => cometd.addListener("/meta/handshake", (m) => { if (m.successful) resolve(m); }));
  const handshake = new Promise((resolve) => cometd.handshake((reply) => resolve(reply)));
  return { cometd, notifications, handshake, ready };
}

/** A raw WebSocket Bayeux client, closed after the file. */
async function socket() {
  const ws = await bayeuxSocket(url);
  live.add(ws);
  return ws;
}

/** Disconnects; resolves also when the client is not connected (no callback comes then). */
const bye = (cometd) => new Promise((r) => {
  if (cometd.isDisconnected()) return r();
  cometd.disconnect(r);
  setTimeout(r, 1000).unref();
});

const messages = (notifications) => notifications.flatMap((n) => n.messages || []);
/** Resolves once the scripted agent has joined and greeted (its script is then quiet). */
const greeted = (notifications) => until(() => messages(notifications).some((m) => m.type === "Message" && m.from.type === "Agent"), 5000, "the agent's greeting");

/** A chat over the official client, up to the requestChat answer. */
async function chatting(transport = "websocket") {
  const c = connect(transport);
  await Promise.race([c.ready, new Promise((r) => setTimeout(r, 5000).unref())]);
  assert.ok(c.cometd.getClientId(), "handshaken");
  c.cometd.publish(channel, { operation: "requestChat", nickname: "Conformance" });
  const session = await until(() => c.notifications.find((n) => n.secureKey), 3000, "requestChat answer");
  return { ...c, session };
}

const reset = (config) => control("gms", "/reset", {}).then(() => (config ? control("gms", "/config", config) : null));

for (const transport of ["websocket", "long-polling"]) test(`official CometD client over ${transport}: handshake, requestChat, agent joins and answers once`, async () => {
  await reset();
  const { cometd, notifications, handshake } = connect(transport);
  const hs = await handshake;
  assert.equal(hs.successful, true);
  assert.equal(cometd.getTransport().type, transport);

  cometd.publish(channel, { operation: "requestChat", nickname: "Conformance", subject: "test", userData: { a: "b" } });
  const session = await until(() => notifications.find((n) => n.secureKey), 3000, "requestChat answer");
  assert.equal(session.statusCode, 0);
  assert.ok(session.chatId && session.userId && session.alias);

  const text = `hello ${Date.now()}`;
  cometd.publish(channel, { operation: "sendMessage", secureKey: session.secureKey, message: text });
  await until(() => messages(notifications).some((m) => m.type === "Message" && m.text === `You said: ${text}`), 5000, "agent reply");
  const all = messages(notifications);
  assert.ok(all.some((m) => m.type === "ParticipantJoined" && m.from.type === "Agent"), "agent joined");
  assert.ok(all.some((m) => m.type === "TypingStarted" && m.from.type === "Agent"), "agent typed first");
  const indexes = all.map((m) => m.index);
  assert.deepEqual(indexes, [...new Set(indexes)].sort((a, b) => a - b), "indexes increase, no repeats");

  const received = await control("gms", "/received");
  assert.equal(received.filter((r) => r.text === text).length, 1, "the server got it exactly once");

  // requestNotifications replays from a position.
  const before = notifications.length;
  cometd.publish(channel, { operation: "requestNotifications", secureKey: session.secureKey, transcriptPosition: 2 });
  const replay = await until(() => notifications.slice(before).find((n) => n.messages && n.messages.length), 3000, "replay");
  assert.equal(replay.messages[0].index, 2);

  // Control API: say, end.
  await control("gms", "/agent/say", { text: "from control" });
  await until(() => messages(notifications).some((m) => m.text === "from control"), 3000, "control say");
  cometd.publish(channel, { operation: "disconnect", secureKey: session.secureKey });
  await until(() => notifications.some((n) => n.chatEnded === true), 3000, "chatEnded");
  await bye(cometd);
});

for (const errors of ["cometd", "faye"]) for (const transport of ["websocket", "long-polling"]) test(`official CometD client over ${transport} re-handshakes after a restart and keeps its chat (${errors} unknown-client error)`, async () => {
  await reset({ errors });
  const { cometd, notifications, session } = await chatting(transport);
  await greeted(notifications);
  const handshakes = [];
  cometd.addListener("/meta/handshake", (m) => handshakes.push(m.successful));
  const firstId = cometd.getClientId();
  await control("gms", "/restart", {});
  await until(() => handshakes.some(Boolean), 10000, "a new handshake");
  assert.notEqual(cometd.getClientId(), firstId, "a new clientId");
  // The chat lives on in Chat Server: the new session picks it up with its secureKey.
  const before = notifications.length;
  cometd.publish(channel, { operation: "requestNotifications", secureKey: session.secureKey, transcriptPosition: 1 });
  const replay = await until(() => notifications.slice(before).find((n) => n.messages && n.messages.some((m) => m.index === 1)), 3000, "requestNotifications after restart");
  assert.equal(replay.chatId, session.chatId);
  assert.equal(replay.messages[0].index, 1);
  await bye(cometd);
});

test("bad secureKey is answered with statusCode 2 and advice", async () => {
  await reset();
  const { cometd, notifications, handshake } = connect();
  await handshake;
  cometd.publish(channel, { operation: "sendMessage", secureKey: "nope", message: "x" });
  const err = await until(() => notifications.find((n) => n.statusCode === 2), 3000, "error");
  assert.match(err.errors[0].advice, /secureKey/);
  assert.equal(err.chatEnded, true);
  await bye(cometd);
});

test("websocket refused (a proxy): upgrade 403, handshake offers long-polling only, the official client with both transports ends up on long-polling and chats", async () => {
  await reset({ websocket: false });
  await assert.rejects(bayeuxSocket(url), /HTTP 403/);
  const raw = bayeuxHttp(url);
  const hs = await raw.handshake(["websocket", "long-polling"]);
  assert.deepEqual(hs.body[0].supportedConnectionTypes, ["long-polling"]);

  const { cometd, notifications, session } = await chatting("auto");
  assert.equal(cometd.getTransport().type, "long-polling");
  const text = `over http ${Date.now()}`;
  cometd.publish(channel, { operation: "sendMessage", secureKey: session.secureKey, message: text });
  await until(() => messages(notifications).some((m) => m.text === `You said: ${text}`), 5000, "reply");
  await bye(cometd);
});

test("long-polling disabled: POST answered 400 Unknown Bayeux Transport, a long-polling-only official client cannot handshake", async () => {
  await reset({ long_polling: false });
  const r = await bayeuxHttp(url).handshake();
  assert.equal(r.status, 400);
  assert.equal(r.body, "Unknown Bayeux Transport");
  const { cometd, handshake } = connect("long-polling");
  assert.equal((await handshake).successful, false);
  await bye(cometd);
  // WebSocket still works.
  const ws = await socket();
  assert.equal((await ws.handshake()).successful, true);
  ws.close();
});

test("long-polling over HTTP: CORS preflight and headers, sub-paths, replies in CometD's order", async () => {
  await reset();
  const origin = "http://widget.example";
  const pre = await fetch(`${url}/handshake`, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
  });
  assert.equal(pre.status, 200);
  assert.equal(pre.headers.get("access-control-allow-origin"), origin);
  assert.match(pre.headers.get("access-control-allow-headers"), /content-type/i);
  assert.match(pre.headers.get("access-control-allow-methods"), /POST/);

  const raw = bayeuxHttp(url);
  const hs = await raw.post([{ id: "1", channel: "/meta/handshake", version: "1.0", supportedConnectionTypes: ["long-polling"] }], { path: "/handshake", headers: { origin } });
  assert.equal(hs.headers.get("access-control-allow-origin"), origin);
  assert.deepEqual(hs.body[0].supportedConnectionTypes, ["websocket", "long-polling"]);
  assert.equal(hs.body[0].advice.timeout, 30000);
  raw.clientId = hs.body[0].clientId;
  // The first connect is answered at once (cometd: not held before the session is connected).
  const first = await raw.connect();
  assert.equal(first.body.at(-1).successful, true);

  // No held connect: events wait and ride on the next reply, before its own ack.
  const ack = await raw.publish(channel, { operation: "requestChat", nickname: "Raw" });
  const answer = ack.body.find((m) => m.data && m.data.secureKey);
  assert.ok(answer, "the requestChat answer piggybacks on the publish reply");
  assert.equal(ack.body.at(-1).successful, true, "the publish ack comes last");
  await sleep(1200); // the agent joins and greets meanwhile
  const next = await raw.publish(channel, { operation: "startTyping", secureKey: answer.data.secureKey });
  assert.ok(messages(next.body.map((m) => m.data).filter(Boolean)).some((m) => m.type === "ParticipantJoined" && m.from.type === "Agent"), "queued events come with the next reply");
});

test("long-polling /meta/connect: held until the timeout, a second connect answers the first 408, an event answers it at once (connect reply last)", async () => {
  await reset({ timeout: 600 });
  const idle = bayeuxHttp(url);
  await idle.handshake();
  await idle.connect();
  const started = Date.now();
  const held = idle.connect();
  await sleep(100);
  const second = idle.connect();
  assert.equal((await held).status, 408, "the older held connect is cancelled (LongPollScheduler.cancel)");
  const timedOut = await second;
  assert.equal(timedOut.status, 200);
  assert.deepEqual(timedOut.body.map((m) => m.channel), ["/meta/connect"]);
  assert.equal(timedOut.body[0].successful, true);
  assert.ok(Date.now() - started >= 550, "held for the timeout");
  assert.equal(timedOut.body[0].advice, undefined, "advice only when it changes (ServerSessionImpl.takeAdvice)");

  await control("gms", "/config", { timeout: 5000 });
  const raw = bayeuxHttp(url);
  await raw.handshake();
  await raw.connect();
  await raw.publish(channel, { operation: "requestChat", nickname: "Held" });
  const asked = Date.now();
  const woken = await raw.connect(); // held until the agent joins
  assert.ok(Date.now() - asked < 3000, "answered when the event came, not at the timeout");
  assert.equal(woken.body.at(-1).channel, "/meta/connect", "connect reply last");
  assert.ok(messages(woken.body.map((m) => m.data).filter(Boolean)).some((m) => m.type === "ParticipantJoined" && m.from.type === "Agent"));
});

test("max_interval: a client that stops connecting is forgotten (cometd 402 with advice, cometd4 session_unknown)", async () => {
  for (const [errors, error] of [["cometd", "402::Unknown client"], ["cometd4", "402::session_unknown"]]) {
    await reset({ max_interval: 300, errors });
    const raw = bayeuxHttp(url);
    await raw.handshake();
    assert.equal((await raw.connect()).body[0].successful, true);
    await sleep(900);
    const r = await raw.connect();
    assert.equal(r.body[0].successful, false);
    assert.equal(r.body[0].error, error);
    assert.deepEqual(r.body[0].advice, { reconnect: "handshake", interval: 0 });
    // A publish from it: the same error, no advice (BayeuxServerImpl.unknownSession).
    const p = await raw.publish(channel, { operation: "requestChat" });
    assert.equal(p.body[0].error, error);
    assert.equal(p.body[0].advice, undefined);
  }
});

test("a client handshaken over WebSocket may connect over long-polling", async () => {
  await reset();
  const ws = await socket();
  await ws.handshake();
  const raw = bayeuxHttp(url);
  raw.clientId = ws.clientId;
  const r = await raw.connect();
  assert.equal(r.body.at(-1).successful, true);
  assert.equal(r.body.at(-1).advice.timeout, 30000, "advised again for the new transport");
  ws.close();
});

test("browser_cookie: a long-poll without the BAYEUX_BROWSER cookie is an unknown client; the official client keeps it", async () => {
  await reset({ browser_cookie: true });
  const jarless = bayeuxHttp(url, { cookies: false });
  const hs = await jarless.handshake();
  assert.match(hs.headers.get("set-cookie"), /^BAYEUX_BROWSER=/);
  const r = await jarless.connect();
  assert.equal(r.body[0].error, "402::Unknown client");
  const withJar = bayeuxHttp(url);
  await withJar.handshake();
  assert.equal((await withJar.connect()).body[0].successful, true);
  // Handshaken over WebSocket (no cookie there): a long-poll cannot find the session either.
  const ws = await socket();
  await ws.handshake();
  const switched = bayeuxHttp(url, { cookies: false });
  switched.clientId = ws.clientId;
  assert.equal((await switched.connect()).body[0].error, "402::Unknown client");
  const { cometd } = await chatting("long-polling");
  await bye(cometd);
});

test("statusCode 1 on sendMessage: answered 1, not performed; a retry is stored once", async () => {
  await reset();
  const { cometd, notifications, session } = await chatting();
  await control("gms", "/fault/status", { operation: "sendMessage", code: 1 });
  const text = `retry me ${Date.now()}`;
  cometd.publish(channel, { operation: "sendMessage", secureKey: session.secureKey, message: text });
  const busy = await until(() => notifications.find((n) => n.statusCode === 1), 3000, "statusCode 1");
  assert.equal(busy.chatEnded, false);
  assert.equal((await control("gms", "/received")).filter((r) => r.text === text).length, 0, "not performed");
  await sleep(300);
  assert.ok(!messages(notifications).some((m) => m.text === text), "no Message event for it");
  cometd.publish(channel, { operation: "sendMessage", secureKey: session.secureKey, message: text });
  await until(async () => (await control("gms", "/received")).some((r) => r.text === text), 3000, "stored");
  assert.equal((await control("gms", "/received")).filter((r) => r.text === text).length, 1);
  await bye(cometd);
});

test("statusCode 2 on sendMessage and on requestNotifications: chatEnded true, the chat is over", async () => {
  await reset();
  const { cometd, notifications, session } = await chatting("long-polling");
  await control("gms", "/fault/status", { operation: "sendMessage", code: 2 });
  cometd.publish(channel, { operation: "sendMessage", secureKey: session.secureKey, message: "refused" });
  const refused = await until(() => notifications.find((n) => n.statusCode === 2), 3000, "statusCode 2");
  assert.equal(refused.chatEnded, true);
  assert.equal(refused.chatId, session.chatId);
  assert.equal((await control("gms", "/received")).filter((r) => r.text === "refused").length, 0);

  const second = await chatting();
  await control("gms", "/fault/status", { operation: "requestNotifications", code: 2 });
  second.cometd.publish(channel, { operation: "requestNotifications", secureKey: second.session.secureKey, transcriptPosition: 1 });
  const ended = await until(() => second.notifications.find((n) => n.statusCode === 2), 3000, "statusCode 2");
  assert.equal(ended.chatEnded, true);
  const conv = (await control("gms", "/conversations")).conversations.find((c) => c.id === second.session.chatId);
  assert.equal(conv.status, "ended");
  await bye(cometd);
  await bye(second.cometd);
});

test("error_shape bare: a statusCode 2 answer is {statusCode, errors} only", async () => {
  await reset({ error_shape: "bare" });
  const { cometd, notifications, session } = await chatting();
  await control("gms", "/fault/status", { operation: "*", code: 2 });
  cometd.publish(channel, { operation: "sendMessage", secureKey: session.secureKey, message: "x" });
  const err = await until(() => notifications.find((n) => n.statusCode === 2), 3000, "statusCode 2");
  assert.deepEqual(Object.keys(err).sort(), ["errors", "statusCode"]);
  assert.equal(typeof err.errors[0].code, "number");
  await bye(cometd);
});

test("a lost requestChat answer: the chat exists and the agent joins, the client hears nothing; asking again makes another chat", async () => {
  await reset();
  await control("gms", "/fault/lose_answer", { operation: "requestChat" });
  const c = connect();
  await c.handshake;
  const before = (await control("gms", "/conversations")).conversations.length;
  c.cometd.publish(channel, { operation: "requestChat", nickname: "Lost" });
  await sleep(1500);
  assert.equal(c.notifications.length, 0, "no answer, no events");
  const after = (await control("gms", "/conversations")).conversations;
  assert.equal(after.length, before + 1, "but the chat exists");
  const lost = after.at(-1);
  assert.ok(lost.messages.some((m) => m.from === "agent"), "and the agent joined it");
  c.cometd.publish(channel, { operation: "requestChat", nickname: "Lost" });
  const answer = await until(() => c.notifications.find((n) => n.secureKey), 3000, "second answer");
  assert.notEqual(answer.chatId, lost.id, "a different chat");
  await bye(c.cometd);
});

test("a lost sendMessage answer: stored, the visitor's own event not pushed, requestNotifications shows it", async () => {
  await reset({ reply_to_send: true });
  const { cometd, notifications, session } = await chatting();
  await control("gms", "/fault/lose_answer", { operation: "sendMessage" });
  const text = `lost ${Date.now()}`;
  cometd.publish(channel, { operation: "sendMessage", secureKey: session.secureKey, message: text });
  await until(() => messages(notifications).some((m) => m.text === `You said: ${text}`), 5000, "the agent's reply");
  assert.ok(!messages(notifications).some((m) => m.text === text), "own event not pushed");
  assert.ok(!notifications.some((n) => n.statusCode === 0 && n.messages.length === 0 && n !== session), "no reply_to_send answer");
  const before = notifications.length;
  cometd.publish(channel, { operation: "requestNotifications", secureKey: session.secureKey, transcriptPosition: 1 });
  const replay = await until(() => notifications.slice(before).find((n) => n.messages && n.messages.length), 3000, "replay");
  assert.ok(replay.messages.some((m) => m.text === text));
  await bye(cometd);
});

test("expired sessions: requestNotifications is answered statusCode 2 with chatEnded, old clients are unknown", async () => {
  await reset();
  const first = await chatting();
  const raw = bayeuxHttp(url);
  await raw.handshake();
  await control("gms", "/fault/expire", {});
  assert.equal((await raw.connect()).body[0].error, "402::Unknown client");
  await bye(first.cometd);
  const c = connect("long-polling");
  await c.handshake;
  c.cometd.publish(channel, { operation: "requestNotifications", secureKey: first.session.secureKey, transcriptPosition: 1 });
  const err = await until(() => c.notifications.find((n) => n.statusCode === 2), 3000, "statusCode 2");
  assert.equal(err.chatEnded, true);
  await bye(c.cometd);
});

test("batching (metaConnectDeliverOnly): events only with /meta/connect replies, over both transports; the official client still gets them", async () => {
  await reset({ batching: true, timeout: 2000 });
  // Long-polling: a publish reply carries its ack only; the answer comes with the connect.
  const raw = bayeuxHttp(url);
  await raw.handshake();
  await raw.connect();
  const ack = await raw.publish(channel, { operation: "requestChat", nickname: "Batched" });
  assert.deepEqual(ack.body.map((m) => m.channel), [channel]);
  assert.equal(ack.body[0].data, undefined, "no data on the publish reply");
  const c1 = await raw.connect();
  assert.ok(c1.body.some((m) => m.data && m.data.secureKey), "the answer rides on the connect reply");
  assert.equal(c1.body.at(-1).channel, "/meta/connect");

  // WebSocket: every frame with data is followed by a connect reply frame.
  const ws = await socket();
  await ws.handshake();
  ws.connect();
  await ws.waitFor((m) => m.channel === "/meta/connect", 2000, "first connect");
  ws.connect(); // held
  await sleep(50);
  ws.publish(channel, { operation: "requestChat", nickname: "Batched WS" });
  await ws.waitFor((m) => m.data && m.data.secureKey, 3000, "answer");
  await sleep(100);
  const frames = ws.frames;
  frames.forEach((f, i) => {
    if (f.some((m) => m.data)) {
      const carried = f.some((m) => m.channel === "/meta/connect") || (frames[i + 1] && frames[i + 1].some((m) => m.channel === "/meta/connect"));
      assert.ok(carried, `frame ${i} with data goes with a connect reply`);
    }
  });
  ws.close();

  for (const transport of ["websocket", "long-polling"]) {
    const { cometd, notifications } = await chatting(transport);
    await control("gms", "/agent/say", { text: `batched ${transport}` });
    await until(() => messages(notifications).some((m) => m.text === `batched ${transport}`), 5000, "batched event");
    await bye(cometd);
  }
});

test("normalize: text stored trimmed with LF and cut to max_length", async () => {
  await reset({ normalize: true, max_length: 20 });
  const { cometd, notifications, session } = await chatting();
  cometd.publish(channel, { operation: "sendMessage", secureKey: session.secureKey, message: "  hi\r\nthere  " });
  await until(async () => (await control("gms", "/received")).some((r) => r.text === "hi\nthere"), 3000, "normalized");
  await until(() => messages(notifications).some((m) => m.from.type === "Client" && m.text === "hi\nthere"), 3000, "echoed normalized");
  cometd.publish(channel, { operation: "sendMessage", secureKey: session.secureKey, message: "x".repeat(30) });
  await until(async () => (await control("gms", "/received")).some((r) => r.text === "x".repeat(20)), 3000, "cut");
  await bye(cometd);
});

test("transcriptPosition inclusive and exclusive return the documented sets", async () => {
  for (const [mode, first, next] of [["inclusive", 2, (last) => last + 1], ["exclusive", 3, (last) => last]]) {
    await reset({ transcript_position: mode });
    const { cometd, notifications, session } = await chatting();
    await greeted(notifications);
    const before = notifications.length;
    cometd.publish(channel, { operation: "requestNotifications", secureKey: session.secureKey, transcriptPosition: 2 });
    const replay = await until(() => notifications.slice(before).find((n) => n.messages && n.messages.length), 3000, "replay");
    assert.equal(replay.messages[0].index, first, mode);
    assert.equal(replay.nextPosition, next(replay.messages.at(-1).index), `${mode} nextPosition`);
    await bye(cometd);
  }
});

test("reorder: every event arrives once, indexes unique", async () => {
  await reset({ reorder: true });
  const { cometd, notifications } = await chatting();
  for (let i = 0; i < 8; i++) await control("gms", "/agent/say", { text: `r${i}` });
  await until(() => [0, 1, 2, 3, 4, 5, 6, 7].every((i) => messages(notifications).some((m) => m.text === `r${i}`)), 5000, "all");
  const idx = messages(notifications).map((m) => m.index);
  assert.equal(new Set(idx).size, idx.length, "no index twice");
  assert.ok(notifications.every((n) => !n.messages || n.messages.length <= 1), "each event alone");
  await bye(cometd);
});

test("reply_to_send: sendMessage gets its own statusCode 0 answer besides the event", async () => {
  await reset({ reply_to_send: true });
  const { cometd, notifications, session } = await chatting();
  const before = notifications.length;
  cometd.publish(channel, { operation: "sendMessage", secureKey: session.secureKey, message: "answered" });
  const own = await until(() => notifications.slice(before).find((n) => n.statusCode === 0 && n.messages.length === 0), 3000, "answer");
  for (const k of ["alias", "secureKey", "userId", "chatId", "nextPosition"]) assert.ok(own[k] !== undefined, k);
  assert.equal(own.chatEnded, false);
  assert.ok(messages(notifications).some((m) => m.text === "answered"), "and the event");
  await bye(cometd);
});

test("echo_id: Chat V2 answers carry the request's Bayeux id (off by default)", async () => {
  await reset();
  const plain = bayeuxHttp(url);
  await plain.handshake();
  const r0 = await plain.post([{ id: "7", channel, clientId: plain.clientId, data: { operation: "requestChat", nickname: "Raw" } }]);
  assert.equal(r0.body.find((m) => m.data && m.data.secureKey).id, undefined);

  await control("gms", "/config", { echo_id: true });
  const raw = bayeuxHttp(url);
  await raw.handshake();
  const r = await raw.post([{ id: "7", channel, clientId: raw.clientId, data: { operation: "requestChat", nickname: "Raw" } }]);
  assert.equal(r.body.find((m) => m.data && m.data.secureKey).id, "7");
  const bad = await raw.post([{ id: "8", channel, clientId: raw.clientId, data: { operation: "sendMessage", secureKey: "nope", message: "x" } }]);
  assert.equal(bad.body.find((m) => m.data && m.data.statusCode === 2).id, "8");
  // And over WebSocket.
  const ws = await socket();
  await ws.handshake();
  const id = ws.publish(channel, { operation: "requestChat", nickname: "WS" });
  const answer = await ws.waitFor((m) => m.data && m.data.secureKey, 3000, "answer");
  assert.equal(answer.id, id);
  ws.close();
});

test("faye errors: 401 with handshake advice, a publish from an unknown client is accepted and performed, its answer lost", async () => {
  await reset({ errors: "faye" });
  const raw = bayeuxHttp(url);
  raw.clientId = "nobody";
  const unknown = await raw.connect();
  assert.equal(unknown.body[0].error, "401:nobody:Unknown client");
  assert.deepEqual(unknown.body[0].advice, { reconnect: "handshake" });
  const before = (await control("gms", "/conversations")).conversations.length;
  const p = await raw.publish(channel, { operation: "requestChat", nickname: "Ghost" });
  assert.equal(p.body.length, 1);
  assert.equal(p.body[0].successful, true);
  assert.equal((await control("gms", "/conversations")).conversations.length, before + 1, "performed");
});

test("control API: config validation, fault bodies, reset clears faults and refusal", async () => {
  await reset();
  const res = await fetch(`http://127.0.0.1:${ports.gms}/_control/config`, { method: "POST", body: JSON.stringify({ errors: "nope" }) });
  assert.equal(res.status, 400);
  assert.equal((await control("gms", "/config")).errors, "cometd");
  await control("gms", "/fault/status", { operation: "requestChat", code: 1, times: 3 });
  await control("gms", "/refuse", { seconds: 30 });
  assert.equal((await bayeuxHttp(url).handshake()).status, 503);
  await reset();
  const raw = bayeuxHttp(url);
  await raw.handshake();
  const r = await raw.publish(channel, { operation: "requestChat", nickname: "After reset" });
  assert.equal(r.body.find((m) => m.data).data.statusCode, 0, "faults cleared");
});
