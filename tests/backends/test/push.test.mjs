// Conformance of the reference Push server, driven by the genuine socketcluster-client v9 the
// way Push's webchat does (one-argument registerUser callback reading the error slot).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { ports, control, until } from "../lib/helpers.mjs";

const require = createRequire(import.meta.url);
const socketCluster = require("../../../tools/node_modules/socketcluster-client");

function connect() {
  const socket = socketCluster.connect({
    hostname: "127.0.0.1", port: ports.push, autoReconnect: false, multiplex: false,
    query: { channelUUID: "cf3d62bc-5cab-4561-a96b-3abed4e5be44", hostApi: "https://new.push.al" },
  });
  socket.errors = [];
  socket.on("error", (e) => socket.errors.push(e)); // dropped and refused sockets report here
  return socket;
}

const once = (socket, event) => new Promise((resolve) => socket.once(event, resolve));

test("socketcluster-client v9: register Push-style, subscribe, send once, get the agent's reply", async () => {
  const socket = connect();
  await once(socket, "connect");
  const urn = await new Promise((resolve) => socket.emit("registerUser", {}, (response) => resolve(JSON.parse(response).urn)));
  assert.match(urn, /^[0-9a-f-]{36}$/);
  const inbox = [];
  socket.subscribe(urn).watch((data) => { if (data.to === urn) inbox.push(data); });
  await until(() => inbox.length >= 1, 3000, "greeting");
  assert.deepEqual(inbox[0].quick_replies, ["Track my order", "Talk to a person"]);

  const text = `hi ${Date.now()}`;
  const ack = await new Promise((resolve) => socket.emit("sendMessageToChannel", { text, userUrn: urn, clientId: "c1" }, (err, data) => resolve({ err, data })));
  assert.equal(ack.data, "success");
  // A resend with the same clientId is acknowledged but not delivered twice.
  socket.emit("sendMessageToChannel", { text, userUrn: urn, clientId: "c1" });
  const reply = await until(() => inbox.find((m) => m.text === `You said: ${text}`), 3000, "reply");
  assert.deepEqual(reply.quick_replies, ["Yes", "No"]);
  await new Promise((r) => setTimeout(r, 200));
  const received = await control("push", "/received");
  assert.equal(received.filter((r) => r.text === text).length, 1, "exactly once");

  await control("push", "/agent/say", { text: "from control", urn });
  await until(() => inbox.some((m) => m.text === "from control"), 3000, "control say");
  socket.disconnect();
});

test("payloads go only to their urn", async () => {
  const a = connect();
  const b = connect();
  await Promise.all([once(a, "connect"), once(b, "connect")]);
  const reg = (s) => new Promise((resolve) => s.emit("registerUser", {}, (r) => resolve(JSON.parse(r).urn)));
  const [ua, ub] = await Promise.all([reg(a), reg(b)]);
  const seenByB = [];
  b.subscribe(ub).watch((d) => seenByB.push(d));
  a.subscribe(ua).watch(() => {});
  await until(() => seenByB.length >= 1, 3000, "b's greeting");
  a.emit("sendMessageToChannel", { text: "for a only", userUrn: ua });
  await new Promise((r) => setTimeout(r, 1000));
  assert.ok(seenByB.every((d) => d.to === ub && !String(d.text).includes("for a only")));
  a.disconnect();
  b.disconnect();
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
  await new Promise((r) => setTimeout(r, 1100));
  const again = connect();
  await once(again, "connect");
  again.disconnect();
});
