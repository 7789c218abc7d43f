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

function connect() {
  const cometd = new CometD();
  cometd.unregisterTransport("long-polling");
  cometd.unregisterTransport("callback-polling");
  cometd.configure({ url, logLevel: "warn" });
  const notifications = [];
  cometd.addListener(channel, (m) => notifications.push(m.data));
  const handshake = new Promise((resolve) => cometd.handshake((reply) => resolve(reply)));
  return { cometd, notifications, handshake };
}

const messages = (notifications) => notifications.flatMap((n) => n.messages || []);

test("official CometD client: handshake over websocket, requestChat, agent joins and answers once", async () => {
  const { cometd, notifications, handshake } = connect();
  const hs = await handshake;
  assert.equal(hs.successful, true);
  assert.equal(cometd.getTransport().type, "websocket");

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
  await new Promise((r) => cometd.disconnect(r));
});

test("official CometD client re-handshakes after the server forgets it (402 unknown client)", async () => {
  const { cometd, notifications, handshake } = connect();
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
  await new Promise((r) => cometd.disconnect(r));
});

test("bad secureKey is answered with statusCode 2 and advice", async () => {
  const { cometd, notifications, handshake } = connect();
  await handshake;
  cometd.publish(channel, { operation: "sendMessage", secureKey: "nope", message: "x" });
  const err = await until(() => notifications.find((n) => n.statusCode === 2), 3000, "error");
  assert.match(err.errors[0].advice, /secureKey/);
  await new Promise((r) => cometd.disconnect(r));
});
