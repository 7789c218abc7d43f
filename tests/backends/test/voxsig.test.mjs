// Conformance test of the reference Voxsig server against real Chatwoot's behaviour (its public
// client API and RoomChannel as the chatwoot/chatwoot source has them; see the citations in
// tests/backends/voxsig/*.rb): ActionCable over WebSocket (Rails' own server) plus REST.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { ports, control, until } from "../lib/helpers.mjs";

const require = createRequire(import.meta.url);
const WebSocket = require("../../../tools/node_modules/ws");
const base = `http://127.0.0.1:${ports.voxsig}`;
const api = `${base}/public/api/v1/inboxes/demo-inbox`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function rest(method, path, body) {
  const res = await fetch(`${api}${path}`, { method, headers: { "content-type": "application/json" }, body: body && JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
}

function cable(token) {
  const ws = new WebSocket(`ws://127.0.0.1:${ports.voxsig}/cable`, ["actioncable-v1-json", "actioncable-unsupported"]);
  const frames = [];
  ws.on("message", (d) => frames.push(JSON.parse(d.toString())));
  const identifier = JSON.stringify({ channel: "RoomChannel", pubsub_token: token });
  const events = () => frames.filter((f) => f.message).map((f) => f.message);
  return { ws, frames, identifier, events, send: (o) => ws.send(JSON.stringify(o)) };
}

async function subscribed(token) {
  const c = cable(token);
  await until(() => c.frames.some((f) => f.type === "welcome"), 3000, "welcome");
  c.send({ command: "subscribe", identifier: c.identifier });
  await until(() => c.frames.some((f) => f.type === "confirm_subscription"), 3000, "confirm");
  return c;
}

/** A contact with a subscribed socket and a conversation whose greeting has arrived. */
async function visitor(name = "Visitor") {
  const { body: contact } = await rest("POST", "/contacts", { name });
  const c = await subscribed(contact.pubsub_token);
  const { body: conv } = await rest("POST", `/contacts/${contact.source_id}/conversations`, {});
  const path = `/contacts/${contact.source_id}/conversations/${conv.id}`;
  await until(() => c.events().some((e) => e.event === "message.created" && e.data.conversation_id === conv.id && e.data.message_type === 1), 5000, "greeting");
  return { contact, conv, c, path };
}

const created = (c, pred = () => true) => c.events().filter((e) => e.event === "message.created" && pred(e.data)).map((e) => e.data);
const received = async (convId) => (await control("voxsig", "/received")).filter((r) => r.conversation_id === convId);
const stored = (convId) => control("voxsig", `/messages?conversation_id=${convId}`);

test("contact → socket → presence → conversation → message answered; a repeated echo_id is a second message", async () => {
  const { body: contact, status } = await rest("POST", "/contacts", { name: "Smoke" });
  assert.equal(status, 200);
  assert.ok(contact.source_id && contact.pubsub_token);
  const c = await subscribed(contact.pubsub_token);
  assert.equal(c.ws.protocol, "actioncable-v1-json");
  // RoomChannel#subscribed broadcasts presence right after stream_from, which may or may not be
  // streaming yet (as with Chatwoot's Redis adapter), so it is not awaited here; update_presence is.
  c.send({ command: "message", identifier: c.identifier, data: JSON.stringify({ action: "update_presence" }) });
  await until(() => c.events().some((e) => e.event === "presence.update" && e.data.users["1"] === "online"), 3000, "presence");

  const { body: conv } = await rest("POST", `/contacts/${contact.source_id}/conversations`, {});
  const path = `/contacts/${contact.source_id}/conversations/${conv.id}`;
  await until(() => c.events().some((e) => e.event === "conversation.created" && e.data.id === conv.id), 3000, "conversation.created");
  await until(() => c.events().some((e) => e.event === "conversation.updated" && e.data.meta.assignee?.id === 1), 3000, "assigned");
  await until(() => created(c, (m) => m.message_type === 1).length, 3000, "greeting");

  const text = `hello ${Date.now()}`;
  const first = await rest("POST", `${path}/messages`, { content: text, echo_id: "e-1" });
  assert.equal(first.status, 200);
  assert.equal(first.body.echo_id, undefined, "no echo_id in the REST body");
  assert.deepEqual(Object.keys(first.body).sort(), ["content", "content_attributes", "content_type", "conversation_id", "created_at", "id", "message_type", "sender"]);
  const retry = await rest("POST", `${path}/messages`, { content: text, echo_id: "e-1" });
  assert.equal(retry.status, 200);
  assert.ok(retry.body.id > first.body.id, "a repeated echo_id creates a new message");
  await until(() => created(c, (m) => m.echo_id === "e-1").length === 2, 3000, "both echoes");
  assert.deepEqual(created(c, (m) => m.echo_id === "e-1").map((m) => m.id).sort(), [first.body.id, retry.body.id].sort());
  assert.equal((await received(conv.id)).filter((r) => r.content === text).length, 2, "/received records the duplicate");
  // Neither echo_id nor status is kept anywhere the REST API shows.
  const page = await rest("GET", `${path}/messages`);
  assert.ok(page.body.every((m) => !("echo_id" in m)));
  assert.equal(page.body.filter((m) => m.content === text).length, 2);

  await until(() => c.events().some((e) => e.event === "conversation.typing_on"), 3000, "typing");
  await until(() => created(c, (m) => m.content === `You said: ${text}`).length === 2, 5000, "two replies");

  // toggle_typing and update_last_seen are `head :ok`; the latter marks agent messages read.
  const typing = await rest("POST", `${path}/toggle_typing`, { typing_status: "on" });
  assert.equal(typing.status, 200);
  assert.equal(typing.text, "");
  const seen = await rest("POST", `${path}/update_last_seen`);
  assert.equal(seen.status, 200);
  await until(() => c.events().some((e) => e.event === "message.updated" && e.data.message_type === 1 && e.data.status === "read"), 3000, "read by the visitor");
  c.ws.close();
});

test("GET messages ignores after=, pages the latest 20 and 20 before= an id, hides activity", async () => {
  await control("voxsig", "/config", { agent_replies: false });
  try {
    const { c, conv, path } = await visitor("Pager");
    await rest("POST", `${path}/messages`, { content: "first visitor message" });
    const burst = await control("voxsig", "/agent/burst", { n: 45, conversation_id: conv.id });
    assert.equal(burst.message_ids.length, 45);
    await control("voxsig", "/agent/end", { conversation_id: conv.id }); // an activity message + CSAT
    const all = (await stored(conv.id));
    assert.ok(all.some((m) => m.message_type === 2), "the resolve made an activity message");
    const chat = all.filter((m) => m.message_type !== 2 && !m.private);
    const ids = all.map((m) => m.id);
    assert.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]), "ids increase");
    assert.ok(ids.some((id, i) => i > 0 && id !== ids[i - 1] + 1), "ids are not consecutive within a conversation");

    const latest = await rest("GET", `${path}/messages`);
    assert.deepEqual(latest.body.map((m) => m.id), chat.slice(-20).map((m) => m.id), "latest 20, oldest first");
    const after = await rest("GET", `${path}/messages?after=${chat[0].id}`);
    assert.deepEqual(after.body, latest.body, "after= is ignored");
    const afterLast = await rest("GET", `${path}/messages?after=${chat.at(-1).id}`);
    assert.equal(afterLast.body.length, 20, "after= the newest id still returns the latest 20");
    const older = await rest("GET", `${path}/messages?before=${latest.body[0].id}`);
    assert.deepEqual(older.body.map((m) => m.id), chat.slice(-40, -20).map((m) => m.id));
    const oldest = await rest("GET", `${path}/messages?before=${older.body[0].id}`);
    assert.deepEqual(oldest.body.map((m) => m.id), chat.slice(0, -40).map((m) => m.id));
    assert.ok(oldest.body.length < 20);
    for (const p of [latest, older, oldest]) assert.ok(p.body.every((m) => m.message_type !== 2));
    // The conversation resource lists every chat message (not only 20).
    const show = await rest("GET", path);
    assert.equal(show.body.messages.length, chat.length);
    c.ws.close();
  } finally {
    await control("voxsig", "/config", { agent_replies: true });
  }
});

