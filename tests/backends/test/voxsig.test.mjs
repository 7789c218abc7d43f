// Smoke test of the reference Voxsig server: ActionCable over WebSocket (Rails' own server)
// plus the public client REST API, as the widget uses them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { ports, control, until } from "../lib/helpers.mjs";

const require = createRequire(import.meta.url);
const WebSocket = require("../../../tools/node_modules/ws");
const base = `http://127.0.0.1:${ports.voxsig}`;
const api = `${base}/public/api/v1/inboxes/demo-inbox`;

async function rest(method, path, body) {
  const res = await fetch(`${api}${path}`, { method, headers: { "content-type": "application/json" }, body: body && JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

function cable(token) {
  const ws = new WebSocket(`ws://127.0.0.1:${ports.voxsig}/cable`, ["actioncable-v1-json", "actioncable-unsupported"]);
  const frames = [];
  ws.on("message", (d) => frames.push(JSON.parse(d.toString())));
  const identifier = JSON.stringify({ channel: "RoomChannel", pubsub_token: token });
  const events = () => frames.filter((f) => f.message).map((f) => f.message);
  return { ws, frames, identifier, events, send: (o) => ws.send(JSON.stringify(o)) };
}

test("contact → socket → subscription → conversation → message echoed, read and answered once", async () => {
  const { status, body: contact } = await rest("POST", "/contacts", { name: "Smoke" });
  assert.equal(status, 200);
  assert.ok(contact.source_id && contact.pubsub_token);
  const c = cable(contact.pubsub_token);
  await until(() => c.frames.some((f) => f.type === "welcome"), 3000, "welcome");
  assert.equal(c.ws.protocol, "actioncable-v1-json");
  c.send({ command: "subscribe", identifier: c.identifier });
  await until(() => c.frames.some((f) => f.type === "confirm_subscription" && f.identifier === c.identifier), 3000, "confirm");
  c.send({ command: "message", identifier: c.identifier, data: JSON.stringify({ action: "update_presence" }) });
  await until(() => c.events().some((e) => e.event === "presence.update" && e.data.users["1"] === "online"), 3000, "presence");

  const { body: conv } = await rest("POST", `/contacts/${contact.source_id}/conversations`, {});
  await until(() => c.events().some((e) => e.event === "conversation.created" && e.data.id === conv.id), 3000, "conversation.created");
  await until(() => c.events().some((e) => e.event === "message.created" && e.data.message_type === 1), 3000, "greeting");

  const text = `hello ${Date.now()}`;
  const post = await rest("POST", `/contacts/${contact.source_id}/conversations/${conv.id}/messages`, { content: text, echo_id: "e-1" });
  assert.equal(post.status, 200);
  // A retry with the same echo_id is not a second message.
  const retry = await rest("POST", `/contacts/${contact.source_id}/conversations/${conv.id}/messages`, { content: text, echo_id: "e-1" });
  assert.equal(retry.body.id, post.body.id);
  await until(() => c.events().some((e) => e.event === "message.created" && e.data.echo_id === "e-1"), 3000, "echo");
  await until(() => c.events().some((e) => e.event === "conversation.typing_on"), 3000, "typing");
  await until(() => c.events().some((e) => e.event === "message.updated" && e.data.id === post.body.id && e.data.status === "read"), 3000, "read");
  await until(() => c.events().some((e) => e.event === "message.created" && e.data.content === `You said: ${text}`), 3000, "reply");
  const received = await control("voxsig", "/received");
  assert.equal(received.filter((r) => r.content === text).length, 1, "exactly once");

  const after = await rest("GET", `/contacts/${contact.source_id}/conversations/${conv.id}/messages?after=${post.body.id}`);
  assert.ok(after.body.every((m) => m.id > post.body.id) && after.body.length >= 1);

  await control("voxsig", "/agent/end", { conversation_id: conv.id });
  await until(() => c.events().some((e) => e.event === "conversation.status_changed" && e.data.status === "resolved"), 3000, "resolved");
  c.ws.close();
});

test("an unknown pubsub token gets neither confirm nor reject (as Chatwoot)", async () => {
  const c = cable("not-a-token");
  await until(() => c.frames.some((f) => f.type === "welcome"), 3000, "welcome");
  c.send({ command: "subscribe", identifier: c.identifier });
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(!c.frames.some((f) => f.type === "confirm_subscription" || f.type === "reject_subscription"));
  c.ws.close();
});

test("unknown inbox is 404; drop, refuse and restart control the sockets", async () => {
  const res = await fetch(`${base}/public/api/v1/inboxes/nope/contacts`, { method: "POST", body: "{}" });
  assert.equal(res.status, 404);
  const { body: contact } = await rest("POST", "/contacts", {});
  const c = cable(contact.pubsub_token);
  await until(() => c.frames.some((f) => f.type === "welcome"), 3000, "welcome");
  const closed = new Promise((r) => c.ws.once("close", r));
  await control("voxsig", "/restart", {});
  await until(() => c.frames.some((f) => f.type === "disconnect" && f.reason === "server_restart" && f.reconnect === true), 3000, "disconnect");
  await closed;
  await control("voxsig", "/refuse", { seconds: 1 });
  const refused = await rest("POST", "/contacts", {});
  assert.equal(refused.status, 503);
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await rest("POST", "/contacts", {})).status, 200);
});
