// Conformance of the reference GMS server, driven by the official CometD JavaScript client
// (cometd 9 + cometd-nodejs-client) over WebSocket, the way Genesys' Chat V2 sample does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { adapt } from "../../../tools/node_modules/cometd-nodejs-client/cometd-nodejs-client.js";
import { CometD } from "../../../tools/node_modules/cometd/cometd.js";
import { ports, control, until } from "../lib/helpers.mjs";

adapt();
const url = `http://127.0.0.1:${ports.gms}/genesys/cometd`;
const channel = "/service/chatV2/customer-support";

/** The official client over `transport` ("websocket", "long-polling", or "auto": both
 * registered, as a browser page has them). */
function connect(transport = "websocket") {
  const cometd = new CometD();
  if (transport === "websocket") cometd.unregisterTransport("long-polling");
  if (transport === "long-polling") cometd.unregisterTransport("websocket");
  cometd.unregisterTransport("callback-polling");
  cometd.configure({ url, logLevel: "warn" });
  const notifications = [];
  cometd.addListener(channel, (m) => notifications.push(m.data));
  const handshake = new Promise((resolve) => cometd.handshake((reply) => resolve(reply)));
  return { cometd, notifications, handshake };
}

const bye = (cometd) => new Promise((r) => cometd.disconnect(r));

/** A raw long-polling POST (to see ids and codes the official client hides). */
async function post(messages) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(messages) });
  return { status: res.status, body: res.status === 200 ? await res.json() : await res.text() };
}

async function rawClient() {
  const hs = await post([{ id: "1", channel: "/meta/handshake", version: "1.0", supportedConnectionTypes: ["long-polling"] }]);
  return hs.body[0].clientId;
}

const messages = (notifications) => notifications.flatMap((n) => n.messages || []);

for (const transport of ["websocket", "long-polling"]) test(`official CometD client over ${transport}: handshake, requestChat, agent joins and answers once`, async () => {
  await control("gms", "/reset", {});
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

  // Control API: typing, say, end.
  await control("gms", "/agent/say", { text: "from control" });
  await until(() => messages(notifications).some((m) => m.text === "from control"), 3000, "control say");
  cometd.publish(channel, { operation: "disconnect", secureKey: session.secureKey });
  await until(() => notifications.some((n) => n.chatEnded === true), 3000, "chatEnded");
  await bye(cometd);
});

for (const errors of ["cometd", "faye"]) for (const transport of ["websocket", "long-polling"]) test(`official CometD client over ${transport} re-handshakes after a restart (${errors} unknown-client error)`, async () => {
  await control("gms", "/reset", {});
  await control("gms", "/config", { errors });
  const { cometd, notifications, handshake } = connect(transport);
  const handshakes = [];
  cometd.addListener("/meta/handshake", (m) => handshakes.push(m.successful));
  assert.equal((await handshake).successful, true);
  const before = handshakes.filter(Boolean).length;
  const firstId = cometd.getClientId();
  await control("gms", "/restart", {});
  await until(() => handshakes.filter(Boolean).length > before, 10000, "a new handshake");
  assert.notEqual(cometd.getClientId(), firstId, "a new clientId");
  // And the new session works.
  cometd.publish(channel, { operation: "requestChat", nickname: "After restart" });
  await until(() => notifications.find((n) => n.secureKey), 3000, "requestChat after restart");
  await bye(cometd);
  await control("gms", "/reset", {});
});

test("bad secureKey is answered with statusCode 2 and advice", async () => {
  await control("gms", "/reset", {});
  const { cometd, notifications, handshake } = connect();
  await handshake;
  cometd.publish(channel, { operation: "sendMessage", secureKey: "nope", message: "x" });
  const err = await until(() => notifications.find((n) => n.statusCode === 2), 3000, "error");
  assert.match(err.errors[0].advice, /secureKey/);
  await new Promise((r) => cometd.disconnect(r));
});

/** A chat over the official client, up to the agent's greeting. */
async function chatting(transport = "websocket") {
  const c = connect(transport);
  await c.handshake;
  c.cometd.publish(channel, { operation: "requestChat", nickname: "Conformance" });
  const session = await until(() => c.notifications.find((n) => n.secureKey), 3000, "requestChat answer");
  return { ...c, session };
}

test("websocket refused (a proxy): the official client with both transports ends up on long-polling and chats", async () => {
  await control("gms", "/reset", {});
  await control("gms", "/config", { websocket: false });
  const { cometd, notifications, session } = await chatting("auto");
  assert.equal(cometd.getTransport().type, "long-polling");
  const text = `over http ${Date.now()}`;
  cometd.publish(channel, { operation: "sendMessage", secureKey: session.secureKey, message: text });
  await until(() => messages(notifications).some((m) => m.text === `You said: ${text}`), 5000, "reply");
  await bye(cometd);
  await control("gms", "/reset", {});
});

test("long-polling disabled: a long-polling-only handshake fails (HTTP 400)", async () => {
  await control("gms", "/reset", {});
  await control("gms", "/config", { long_polling: false });
  const r = await post([{ id: "1", channel: "/meta/handshake", version: "1.0", supportedConnectionTypes: ["long-polling"] }]);
  assert.equal(r.status, 400);
  await control("gms", "/reset", {});
});