test("silence on an unknown token; 404 after deleting the conversation or the contact", async () => {
  const bad = cable("not-a-token");
  await until(() => bad.frames.some((f) => f.type === "welcome"), 3000, "welcome");
  bad.send({ command: "subscribe", identifier: bad.identifier });
  await sleep(1200);
  assert.ok(!bad.frames.some((f) => f.type === "confirm_subscription" || f.type === "reject_subscription"));
  bad.ws.close();

  const { contact, conv, c, path } = await visitor("Deleted");
  assert.equal((await control("voxsig", "/delete", { conversation_id: conv.id })).ok, true);
  assert.equal((await rest("GET", path)).status, 404);
  assert.equal((await rest("POST", `${path}/messages`, { content: "x" })).status, 404);
  assert.equal((await rest("GET", `/contacts/${contact.source_id}`)).status, 200, "the contact survives its conversation");
  await control("voxsig", "/delete", { contact: contact.source_id });
  assert.equal((await rest("GET", `/contacts/${contact.source_id}`)).status, 404);
  assert.equal((await rest("GET", `/contacts/${contact.source_id}/conversations`)).status, 404);
  const again = cable(contact.pubsub_token);
  await until(() => again.frames.some((f) => f.type === "welcome"), 3000, "welcome");
  again.send({ command: "subscribe", identifier: again.identifier });
  await sleep(1200);
  assert.ok(!again.frames.some((f) => f.type === "confirm_subscription" || f.type === "reject_subscription"), "a deleted contact's token gets silence");
  again.ws.close();
  c.ws.close();
});

