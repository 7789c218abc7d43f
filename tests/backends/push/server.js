// Reference Push server on the real socketcluster-server v9 (ws engine: uws does not build on
// this Node), behaving like the SocketCluster-era Push server: registerUser answers the urn in
// the error slot; sendMessageToChannel is never acknowledged and not de-duplicated; agent
// messages are courier "External" bodies published on the urn channel, split at the channel's
// max_length into parts sharing one id; a publish reaches only current subscribers (no mailbox,
// no history). Settings a deployment decides are in options.js (env vars, /_control/config), each
// with the source that shows it or marked as a guess.
"use strict";
const http = require("http");
const crypto = require("crypto");
const socketClusterServer = require("socketcluster-server");
const { handleControl, agentDelay, later, Refusal, send } = require("../lib/control");
const { options, update, reset } = require("./options");

const PORT = Number(process.env.PUSH_PORT || 3103);
// Courier's body `from` is the channel's address (handler.go Send: channel.Address()); Push's
// claim view makes the channel name the address (push-apps pushinho/views.py
// add_config_external_channel(address=data["channel_name"])).
const CHANNEL_ADDRESS = process.env.PUSH_CHANNEL_ADDRESS || "Push Demo";
const DEFAULT_CHANNEL_UUID = "cf3d62bc-5cab-4561-a96b-3abed4e5be44";
const KEEP = 5000; // entries kept in each control log
const log = (...a) => console.log(new Date().toISOString(), ...a);

const users = new Map(); // urn -> { greeted, ended, channel, log }
const received = []; // {urn, text, at}: what the server accepted, duplicates included
const dropped = []; // {urn, text, at, reason}: sends for a urn the server does not know
const published = []; // {id, urn, text, part, parts, subscribers, at, quick_replies, payload}
const sessions = new Map(); // socket id -> what a socket presented and was given
const refusal = new Refusal();
let agentPresent = true;
let nextMsgId = 1; // courier's msg.ID(): an integer, sent as a string (handler.go: msg.ID().String())

const bounded = (list, entry) => { list.push(entry); if (list.length > KEEP) list.splice(0, list.length - KEEP); };

const server = http.createServer(async (req, res) => {
  if (await handleControl(req, res, controls)) return;
  send(res, 404, { error: "not found" });
});
const sc = socketClusterServer.attach(server, {
  wsEngine: "ws", pingInterval: 8000, pingTimeout: 20000,
  authKey: process.env.PUSH_AUTH_KEY || crypto.randomBytes(32).toString("hex"),
});
sc.on("warning", (w) => log("warning", w && w.message));

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

/** The sockets a publish on `urn` reaches now: sc-simple-broker's own list (index.js
 * _handleExchangeMessage loops over _clientSubscribers[channel]). socket.channelSubscriptions is
 * not it: scsocket.js kickOut unsubscribes in the broker only. */
const subscribedSockets = (urn) => Object.values(sc.brokerEngine._clientSubscribers[urn] || {});

// ---- courier "External" bodies -------------------------------------------------------------

/** courier handlers/utils.go SplitAttachment: "image/jpeg:https://…" -> the URL. A bare
 * http(s) URL (not a courier attachment string) is taken whole. */
