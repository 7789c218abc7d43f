// Reference Push server on the real socketcluster-server v9 (ws engine: uws does not build on
// this Node). registerUser answers Push-style — the urn JSON in the error slot — and agent
// replies are published on the urn channel with `to`, `text` and `quick_replies`.
"use strict";
const http = require("http");
const crypto = require("crypto");
const socketClusterServer = require("socketcluster-server");
const { handleControl, agentDelay, later, Refusal, send } = require("../lib/control");

const PORT = Number(process.env.PUSH_PORT || 3103);
const log = (...a) => console.log(new Date().toISOString(), ...a);
const users = new Map(); // urn -> { greeted, seenClientIds, ended }
const received = [];
const refusal = new Refusal();
let agentPresent = true;

const server = http.createServer(async (req, res) => {
  if (await handleControl(req, res, controls)) return;
  send(res, 404, { error: "not found" });
});
const sc = socketClusterServer.attach(server, { wsEngine: "ws", pingInterval: 8000, pingTimeout: 20000 });

// Refuse at the HTTP upgrade: rejecting in socketcluster-server 9.1.3's handshake middleware
// crashes the process (it hands an Error where its nested ws 3.3.3 expects a string).
const scUpgradeListeners = server.listeners("upgrade");
server.removeAllListeners("upgrade");
server.on("upgrade", (req, socket, head) => {
  const query = new URL(req.url, "http://x").searchParams;
  const refuse = (status) => socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\n\r\n`);
  if (refusal.active) return refuse("503 Service Unavailable");
  if (!query.get("channelUUID")) return refuse("400 Bad Request");
  scUpgradeListeners.forEach((listener) => listener.call(server, req, socket, head));
});

// SocketCluster delivers only to live subscribers; like a mailbox, this server keeps what the
// agent writes while nobody is subscribed to a urn and delivers it on the next subscribe.
const mailbox = new Map(); // urn -> payloads waiting
const subscribers = (urn) => Object.values(sc.clients).filter((s) => s.channelSubscriptions && s.channelSubscriptions[urn]).length;

// What each urn's conversation holds, for the agent console (GET /_control/conversations).
function record(urn, from, text, kind) {
  const user = users.get(urn);
  if (user) user.log.push({ id: user.log.length + 1, from, text, kind, at: Date.now() });
}

function publish(urn, text, extra = {}) {
  const payload = { to: urn, from: "agent", text, quick_replies: [], ...extra };
  record(urn, "agent", text, payload.quick_replies.length ? "quick_replies" : "text");
  if (subscribers(urn) === 0) {
    if (!mailbox.has(urn)) mailbox.set(urn, []);
    mailbox.get(urn).push(payload);
    return;
  }
  sc.exchange.publish(urn, payload);
}

sc.on("connection", (socket) => {
  socket.on("registerUser", (data, respond) => {
    const urn = (data && data.id) || crypto.randomUUID();
    if (!users.has(urn)) users.set(urn, { greeted: false, seenClientIds: new Set(), ended: false, log: [] });
    log("registerUser", urn);
    // Push's widget reads the answer from the callback's first argument: the error slot.
    if (respond) respond(JSON.stringify({ urn }));
  });
  socket.on("subscribe", (urn) => {
    const waiting = mailbox.get(urn) || [];
    mailbox.delete(urn);
    // After the subscription is confirmed to the client, in order.
    setImmediate(() => waiting.forEach((p) => sc.exchange.publish(urn, p)));
    const user = users.get(urn);
    if (user && !user.greeted) {
      user.greeted = true;
      later(agentDelay, () => publish(urn, "Hello! I'm Ana. How can I help?", { quick_replies: ["Track my order", "Talk to a person"] }));
    }
  });
  socket.on("sendMessageToChannel", (data, respond) => {
    const urn = data && data.userUrn;
    const user = users.get(urn);
    if (!user) return respond && respond({ name: "UnknownUser", message: "unknown userUrn" });
    const clientId = data.clientId;
    if (clientId && user.seenClientIds.has(clientId)) return respond && respond(null, "success");
    if (clientId) user.seenClientIds.add(clientId);
    received.push({ urn, text: String(data.text ?? ""), clientId: clientId || null, at: Date.now() });
    record(urn, "visitor", String(data.text ?? ""), "text");
    if (respond) respond(null, "success");
    if (agentPresent && !user.ended) later(agentDelay, () => publish(urn, `You said: ${data.text}`, { quick_replies: ["Yes", "No"] }));
  });
});

const sockets = () => Object.values(sc.clients);
const liveUrns = (b) => {
  const id = b.conversation_id || b.urn;
  return [...users.entries()].filter(([u, v]) => !v.ended && (!id || u === id)).map(([u]) => u);
};

// Canned examples of what a courier "External" channel body carries beyond text
// (nyaruka/courier handlers/external): quick replies as strings, attachments as URLs
// appended to the text.
const sampleImage = `http://127.0.0.1:${process.env.VOXSIG_PORT || 3101}/rails/active_storage/sample.png`;
const richPayloads = {
  quick_replies: () => ["How was your delivery?", { quick_replies: ["Great", "OK", "Late"] }],
  image: () => [`Here is your receipt\n${sampleImage}`, {}],
};
const controls = {
  "GET /health": () => ({ ok: true, backend: "push" }),
  "GET /received": () => received,
  "GET /conversations": () => ({
    backend: "push", features: { typing: false, presence: false, rich: Object.keys(richPayloads) },
    conversations: [...users.entries()].map(([urn, u]) => ({
      id: urn, status: u.ended ? "ended" : "open", visitor: urn.slice(0, 8), messages: u.log,
    })),
  }),
  "POST /agent/rich": (b) => {
    const make = richPayloads[b.kind];
    if (!make) return { status: 501, body: { error: `Push has no ${JSON.stringify(b.kind)}`, kinds: Object.keys(richPayloads) } };
    liveUrns(b).forEach((u) => publish(u, ...make()));
    return { ok: true };
  },
  "POST /agent/say": (b) => { liveUrns(b).forEach((u) => publish(u, String(b.text ?? ""), { quick_replies: b.quick_replies || [] })); return { ok: true, users: liveUrns(b).length }; },
  "POST /agent/typing": () => ({ status: 501, body: { error: "Push has no typing event: the widget cannot be told" } }),
  "POST /agent/presence": () => ({ status: 501, body: { error: "Push has no presence event" } }),
  "POST /agent/end": (b) => {
    // Push has no end event: the agent says goodbye and the server closes with a code the
    // v9 client does not reconnect after.
    liveUrns(b).forEach((u) => { users.get(u).ended = true; publish(u, "This conversation has ended."); });
    later(100, () => sockets().forEach((s) => s.disconnect(4500, "conversation ended")));
    return { ok: true };
  },
  "POST /drop": () => { sockets().forEach((s) => s.socket.terminate()); return { ok: true }; },
  "POST /refuse": (b) => { refusal.refuse(b.seconds); return { ok: true, until: refusal.until }; },
  "POST /restart": () => { sockets().forEach((s) => s.disconnect(1011, "server restart")); return { ok: true }; },
};

server.listen(PORT, "127.0.0.1", () => log(`push reference server on ws://127.0.0.1:${PORT}/socketcluster/`));