test("a deleted message is updated to 'This message was deleted' with content_attributes.deleted", async () => {
  const { c, conv, path } = await visitor("Deleter");
  const { message_ids: [id] } = await control("voxsig", "/agent/say", { text: "oops, wrong chat", conversation_id: conv.id });
  await until(() => created(c, (m) => m.id === id).length, 3000, "message");
  const del = await control("voxsig", "/agent/delete_message", { conversation_id: conv.id });
  assert.equal(del.message_id, id, "defaults to the newest agent message");
  const upd = await until(() => c.events().find((e) => e.event === "message.updated" && e.data.id === id), 3000, "message.updated");
  assert.equal(upd.data.content, "This message was deleted");
  assert.equal(upd.data.content_type, "text");
  assert.deepEqual(upd.data.content_attributes, { deleted: true });
  assert.equal(upd.data.previous_changes.content[0], "oops, wrong chat");
  const page = await rest("GET", `${path}/messages`);
  const m = page.body.find((x) => x.id === id);
  assert.equal(m.content, "This message was deleted");
  assert.deepEqual(m.content_attributes, { deleted: true });
  c.ws.close();
});

test("an incoming message reopens a resolved conversation; a returning visitor is the same contact", async () => {
  await control("voxsig", "/config", { csat_enabled: false });
  try {
    const { contact, c, conv, path } = await visitor("Returning");
    await control("voxsig", "/agent/end", { conversation_id: conv.id });
    await until(() => c.events().some((e) => e.event === "conversation.status_changed" && e.data.status === "resolved"), 3000, "resolved");
    assert.ok(!created(c, (m) => m.content_type === "input_csat").length, "no CSAT when the inbox has it off");
    const msg = await rest("POST", `${path}/messages`, { content: "one more thing" });
    assert.equal(msg.status, 200);
    await until(() => c.events().some((e) => e.event === "conversation.status_changed" && e.data.status === "open"), 3000, "reopened");
    assert.equal((await rest("GET", path)).body.status, "open");
    // The visitor resolving it: toggle_status only resolves.
    assert.equal((await rest("POST", `${path}/toggle_status`)).body.status, "resolved");
    assert.equal((await rest("POST", `${path}/toggle_status`)).body.status, "resolved");

    const same = await rest("POST", "/contacts", { source_id: contact.source_id });
    assert.equal(same.body.id, contact.id);
    assert.equal(same.body.pubsub_token, contact.pubsub_token);
    const second = await rest("POST", `/contacts/${contact.source_id}/conversations`, {});
    assert.notEqual(second.body.id, conv.id);
    assert.equal((await rest("GET", `/contacts/${contact.source_id}/conversations`)).body.length, 2);
    c.ws.close();
  } finally {
    await control("voxsig", "/config", { csat_enabled: true });
  }
});

