// Conformance of the reference Push server, driven by the genuine socketcluster-client v9 the
// way Push's webchat does (push-webchat 1.8.0 = Ilhasoft/weni-webchannel abbfa90: one-argument
// registerUser callback reading the error slot, sendMessageToChannel without a callback,
// subscribe(urn).watch keeping `data.to === urn`). Each case starts from POST /_control/reset.
import { test, beforeEach, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { ports, control, until } from "../lib/helpers.mjs";

const require = createRequire(import.meta.url);
const socketCluster = require("../../../tools/node_modules/socketcluster-client");

const open = [];
const everyone = [];
function connect() {
  // multiplex: false, or v9 hands every connect() to the same URL the same socket.
  const socket = socketCluster.connect({
    hostname: "127.0.0.1", port: ports.push, autoReconnect: false, multiplex: false,
    query: { channelUUID: "cf3d62bc-5cab-4561-a96b-3abed4e5be44", hostApi: "https://new.push.al" },
  });
  socket.errors = [];
  socket.on("error", (e) => socket.errors.push(e)); // timeouts, dropped and refused sockets report here
  socket.transports = []; // earlier transports of a socket connected again, for cleanup
  socket.on("connecting", () => { if (socket.transport) socket.transports.push(socket.transport); });
  open.push(socket);
  everyone.push(socket);
  return socket;
}

const once = (emitter, event) => new Promise((resolve) => emitter.once(event, (...a) => resolve(a)));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Resolves with the callback's arguments, or "no answer" after `ms`. */
const emitWaiting = (socket, event, data, ms) => new Promise((resolve) => {
  const timer = setTimeout(() => resolve("no answer"), ms);
  socket.emit(event, data, (err, answer) => { clearTimeout(timer); resolve({ err, answer }); });
});
/** An emit without a callback, as push-webchat sends sendMessageToChannel. The v9 client still
 * arms its 10 s ack timer for it (lib/scsocket.js _emit) and never clears it: unref'd here so
 * the run does not wait for it. */
function tell(socket, event, data) {
  const arm = globalThis.setTimeout;
  globalThis.setTimeout = (...a) => arm(...a).unref();
  try { socket.emit(event, data); } finally { globalThis.setTimeout = arm; }
}
/** registerUser as push-webchat does: the answer is a JSON string in the error slot. */
const register = (socket, data = {}) => new Promise((resolve) => socket.emit("registerUser", data, (response, second) => resolve({ response, second })));

/** Connects, registers and (unless told not to) subscribes the way push-webchat does. */
async function visitor({ subscribe = true } = {}) {
  const socket = connect();
  await once(socket, "connect");
  const { response } = await register(socket);
  const urn = JSON.parse(response).urn;
  const inbox = [];
  const channel = subscribe ? socket.subscribe(urn) : null;
  if (channel) channel.watch((data) => { if (data.to === urn) inbox.push(data); });
  return { socket, urn, inbox, channel };
}

beforeEach(async () => {
  while (open.length) open.pop().disconnect();
  await control("push", "/reset", {});
});
after(async () => {
  while (open.length) open.pop().disconnect();
  await control("push", "/reset", {});
  // The v9 client leaves its transport's ping timeout (the server's pingTimeout, 20 s) running
  // after a close (lib/sctransport.js _onClose does not clear _pingTimeoutTicker): clear it, or
  // the run waits 20 s for nothing.
  for (const s of everyone) for (const t of [...s.transports, s.transport]) if (t) clearTimeout(t._pingTimeoutTicker);
});

test("registerUser answers a JSON string {urn} in the error slot; {id} keeps the session id", async () => {
  const socket = connect();
  await once(socket, "connect");
  const fresh = await register(socket);
  assert.equal(typeof fresh.response, "string");
  assert.match(JSON.parse(fresh.response).urn, /^[0-9a-f-]{36}$/);
  assert.equal(fresh.second, undefined, "nothing in the data slot");
  const kept = await register(socket, { id: "session-1234" });
  assert.equal(JSON.parse(kept.response).urn, "session-1234");
});

test("sendMessageToChannel is never acknowledged by default; ack: true answers \"success\"", async () => {
  const { socket, urn, inbox } = await visitor();
  assert.equal(await emitWaiting(socket, "sendMessageToChannel", { text: "hello", userUrn: urn }, 1000), "no answer");
  // The message was taken all the same, and answered by the agent.
  const reply = await until(() => inbox.find((m) => m.text === "You said: hello"), 3000, "reply");
  assert.deepEqual(reply.quick_replies, ["Yes", "No"]);

  await control("push", "/config", { ack: true });
  const acked = await emitWaiting(socket, "sendMessageToChannel", { text: "again", userUrn: urn }, 1000);
  assert.deepEqual(acked, { err: null, answer: "success" });
});

test("the same text sent twice is stored twice: no de-duplication, clientId ignored", async () => {
  const { socket, urn } = await visitor({ subscribe: false });
  const text = `twice ${Date.now()}`;
  tell(socket, "sendMessageToChannel", { text, userUrn: urn, clientId: "c1" });
  tell(socket, "sendMessageToChannel", { text, userUrn: urn, clientId: "c1" });
  const received = await until(async () => {
    const all = (await control("push", "/received")).filter((r) => r.text === text);
    return all.length === 2 && all;
  }, 3000, "both copies");
  assert.deepEqual(Object.keys(received[0]).sort(), ["at", "text", "urn"]);
  assert.ok(received.every((r) => r.urn === urn));
});

test("agent bodies are courier External bodies addressed to the urn", async () => {
  const { urn, inbox } = await visitor();
  const greeting = await until(() => inbox[0], 3000, "greeting");
  assert.equal(greeting.text, "Hello! I'm Ana. How can I help?");
  assert.deepEqual(greeting.quick_replies, ["Track my order", "Talk to a person"]);
  assert.equal(greeting.to, urn);
  assert.equal(greeting.to_no_plus, urn);
  assert.match(greeting.id, /^\d+$/, "courier's msg id, as a string");
  for (const key of ["from", "from_no_plus", "channel", "metadata"]) assert.ok(key in greeting, key);
  assert.equal(greeting.channel, "cf3d62bc-5cab-4561-a96b-3abed4e5be44");
});

test("a long agent text arrives in parts sharing one id, quick replies on the last only", async () => {
  const { urn, inbox } = await visitor();
  await until(() => inbox.length === 1, 3000, "greeting");
  const text = "abcd ".repeat(300).trim(); // 1499 characters
  await control("push", "/agent/say", { text, quick_replies: ["A", "B"], conversation_id: urn });
  await until(() => inbox.length === 4, 3000, "three parts");
  const parts = inbox.slice(1);
  assert.equal(new Set(parts.map((p) => p.id)).size, 1, "one id");
  assert.notEqual(parts[0].id, inbox[0].id, "a new id per message");
  assert.ok(parts.every((p) => p.text.length <= 640));
  assert.deepEqual(parts.map((p) => p.quick_replies), [[], [], ["A", "B"]]);
  assert.equal(parts.map((p) => p.text).join(" "), text, "split on spaces, nothing lost");
  const log = (await control("push", "/published")).filter((p) => p.id === parts[0].id);
  assert.deepEqual(log.map((p) => [p.part, p.parts, p.subscribers]), [[1, 3, 1], [2, 3, 1], [3, 3, 1]]);

  // A shorter limit splits more (courier's default is 160).
  await control("push", "/config", { split_length: 160 });
  await control("push", "/agent/say", { text: "x".repeat(400), conversation_id: urn });
  await until(() => inbox.length === 7, 3000, "three parts of 160");
  assert.deepEqual(inbox.slice(4).map((p) => p.text.length), [160, 160, 80]);
});

test("attachments are appended to the text as URLs", async () => {
  const { urn, inbox } = await visitor();
  await until(() => inbox.length === 1, 3000, "greeting");
  await control("push", "/agent/say", { text: "My pic!", attachments: ["image/jpeg:https://foo.bar/image.jpg"], conversation_id: urn });
  const body = await until(() => inbox[1], 3000, "attachment");
  assert.equal(body.text, "My pic!\nhttps://foo.bar/image.jpg");
  assert.equal(body.attachments, undefined, "no attachments field by default");
});

test("a publish while nobody is subscribed is lost: no mailbox, no history", async () => {
  const { socket, urn } = await visitor({ subscribe: false });
  await control("push", "/agent/say", { text: "nobody listens", conversation_id: urn });
  const inbox = [];
  socket.subscribe(urn).watch((d) => { if (d.to === urn) inbox.push(d); });
  await until(() => inbox.length >= 1, 3000, "greeting on subscribe");
  await sleep(600);
  assert.deepEqual(inbox.map((d) => d.text), ["Hello! I'm Ana. How can I help?"]);
  const log = await control("push", "/published");
  assert.equal(log.find((p) => p.text === "nobody listens").subscribers, 0);
  assert.equal(log.find((p) => p.text.startsWith("Hello!")).subscribers, 1);
  // The SocketCluster-era server does not answer getHistory.
  assert.equal(await emitWaiting(socket, "getHistory", { urn }, 1000), "no answer");
});

test("both_paths: each body comes as #publish and as receivedMessageFromChannel", async () => {
  await control("push", "/config", { both_paths: true });
  const socket = connect();
  await once(socket, "connect");
  const { response } = await register(socket);
  const urn = JSON.parse(response).urn;
  const events = [];
  socket.on("receivedMessageFromChannel", (data) => events.push(data));
  const inbox = [];
  socket.subscribe(urn).watch((d) => inbox.push(d));
  await until(() => inbox.length === 1 && events.length === 1, 3000, "both paths");
  assert.deepEqual(events[0], inbox[0]);
});

test("subscribe_answer false: the subscribe callback never fires, publishes arrive", async () => {
  await control("push", "/config", { subscribe_answer: false });
  const { socket, urn, inbox, channel } = await visitor();
  let confirmed = false;
  channel.on("subscribe", () => { confirmed = true; });
  socket.on("subscribeFail", () => { confirmed = "failed"; });
  await until(() => inbox.length === 1, 3000, "greeting");
  await control("push", "/agent/say", { text: "still here", conversation_id: urn });
  await until(() => inbox.length === 2, 3000, "a publish");
  await sleep(500);
  assert.equal(confirmed, false);
  assert.equal(channel.getState(), "pending");
});

test("set_auth_token: the client gets a token and presents it on its next handshake", async () => {
  await control("push", "/config", { set_auth_token: true });
  const socket = connect();
  await once(socket, "connect");
  const authenticated = once(socket, "authenticate");
  const { response } = await register(socket);
  const urn = JSON.parse(response).urn;
  await authenticated;
  assert.equal(socket.authToken.urn, urn);
  const closed = once(socket, "close");
  socket.disconnect();
  await closed;
  socket.connect();
  await once(socket, "connect");
  const sessions = await control("push", "/sessions");
  const again = sessions.find((s) => s.id === socket.id);
  assert.ok(again, "the new connection is listed");
  assert.equal(again.presented_token.urn, urn);
  assert.equal(again.auth_error, null);
  const first = sessions.find((s) => s.registered.includes(urn));
  assert.equal(first.presented_token, null, "nothing presented the first time");
  assert.deepEqual(first.issued_token, { urn });
});

test("history: getHistory answers the urn's published bodies", async () => {
  await control("push", "/config", { history: true });
  const { socket, urn, inbox } = await visitor();
  await until(() => inbox.length === 1, 3000, "greeting");
  const { err, answer } = await emitWaiting(socket, "getHistory", { urn }, 1000);
  assert.equal(err, null);
  assert.deepEqual(answer.map((b) => [b.id, b.text]), [[inbox[0].id, inbox[0].text]]);
  const later = await emitWaiting(socket, "getHistory", { urn, after: inbox[0].id }, 1000);
  assert.deepEqual(later.answer, []);
});

test("payloads go only to their urn", async () => {
  const a = await visitor();
  const b = await visitor();
  await until(() => a.inbox.length === 1 && b.inbox.length === 1, 3000, "greetings");
  const seenByB = [];
  b.socket.subscribe(b.urn).watch((d) => seenByB.push(d));
  tell(a.socket, "sendMessageToChannel", { text: "for a only", userUrn: a.urn });
  await until(() => a.inbox.length === 2, 3000, "a's reply");
  await sleep(200);
  assert.ok(seenByB.every((d) => d.to === b.urn && !String(d.text).includes("for a only")));
});

test("kickout: #kickOut unsubscribes, later publishes reach nobody", async () => {
  const { socket, urn, inbox, channel } = await visitor();
  await until(() => inbox.length === 1, 3000, "greeting");
  const kicked = once(socket, "kickOut");
  assert.equal((await control("push", "/kickout", { conversation_id: urn })).kicked, 1);
  await kicked;
  assert.equal(channel.getState(), "unsubscribed");
  await control("push", "/agent/say", { text: "after the kick", conversation_id: urn });
  const log = await control("push", "/published");
  assert.equal(log.find((p) => p.text === "after the kick").subscribers, 0);
});

test("restart closes with 1011; forget drops a kept urn's sends silently", async () => {
  const { socket, urn, inbox } = await visitor();
  await until(() => inbox.length === 1, 3000, "greeting");
  const closed = once(socket, "close");
  await control("push", "/restart", { forget: true });
  assert.equal((await closed)[0], 1011);
  // push-webchat keeps its urn and subscribes again without registerUser.
  const again = connect();
  await once(again, "connect");
  again.subscribe(urn);
  assert.equal(await emitWaiting(again, "sendMessageToChannel", { text: "into the void", userUrn: urn }, 500), "no answer");
  await until(async () => (await control("push", "/dropped")).some((d) => d.text === "into the void"), 2000, "dropped");
  assert.ok(!(await control("push", "/received")).some((r) => r.text === "into the void"));
  const conversations = await control("push", "/conversations");
  assert.ok(!conversations.conversations.some((c) => c.id === urn), "forgotten");
});

test("refusing connections, then accepting again; drop closes live sockets", async () => {
  const live = connect();
  await once(live, "connect");
  const closed = once(live, "close");
  await control("push", "/drop", {});
  await closed;
  await control("push", "/refuse", { seconds: 1 });
  const refused = connect();
  const outcome = await Promise.race([once(refused, "connect").then(() => "connected"), once(refused, "close").then(() => "refused")]);
  assert.equal(outcome, "refused");
  refused.disconnect();
  await sleep(1100);
  const again = connect();
  await once(again, "connect");
});

test("config: unknown values are refused, reset restores the defaults", async () => {
  const bad = await control("push", "/config", { unknown_urn: "maybe" });
  assert.match(bad.error, /unknown_urn/);
  await control("push", "/config", { ack: true, split_length: 100 });
  const after = await control("push", "/reset", {});
  assert.deepEqual(after, {
    ack: false, split_length: 640, both_paths: false, subscribe_answer: true, set_auth_token: false,
    history: false, unknown_urn: "drop", attachments_field: false,
  });
});