const attachmentUrl = (a) => {
  const s = String(a);
  if (/^https?:\/\//.test(s)) return s;
  const i = s.indexOf(":");
  return i < 0 ? s : s.slice(i + 1);
};

/** courier handlers/utils.go GetTextAndAttachments: the text, then "\n" + URL per attachment. */
const textAndAttachments = (text, attachments) => [text, ...attachments.map(attachmentUrl)].join("\n");

/** courier SplitMsgByChannel -> SplitMsg (handlers/utils.go at 8806637d; SplitText in
 * handlers/split.go now): runes are added to a part until it is `max` bytes long, or longer than
 * max-6 bytes and the rune is a space; each part is TrimSpace'd. Lengths are Go byte counts. */
function splitMsg(text, max) {
  if (!(max > 0) || Buffer.byteLength(text) <= max) return [text];
  const parts = [];
  let part = "";
  let bytes = 0;
  for (const r of text) {
    part += r;
    bytes += Buffer.byteLength(r);
    if (bytes === max || (bytes > max - 6 && r === " ")) {
      parts.push(part.trim());
      part = "";
      bytes = 0;
    }
  }
  if (bytes > 0) parts.push(part.trim());
  return parts;
}

// What each urn's conversation holds, for the agent console (GET /_control/conversations).
function record(urn, from, text, kind) {
  const user = users.get(urn);
  if (user) user.log.push({ id: user.log.length + 1, from, text, kind, at: Date.now() });
}

/** The agent writes to `urn`: one courier message, as courier's External handler would post it
 * to Push (handler.go Send), each part published on the urn channel. */
function agentMessage(urn, text, { quick_replies = [], attachments = [] } = {}) {
  const user = users.get(urn);
  const id = String(nextMsgId++);
  const full = textAndAttachments(String(text ?? ""), attachments);
  record(urn, "agent", full, quick_replies.length ? "quick_replies" : attachments.length ? "attachment" : "text");
  const parts = splitMsg(full, options.split_length);
  parts.forEach((part, i) => {
    const last = i === parts.length - 1;
    const payload = {
      id,
      text: part,
      to: urn,
      to_no_plus: urn.replace(/^\+/, ""),
      from: CHANNEL_ADDRESS,
      from_no_plus: CHANNEL_ADDRESS.replace(/^\+/, ""),
      channel: (user && user.channel) || DEFAULT_CHANNEL_UUID,
      // Not in courier's External form; the CCL server's body has it (what it holds is not
      // public): present and empty.
      metadata: null,
      // handler.go Send: "put quick replies on last message part", [] on the others.
      quick_replies: last ? quick_replies.map(String) : [],
    };
    if (options.attachments_field && last && attachments.length) payload.attachments = attachments.map(attachmentUrl);
    const sockets = subscribedSockets(urn);
    bounded(published, {
      id, urn, text: part, part: i + 1, parts: parts.length, subscribers: sockets.length, at: Date.now(),
      quick_replies: payload.quick_replies, payload,
    });
    if (sockets.length === 0) log("publish", urn, `id ${id} part ${i + 1}/${parts.length}: nobody subscribed, lost`);
    sc.exchange.publish(urn, payload);
    // CCL main.go: the same body as receivedMessageFromChannel, after the #publish.
    if (options.both_paths) setImmediate(() => sockets.forEach((s) => s.emit("receivedMessageFromChannel", payload)));
  });
}

// ---- sockets -------------------------------------------------------------------------------

// subscribe_answer false: the subscription is made as usual (scserver.js '#subscribe' handler)
// but its answer {rid} is not sent. The cids of #subscribe frames are read from the raw
// 'message' event, which SCSocket emits before handling a frame, and sendObject drops the
// answers to them.
sc.on("handshake", (socket) => {
  const silenced = new Set();
  socket.on("message", (raw) => {
    if (options.subscribe_answer) return;
    let obj;
    try { obj = socket.decode(raw); } catch { return; }
    for (const o of Array.isArray(obj) ? obj : [obj]) {
      if (o && o.event === "#subscribe" && o.cid != null) silenced.add(o.cid);
    }
  });
  const sendObject = socket.sendObject;
  socket.sendObject = function (object, opts) {
    if (object && object.rid != null && silenced.delete(object.rid)) {
      log("#subscribe", socket.id, `cid ${object.rid} not answered (subscribe_answer false)`);
      return undefined;
    }
    return sendObject.call(this, object, opts);
  };
});

let socketsOpened = 0;
sc.on("connection", (socket, status) => {
  socketsOpened += 1;
  const query = new URL(socket.request.url || "/", "http://x").searchParams;
  const session = {
    id: socket.id, channel: query.get("channelUUID"), connected_at: Date.now(), closed_at: null, close_code: null,
    // The token the client presented in #handshake, verified (scserver.js _processAuthToken).
    presented_token: socket.authToken || null,
    auth_error: (status && status.authError && status.authError.name) || null,
    issued_token: null, registered: [],
  };
  sessions.set(socket.id, session);
  while (sessions.size > 500) sessions.delete(sessions.keys().next().value);
  socket.on("disconnect", (code) => { session.closed_at = Date.now(); session.close_code = code ?? null; });

  socket.on("registerUser", (data, respond) => {
    const urn = (data && data.id) || crypto.randomUUID();
    if (!users.has(urn)) users.set(urn, { greeted: false, ended: false, channel: session.channel, log: [] });
    session.registered.push(urn);
    log("registerUser", urn);
    // push-webchat reads the answer from the callback's first argument, the error slot, and
    // JSON.parses it (weni-webchannel abbfa90 Widget/index.js initializeWidget:
    // socket.emit('registerUser', sessionId ? {id: sessionId} : {}, (_response) => {...}).
    respond(JSON.stringify({ urn }));
    if (options.set_auth_token) {
      session.issued_token = { urn };
      socket.setAuthToken({ urn });
    }
  });

  socket.on("subscribe", (urn) => {
    const user = users.get(urn);
    if (user && !user.greeted) {
      user.greeted = true;
      later(agentDelay, () => agentMessage(urn, "Hello! I'm Ana. How can I help?", { quick_replies: ["Track my order", "Talk to a person"] }));
    }
  });

  socket.on("sendMessageToChannel", (data, respond) => {
    const urn = data && data.userUrn;
    const text = String((data && data.text) ?? "");
    // data.clientId, if any, is ignored: push-webchat sends {text, userUrn} only.
    let user = users.get(urn);
    if (!user && urn && options.unknown_urn === "accept") {
      user = { greeted: true, ended: false, channel: session.channel, log: [] };
      users.set(urn, user);
    }
    if (!user) {
      bounded(dropped, { urn: urn ?? null, text, at: Date.now(), reason: "unknown urn" });
      log("sendMessageToChannel", urn, "unknown urn: dropped");
      if (options.ack) respond({ name: "UnknownUser", message: "unknown userUrn" }); // a guess
      return;
    }
    bounded(received, { urn, text, at: Date.now() });
    record(urn, "visitor", text, "text");
    if (options.ack) respond(null, "success");
    if (agentPresent && !user.ended) later(agentDelay, () => agentMessage(urn, `You said: ${text}`, { quick_replies: ["Yes", "No"] }));
  });

  // Without `history` nobody listens: the emit is never answered, as on a SocketCluster server
  // without such a handler.
  socket.on("getHistory", (data, respond) => {
    if (!options.history) return log("getHistory", "not answered (history false)");
    const urn = data && data.urn;
    let list = published.filter((p) => p.urn === urn);
    const after = data && data.after;
    if (typeof after === "number") list = list.filter((p) => p.at > after);
    else if (typeof after === "string" && after) {
      const last = list.map((p) => p.id).lastIndexOf(after);
      if (last >= 0) list = list.slice(last + 1);
    }
    respond(null, list.map((p) => p.payload));
  });
});

// ---- control API ---------------------------------------------------------------------------

const sockets = () => Object.values(sc.clients);
const liveUrns = (b) => {
  const id = b.conversation_id || b.urn;
  return [...users.entries()].filter(([u, v]) => !v.ended && (!id || u === id)).map(([u]) => u);
};
const list = (v) => (Array.isArray(v) ? v : v == null ? [] : [v]);

// Canned examples of what a courier "External" body carries beyond text: quick replies as
// strings, attachments as URLs appended to the text (handlers/utils.go GetTextAndAttachments).
const sampleImage = `http://127.0.0.1:${process.env.VOXSIG_PORT || 3101}/rails/active_storage/sample.png`;
const richMessages = {
  quick_replies: () => ["How was your delivery?", { quick_replies: ["Great", "OK", "Late"] }],
  image: () => ["Here is your receipt", { attachments: [`image/png:${sampleImage}`] }],
};
const publishedView = (p) => ({
  id: p.id, urn: p.urn, text: p.text, part: p.part, parts: p.parts, subscribers: p.subscribers, at: p.at, quick_replies: p.quick_replies,
});
const controls = {
  "GET /health": () => ({ ok: true, backend: "push" }),
  "GET /config": () => ({ ...options }),
  "POST /config": (b) => {
    try { return update(b); } catch (e) { return { status: 400, body: { error: e.message } }; }
  },
  "POST /reset": () => {
    const now = reset();
    refusal.until = 0;
    agentPresent = true;
    received.length = 0;
    dropped.length = 0;
    published.length = 0;
    for (const [id] of sessions) if (!sc.clients[id]) sessions.delete(id);
    return now;
  },
  "GET /received": () => received,
  "GET /dropped": () => dropped,
  "GET /published": () => published.map(publishedView),
  // Sockets connected now, and opened since start: what a page's tabs cost the server.
  "GET /connections": () => ({ open: sc.clientsCount, opened: socketsOpened }),
  "GET /sessions": () => [...sessions.values()].map((s) => ({
    ...s, open: !!sc.clients[s.id], subscriptions: sc.clients[s.id] ? sc.clients[s.id].subscriptions() : [],
  })),
  "GET /conversations": () => ({
    backend: "push", features: { typing: false, presence: false, rich: Object.keys(richMessages) },
    conversations: [...users.entries()].map(([urn, u]) => ({
      id: urn, status: u.ended ? "ended" : "open", visitor: urn.slice(0, 8), messages: u.log,
    })),
  }),
  "POST /agent/rich": (b) => {
    const make = richMessages[b.kind];
    if (!make) return { status: 501, body: { error: `Push has no ${JSON.stringify(b.kind)}`, kinds: Object.keys(richMessages) } };
    liveUrns(b).forEach((u) => agentMessage(u, ...make()));
    return { ok: true };
  },
  "POST /agent/say": (b) => {
    const urns = liveUrns(b);
    urns.forEach((u) => agentMessage(u, String(b.text ?? ""), { quick_replies: list(b.quick_replies), attachments: list(b.attachments) }));
    return { ok: true, users: urns.length };
  },
  // Test-only: n agent messages at once (up to 10,000), for the long-conversation benchmark
  // (scripts/bench) and burst tests; each is published as /agent/say would.
  "POST /agent/burst": (b) => {
    const n = Math.min(Math.max(Number(b.n) || 1, 1), 10000);
    const urns = liveUrns(b);
    urns.forEach((u) => { for (let i = 1; i <= n; i++) agentMessage(u, `${b.text || "burst"} ${i}/${n}`); });
    return { ok: true, users: urns.length, n };
  },
  "POST /agent/typing": () => ({ status: 501, body: { error: "Push has no typing event: the widget cannot be told" } }),
  "POST /agent/presence": () => ({ status: 501, body: { error: "Push has no presence event" } }),
  "POST /agent/end": (b) => {
    // Push has no end event: the agent says goodbye and the server closes with a code the
    // v9 client does not reconnect after.
    const urns = liveUrns(b);
    urns.forEach((u) => { agentMessage(u, "This conversation has ended."); users.get(u).ended = true; });
    later(100, () => sockets().forEach((s) => s.disconnect(4500, "conversation ended")));
    return { ok: true };
  },
  // #kickOut: the server unsubscribes sockets from a urn (scsocket.js kickOut); the v9 client
  // marks the channel unsubscribed (lib/scsocket.js '#kickOut' -> _triggerChannelUnsubscribe).
  "POST /kickout": (b) => {
    let n = 0;
    liveUrns(b).forEach((u) => subscribedSockets(u).forEach((s) => { s.kickOut(u, b.message || "kicked out"); n++; }));
    return { ok: true, kicked: n };
  },
  "POST /drop": () => { sockets().forEach((s) => s.socket.terminate()); return { ok: true }; },
  "POST /refuse": (b) => { refusal.refuse(b.seconds); return { ok: true, until: refusal.until }; },
  // What the real Push server keeps across a restart is UNKNOWN. forget: true = it forgets the
  // registered urns: a widget that kept its urn (push-webchat skips registerUser when it has a
  // session id: Widget/index.js initializeWidget) then sends into the void (unknown_urn).
  "POST /restart": (b) => {
    [...sockets(), ...Object.values(sc.pendingClients)].forEach((s) => s.disconnect(1011, "server restart"));
    const forgotten = b && b.forget ? users.size : 0;
    if (b && b.forget) users.clear();
    return { ok: true, forgotten };
  },
};

server.listen(PORT, "127.0.0.1", () => log(`push reference server on ws://127.0.0.1:${PORT}/socketcluster/`));