test("bot and template content types; answers are PATCHed as submitted_values and broadcast", async () => {
  const { contact, c, conv, path } = await visitor("Rich");
  const rich = async (kind) => {
    const r = await control("voxsig", "/agent/rich", { kind, conversation_id: conv.id });
    const id = r.message_ids.at(-1);
    return until(() => created(c, (m) => m.id === id)[0], 3000, kind);
  };
  const select = await rich("input_select");
  assert.equal(select.content_type, "input_select");
  assert.ok(select.content_attributes.items.every((i) => typeof i.title === "string" && "value" in i));
  assert.equal(select.sender.type, "agent_bot");
  const cards = await rich("cards");
  const card = cards.content_attributes.items[0];
  assert.ok(card.media_url && card.title && card.description);
  assert.ok(card.actions.some((a) => a.type === "link" && a.uri) && cards.content_attributes.items.flatMap((i) => i.actions).some((a) => a.type === "postback" && a.payload));
  const form = await rich("form");
  assert.ok(form.content_attributes.items.every((i) => i.name && i.label && i.type && "placeholder" in i && "required" in i));
  const article = await rich("article");
  assert.ok(article.content_attributes.items.every((i) => i.title && i.link));
  const email = await rich("input_email");
  assert.equal(email.content_type, "input_email");
  assert.equal(email.message_type, 3);
  assert.equal(email.sender, undefined);
  const image = await rich("image");
  const [att] = image.attachments;
  assert.equal(att.file_type, "image");
  assert.ok(att.data_url && att.thumb_url && att.file_size > 0);
  const png = await fetch(att.data_url);
  assert.equal(png.headers.get("content-type"), "image/png");
  const unknown = await fetch(`${base}/_control/agent/rich`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ kind: "carousel" }) });
  assert.equal(unknown.status, 501);

  const patch = (id, body) => rest("PATCH", `${path}/messages/${id}`, body);
  const choice = await patch(select.id, { submitted_values: [{ title: "Billing", value: "billing", extra: "dropped" }] });
  assert.equal(choice.status, 200);
  assert.deepEqual(choice.body.content_attributes.submitted_values, [{ title: "Billing", value: "billing" }]);
  const upd = await until(() => c.events().find((e) => e.event === "message.updated" && e.data.id === select.id), 3000, "message.updated");
  assert.deepEqual(upd.data.content_attributes.submitted_values, [{ title: "Billing", value: "billing" }]);
  assert.deepEqual(upd.data.content_attributes.items, select.content_attributes.items, "items are kept");
  const filled = await patch(form.id, { submitted_values: [{ name: "email", value: "a@example.com" }, { name: "details", value: "broken" }] });
  assert.deepEqual(filled.body.content_attributes.submitted_values, [{ name: "email", value: "a@example.com" }, { name: "details", value: "broken" }]);
  // The public API stores an input_email answer like any other; it does not touch the contact.
  const mail = await patch(email.id, { submitted_values: [{ name: "email", value: "v@example.com" }], contact: { email: "v@example.com" } });
  assert.deepEqual(mail.body.content_attributes.submitted_values, [{ name: "email", value: "v@example.com" }]);
  assert.equal((await rest("GET", `/contacts/${contact.source_id}`)).body.email, null);
  assert.equal((await patch(999999, { submitted_values: [] })).status, 404);
  c.ws.close();
});