test("statusCode 1 is not performed (a retry is stored once); statusCode 2 says the chat ended", async () => {
  await control("gms", "/reset", {});
  const { cometd, notifications, session } = await chatting();
  await control("gms", "/fault/status", { operation: "sendMessage", code: 1 });
  const text = `retry me ${Date.now()}`;
  cometd.publish(channel, { operation: "sendMessage", secureKey: session.secureKey, message: text });
  await until(() => notifications.find((n) => n.statusCode === 1), 3000, "statusCode 1");
  assert.equal((await control("gms", "/received")).filter((r) => r.text === text).length, 0, "not performed");
  cometd.publish(channel, { operation: "sendMessage", secureKey: session.secureKey, message: text });
  await until(async () => (await control("gms", "/received")).some((r) => r.text === text), 3000, "stored");
  assert.equal((await control("gms", "/received")).filter((r) => r.text === text).length, 1);
  await control("gms", "/fault/status", { operation: "sendMessage", code: 2 });
  cometd.publish(channel, { operation: "sendMessage", secureKey: session.secureKey, message: "refused" });
  const refused = await until(() => notifications.find((n) => n.statusCode === 2), 3000, "statusCode 2");
  assert.equal(refused.chatEnded, true);
  await bye(cometd);
});

test("a lost requestChat answer: the chat exists, its answer never comes", async () => {
  await control("gms", "/reset", {});
  await control("gms", "/fault/lose_answer", { operation: "requestChat" });
  const c = connect();
  await c.handshake;
  const before = (await control("gms", "/conversations")).conversations.length;
  c.cometd.publish(channel, { operation: "requestChat", nickname: "Lost" });
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(c.notifications.filter((n) => n.secureKey).length, 0, "no answer");
  assert.equal((await control("gms", "/conversations")).conversations.length, before + 1, "but the chat exists");
  await bye(c.cometd);
});

test("expired sessions: requestNotifications is answered statusCode 2", async () => {
  await control("gms", "/reset", {});
  const first = await chatting();
  await bye(first.cometd);
  await control("gms", "/fault/expire", {});
  const c = connect();
  await c.handshake;
  c.cometd.publish(channel, { operation: "requestNotifications", secureKey: first.session.secureKey, transcriptPosition: 1 });
  const err = await until(() => c.notifications.find((n) => n.statusCode === 2), 3000, "statusCode 2");
  assert.equal(err.chatEnded, true);
  await bye(c.cometd);
});

test("batching: events only in connect replies, and the official client still gets them", async () => {
  await control("gms", "/reset", {});
  await control("gms", "/config", { batching: true, timeout: 1000 });
  const { cometd, notifications, session } = await chatting();
  await control("gms", "/agent/say", { text: "batched" });
  await until(() => messages(notifications).some((m) => m.text === "batched"), 5000, "batched event");
  assert.ok(session.secureKey);
  await bye(cometd);
  await control("gms", "/reset", {});
});

test("normalize: text stored trimmed with LF", async () => {
  await control("gms", "/reset", {});
  await control("gms", "/config", { normalize: true });
  const { cometd, session } = await chatting();
  const tag = `n${Date.now()}`;
  cometd.publish(channel, { operation: "sendMessage", secureKey: session.secureKey, message: `  ${tag}\r\nthere  ` });
  await until(async () => (await control("gms", "/received")).some((r) => r.text === `${tag}\nthere`), 3000, "normalized");
  await bye(cometd);
  await control("gms", "/reset", {});
});

test("transcriptPosition inclusive and exclusive return the documented sets", async () => {
  for (const [mode, first] of [["inclusive", 2], ["exclusive", 3]]) {
    await control("gms", "/reset", {});
    await control("gms", "/config", { transcript_position: mode });
    const { cometd, notifications, session } = await chatting();
    await until(() => messages(notifications).length >= 2, 3000, "agent joined");
    const before = notifications.length;
    cometd.publish(channel, { operation: "requestNotifications", secureKey: session.secureKey, transcriptPosition: 2 });
    const replay = await until(() => notifications.slice(before).find((n) => n.messages && n.messages.length), 3000, "replay");
    assert.equal(replay.messages[0].index, first, mode);
    await bye(cometd);
  }
  await control("gms", "/reset", {});
});

test("reorder: every event arrives once, indexes unique", async () => {
  await control("gms", "/reset", {});
  await control("gms", "/config", { reorder: true });
  const { cometd, notifications } = await chatting();
  for (let i = 0; i < 8; i++) await control("gms", "/agent/say", { text: `r${i}` });
  await until(() => [0, 1, 2, 3, 4, 5, 6, 7].every((i) => messages(notifications).some((m) => m.text === `r${i}`)), 5000, "all");
  const idx = messages(notifications).map((m) => m.index);
  assert.equal(new Set(idx).size, idx.length, "no index twice");
  await bye(cometd);
  await control("gms", "/reset", {});
});

test("echo_id: the requestChat answer carries the request's Bayeux id; faye errors use 401", async () => {
  await control("gms", "/reset", {});
  await control("gms", "/config", { echo_id: true, errors: "faye" });
  const clientId = await rawClient();
  const r = await post([{ id: "7", channel, clientId, data: { operation: "requestChat", nickname: "Raw" } }]);
  const answer = r.body.find((m) => m.data && m.data.secureKey);
  assert.equal(answer && answer.id, "7");
  const unknown = await post([{ id: "8", channel: "/meta/connect", clientId: "nobody", connectionType: "long-polling" }]);
  assert.match(unknown.body[0].error, /^401:nobody:Unknown client/);
  await control("gms", "/reset", {});
});