test("CSAT after a resolve: input_csat template, rating stored, 422 once older than 14 days", async () => {
  const { c, conv, path } = await visitor("Csat");
  const r = await control("voxsig", "/agent/rich", { kind: "csat", conversation_id: conv.id });
  await until(() => c.events().some((e) => e.event === "conversation.status_changed" && e.data.status === "resolved"), 3000, "resolved");
  const csat = await until(() => created(c, (m) => m.content_type === "input_csat")[0], 3000, "survey");
  assert.equal(csat.id, r.message_ids[0]);
  assert.equal(csat.message_type, 3);
  assert.equal(csat.sender, undefined);
  assert.ok(["emoji", "star"].includes(csat.content_attributes.display_type));
  const answer = { csat_survey_response: { rating: 4, feedback_message: "quick, thanks" } };
  const ok = await rest("PATCH", `${path}/messages/${csat.id}`, { submitted_values: { ...answer, other: { x: 1 } } });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body.content_attributes.submitted_values, answer);
  assert.equal(ok.body.content_attributes.display_type, csat.content_attributes.display_type);
  await until(() => c.events().some((e) => e.event === "message.updated" && e.data.id === csat.id && e.data.content_attributes.submitted_values?.csat_survey_response?.rating === 4), 3000, "rating broadcast");
  // Only one survey per conversation.
  await rest("POST", `${path}/messages`, { content: "reopen" });
  await control("voxsig", "/agent/end", { conversation_id: conv.id });
  assert.equal((await stored(conv.id)).filter((m) => m.content_type === "input_csat").length, 1);

  await control("voxsig", "/age", { message_id: csat.id, days: 14 });
  assert.equal((await rest("PATCH", `${path}/messages/${csat.id}`, { submitted_values: answer })).status, 200, "14 days is still allowed");
  await control("voxsig", "/age", { message_id: csat.id, days: 1 });
  const locked = await rest("PATCH", `${path}/messages/${csat.id}`, { submitted_values: answer });
  assert.equal(locked.status, 422);
  assert.equal(locked.body.error, "You cannot update the CSAT survey after 14 days");
  c.ws.close();
});

test("a burst's broadcasts arrive out of order under jitter, in order with jitter 0", async () => {
  const { c, conv } = await visitor("Burst");
  const inversions = (ids) => created(c, (m) => ids.includes(m.id)).map((m) => m.id).filter((id, i, a) => i > 0 && id < a[i - 1]).length;
  await control("voxsig", "/config", { broadcast_jitter_ms: 80 });
  try {
    let seen = 0;
    for (let round = 0; round < 3 && seen === 0; round++) {
      const { message_ids: ids } = await control("voxsig", "/agent/burst", { n: 15, conversation_id: conv.id });
      await until(() => created(c, (m) => ids.includes(m.id)).length === ids.length, 5000, "whole burst");
      seen += inversions(ids);
    }
    assert.ok(seen > 0, "some broadcast overtook an earlier one");
    await control("voxsig", "/config", { broadcast_jitter_ms: 0 });
    const { message_ids: ids } = await control("voxsig", "/agent/burst", { n: 15, conversation_id: conv.id });
    await until(() => created(c, (m) => ids.includes(m.id)).length === ids.length, 5000, "whole burst");
    assert.equal(inversions(ids), 0);
  } finally {
    await control("voxsig", "/config", { broadcast_jitter_ms: 50 });
  }
  c.ws.close();
});

test("lose_answer commits but the client sees a network error; hang delays the answer", async () => {
  const { conv, path, c } = await visitor("Faults");
  await control("voxsig", "/fault/lose_answer", { count: 1, match: "/messages" });
  await assert.rejects(rest("POST", `${path}/messages`, { content: "lost answer", echo_id: "l-1" }), TypeError);
  assert.equal((await stored(conv.id)).filter((m) => m.content === "lost answer").length, 1, "committed");
  assert.equal((await received(conv.id)).filter((r) => r.content === "lost answer").length, 1);
  await until(() => created(c, (m) => m.echo_id === "l-1").length, 3000, "its broadcast still goes out");
  assert.equal((await rest("GET", `${path}/messages`)).status, 200, "one request only");

  await control("voxsig", "/fault/hang", { count: 1, seconds: 1.5, match: "/messages" });
  const t0 = Date.now();
  const slow = await rest("GET", `${path}/messages`);
  assert.equal(slow.status, 200);
  assert.ok(Date.now() - t0 >= 1400, `hung ${Date.now() - t0} ms`);
  const t1 = Date.now();
  await rest("GET", `${path}/messages`);
  assert.ok(Date.now() - t1 < 1000, "only the next one");
  c.ws.close();
});

test("presence.update lists every available user of the account, with their statuses", async () => {
  const { contact, c } = await visitor("Presence");
  const ask = async () => {
    const n = c.events().filter((e) => e.event === "presence.update").length;
    c.send({ command: "message", identifier: c.identifier, data: JSON.stringify({ action: "update_presence" }) });
    return until(() => c.events().filter((e) => e.event === "presence.update")[n], 3000, "presence.update");
  };
  assert.deepEqual((await ask()).data.users, { 1: "online", 2: "busy" });
  await control("voxsig", "/agent/presence", { status: "away" });
  const before = c.events().filter((e) => e.event === "presence.update").length;
  await sleep(300);
  assert.equal(c.events().filter((e) => e.event === "presence.update").length, before, "nothing is pushed unasked");
  assert.deepEqual((await ask()).data.users, { 1: "busy", 2: "busy" });
  await control("voxsig", "/config", { presence_duration_s: 0.5 });
  try {
    await control("voxsig", "/agent/presence", { user_id: 2, status: "away", dashboard: false });
    await sleep(700);
    assert.deepEqual((await ask()).data.users, { 1: "busy" }, "a user not seen for PRESENCE_DURATION is gone");
  } finally {
    await control("voxsig", "/config", { presence_duration_s: 20 });
    await control("voxsig", "/agent/presence", { user_id: 2, status: "away", dashboard: true });
    await control("voxsig", "/agent/presence", { status: "online" });
  }
  assert.ok(contact);
  c.ws.close();
});

test("unknown inbox is 404; restart, refuse and the conversations overview", async () => {
  const res = await fetch(`${base}/public/api/v1/inboxes/nope/contacts`, { method: "POST", body: "{}" });
  assert.equal(res.status, 404);
  const { c, conv } = await visitor("Control");
  const overview = await control("voxsig", "/conversations");
  assert.equal(overview.backend, "voxsig");
  assert.deepEqual(overview.features.rich, ["input_select", "cards", "form", "input_email", "article", "csat", "image"]);
  const mine = overview.conversations.find((x) => x.id === conv.id);
  assert.equal(mine.visitor, "Control");
  assert.ok(mine.messages.every((m) => ["visitor", "agent", "bot", "system"].includes(m.from) && typeof m.at === "number"));

  const closed = new Promise((r) => c.ws.once("close", r));
  await control("voxsig", "/restart", {});
  await until(() => c.frames.some((f) => f.type === "disconnect" && f.reason === "server_restart" && f.reconnect === true), 3000, "disconnect");
  await closed;
  await control("voxsig", "/refuse", { seconds: 1 });
  assert.equal((await rest("POST", "/contacts", {})).status, 503);
  await sleep(1100);
  assert.equal((await rest("POST", "/contacts", {})).status, 200);
});
