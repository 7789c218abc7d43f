// Reference GMS Chat V2 server: Bayeux 1.0 over WebSocket and HTTP long-polling (handshake,
// connect loop with advice, unknown-client errors, maxInterval expiry) with Chat V2 semantics
// on /service/chatV2/{service}, a scripted agent, the control API and the settings and faults
// in options.js. Node + ws + http: faye cannot answer on /service channels the way GMS does.
"use strict";
const http = require("http");
const crypto = require("crypto");
const { WebSocketServer } = require("ws");
const { handleControl, agentDelay, later, Refusal, send, readJson } = require("../lib/control");
const opts = require("./options");

const PORT = Number(process.env.GMS_PORT || 3102);
const SERVICE = process.env.GMS_SERVICE || "customer-support";
const CHANNEL = `/service/chatV2/${SERVICE}`;
const PATH = "/genesys/cometd";
const options = opts.options;
const hex = (n) => crypto.randomBytes(n).toString("hex");
const log = (...a) => console.log(new Date().toISOString(), ...a);

// clientId -> { ws, held: {res, id, timer} | null, queue: [], seen, lastConnectId }
const clients = new Map();
const chats = new Map(); // chatId -> chat
const received = [];
const refusal = new Refusal();
const agent = { nickname: "Ana", participantId: 2, type: "Agent" };
let agentPresent = true;
// Faults set through the control API: {operation, code, times} and {operation, times}.
let statusFaults = [];
let lostAnswers = [];

const advice = () => ({ reconnect: "retry", interval: 0, timeout: options.timeout });
const connectReply = (id) => ({ id, channel: "/meta/connect", successful: true, advice: advice() });
const connectionTypes = () => (options.websocket ? ["websocket", "long-polling"] : ["long-polling"]);

function deliverWs(ws, messages) {
  if (ws && ws.readyState === 1 && messages.length) ws.send(JSON.stringify(messages));
}

/** Answers a held long-poll /meta/connect (or, over WebSocket with batching, the pending
 * connect) with everything queued: CometD's AbstractHttpTransport resumes the held request
 * when its session has messages (ServerSessionImpl.flush). */
function release(client) {
  const held = client.held;
  if (!held) return;
  client.held = null;
  clearTimeout(held.timer);
  client.seen = Date.now();
  const messages = [connectReply(held.id), ...client.queue.splice(0)];
  if (held.res) {
    if (!held.res.writableEnded) sendBayeux(held.res, 200, messages);
  } else {
    deliverWs(client.ws, messages);
  }
}

/** Sends `messages` to a client: pushed at once on its WebSocket, else queued for its next
 * connect reply (long-polling, or metaConnectDeliverOnly = batching). */
function deliverTo(clientId, messages) {
  const client = clients.get(clientId);
  if (!client) return;
  if (client.ws && !options.batching) return deliverWs(client.ws, messages);
  client.queue.push(...messages);
  if (client.held) release(client);
}

/** Pushes chat data to the client of a chat: in order, or each after a random delay. */
function notify(clientId, data) {
  const message = { channel: CHANNEL, data };
  if (!options.reorder) return deliverTo(clientId, [message]);
  later(Math.floor(Math.random() * 300), () => deliverTo(clientId, [message]));
}

function newChat(clientId, data) {
  const chat = {
    chatId: hex(8), secureKey: hex(8), userId: hex(8).toUpperCase(), alias: "117", clientId,
    nickname: data.nickname || [data.firstName, data.lastName].filter(Boolean).join(" ") || "Visitor",
    transcript: [], nextIndex: 1, ended: false,
  };
  chats.set(chat.chatId, chat);
  return chat;
}

function response(chat, fromIndex) {
  return {
    statusCode: 0, alias: chat.alias, userId: chat.userId, secureKey: chat.secureKey, chatId: chat.chatId,
    chatEnded: chat.ended, nextPosition: chat.nextIndex,
    messages: chat.transcript.filter((m) => m.index >= fromIndex),
  };
}

/** Appends transcript events and pushes them to the chat's current client. */
function append(chat, events) {
  const start = chat.nextIndex;
  for (const e of events) {
    chat.transcript.push({ ...e, index: chat.nextIndex++, utcTime: Date.now() });
  }
  if (!options.reorder) return notify(chat.clientId, response(chat, start));
  // Out of order: each event on its own (GMS nodes in a cluster, see options.js).
  for (const e of chat.transcript.filter((m) => m.index >= start)) {
    notify(chat.clientId, { ...response(chat, e.index), messages: [e] });
  }
}

const client = (chat) => ({ nickname: chat.nickname, participantId: 1, type: "Client" });

function agentJoins(chat) {
  later(agentDelay, () => {
    if (chat.ended) return;
    append(chat, [{ from: agent, type: "ParticipantJoined" }]);
    agentSays(chat, `Hello ${chat.nickname}! I'm ${agent.nickname}. How can I help?`);
  });
}

function agentSays(chat, text) {
  append(chat, [{ from: agent, type: "TypingStarted" }]);
  later(agentDelay, () => {
    if (!chat.ended) append(chat, [{ from: agent, type: "Message", text }, { from: agent, type: "TypingStopped" }]);
  });
}

function endChat(chat, by) {
  if (chat.ended) return;
  chat.ended = true;
  append(chat, [{ from: by, type: "ParticipantLeft" }]);
}

/** A statusCode 1/2 answer in the configured shape (options.error_shape). */
function errorAnswer(code, advice, chat) {
  const errors = [{ code: code === 1 ? 102 : 201, advice }];
  if (options.error_shape === "bare") return { statusCode: code, errors };
  return {
    messages: [], chatEnded: code === 2, statusCode: code, errors,
    alias: chat ? chat.alias : "117", chatId: chat ? chat.chatId : "",
  };
}

/** Takes one matching fault for `operation` from `list`, if any. */
function takeFault(list, operation) {
  const f = list.find((x) => x.operation === operation || x.operation === "*");
  if (!f) return null;
  f.times -= 1;
  if (f.times <= 0) list.splice(list.indexOf(f), 1);
  return f;
}

/** Chat V2 text as stored: trimmed, CRLF -> LF, cut (options.normalize; a guess, see options.js). */
function storedText(text) {
  if (!options.normalize) return text;
  return [...text.trim().replace(/\r\n/g, "\n")].slice(0, options.max_length).join("");
}

/** A Chat V2 operation from `clientId`; `reply(data)` answers it. */
function chatOperation(clientId, data, reply) {
  const op = data && data.operation;
  const chat = op === "requestChat" ? null : [...chats.values()].find((c) => c.secureKey === data.secureKey);
  const fault = takeFault(statusFaults, op);
  if (fault) {
    // Not performed: 1 = try again later, 2 = will not be done (the chat may be over).
    if (fault.code === 2 && chat) chat.ended = true;
    return reply(errorAnswer(fault.code, `fault: statusCode ${fault.code}`, chat));
  }
  if (op !== "requestChat" && !chat) return reply(errorAnswer(2, "Invalid or missing secureKey", null));
  if (op !== "requestChat" && chat.expired) return reply(errorAnswer(2, "Chat session expired", chat));
  const lose = takeFault(lostAnswers, op);
  const answer = lose ? () => log(`fault: answer to ${op} lost`) : reply;
  switch (op) {
    case "requestChat": {
      const c = newChat(clientId, data);
      c.transcript.push({ from: client(c), type: "ParticipantJoined", index: c.nextIndex++, utcTime: Date.now() });
      if (lose) c.clientId = null; // Nobody hears of it: its secureKey never reached anyone.
      answer(response(c, 1));
      agentJoins(c);
      return;
    }
    case "requestNotifications": {
      chat.clientId = clientId; // the chat follows the client that asked last
      const position = Number(data.transcriptPosition) || 0;
      const from = options.transcript_position === "exclusive" ? position + 1 : position;
      const r = response(chat, from);
      if (options.transcript_position === "exclusive") r.nextPosition = chat.nextIndex - 1;
      return answer(r);
    }
    case "sendMessage": {
      if (chat.ended) return reply(errorAnswer(2, "Chat has ended", chat));
      const text = storedText(String(data.message ?? ""));
      received.push({ chatId: chat.chatId, text, at: Date.now() });
      append(chat, [{ from: client(chat), type: "Message", text }]);
      if (options.reply_to_send) answer({ ...response(chat, chat.nextIndex), messages: [] });
      if (agentPresent) later(agentDelay, () => agentSays(chat, `You said: ${text}`));
      return;
    }
    case "startTyping": return append(chat, [{ from: client(chat), type: "TypingStarted" }]);
    case "stopTyping": return append(chat, [{ from: client(chat), type: "TypingStopped" }]);
    case "updateNickname":
      chat.nickname = String(data.nickname || chat.nickname);
      return append(chat, [{ from: client(chat), type: "NicknameUpdated" }]);
    case "customNotice": return append(chat, [{ from: client(chat), type: "CustomNotice", text: String(data.message ?? "") }]);
    case "updateData": return answer(response(chat, chat.nextIndex));
    case "disconnect":
      endChat(chat, client(chat));
      return answer({ ...response(chat, chat.nextIndex), chatEnded: true });
    default: return reply(errorAnswer(2, `Unknown operation ${op}`, chat));
  }
}

/** The unknown-client answer of the configured server (options.errors). */
function unknownClient(id, channel, clientId) {
  if (options.errors === "faye") {
    return { id, channel, successful: false, error: `401:${clientId}:Unknown client`, advice: { reconnect: "handshake" } };
  }
  const error = options.errors === "cometd4" ? "402::session_unknown" : "402::Unknown client";
  return { id, channel, successful: false, error, advice: { reconnect: "handshake", interval: 0 } };
}

/** Handles one Bayeux message from a transport. `out` collects replies; `ctx.ws` or
 * `ctx.res` says where the client is; a long-polling /meta/connect sets `ctx.hold`. */
function bayeux(msg, out, ctx) {
  const { channel, id } = msg;
  if (channel === "/meta/handshake") {
    if (!msg.version) return out.push({ id, channel, successful: false, error: "402:version:Missing required parameter", advice: { reconnect: "none" } });
    const offered = (msg.supportedConnectionTypes || []).filter((t) => connectionTypes().includes(t));
    if (!offered.length) {
      return out.push({ id, channel, successful: false, error: "Unsupported connection types", supportedConnectionTypes: connectionTypes(), advice: { reconnect: "none" } });
    }
    const clientId = hex(16);
    clients.set(clientId, { ws: ctx.ws || null, held: null, queue: [], seen: Date.now() });
    if (ctx.ws) ctx.ws.clientIds.add(clientId);
    return out.push({ id, channel, version: "1.0", minimumVersion: "1.0", supportedConnectionTypes: connectionTypes(), clientId, successful: true, advice: advice() });
  }
  const known = msg.clientId && clients.get(msg.clientId);
  if (!known) {
    out.push(unknownClient(id, channel, msg.clientId));
    // faye performs a publish from an unknown client all the same (Server#_handle checks
    // only meta messages); its answer has nobody to go to.
    if (options.errors === "faye" && channel === CHANNEL) chatOperation(null, msg.data || {}, () => {});
    return;
  }
  known.seen = Date.now();
  // The session follows the transport its messages come on (ServerSessionImpl.setScheduler).
  if (ctx.ws) {
    known.ws = ctx.ws;
    ctx.ws.clientIds.add(msg.clientId);
  } else if (channel === "/meta/connect") {
    known.ws = null;
  }
  if (channel === "/meta/connect") {
    if (known.held) release(known); // one held connect per client: the newer releases the older
    const immediate = msg.advice && msg.advice.timeout === 0;
    if (immediate || known.queue.length) {
      out.push(connectReply(id), ...known.queue.splice(0));
      return;
    }
    ctx.hold = { client: known, id };
    return;
  }
  if (channel === "/meta/disconnect") {
    if (known.held) release(known);
    clients.delete(msg.clientId);
    return out.push({ id, channel, successful: true });
  }
  if (channel === "/meta/subscribe" || channel === "/meta/unsubscribe") {
    // GMS clients listen on /service channels without subscribing; accept it from those that do.
    return out.push({ id, channel, subscription: msg.subscription, successful: true });
  }
  if (channel === CHANNEL) {
    out.push({ id, channel, successful: true });
    const clientId = msg.clientId;
    return chatOperation(clientId, msg.data || {}, (data) => {
      const answer = { channel: CHANNEL, data };
      // A remote-call style answer names the request (options.echo_id).
      if (options.echo_id) answer.id = id;
      deliverTo(clientId, [answer]);
    });
  }
  out.push({ id, channel, successful: false, error: `404:${channel}:Unknown Channel` });
}

/** A held connect over WebSocket is answered when its hold ends or events come. */
function holdWs(ctx) {
  const { client: c, id } = ctx.hold;
  c.held = { res: null, id, timer: setTimeout(() => release(c), options.timeout) };
  if (!options.batching && c.queue.length) release(c);
}

function sendBayeux(res, status, value, origin) {
  res.writeHead(status, {
    "content-type": "application/json",
    "access-control-allow-origin": origin || res.corsOrigin || "*",
    "access-control-allow-credentials": "true",
    vary: "Origin",
  });
  res.end(JSON.stringify(value));
}

/** Long-polling: POST of a JSON array of Bayeux messages (CometD's AsyncJSONTransport). */
async function longPolling(req, res) {
  res.corsOrigin = req.headers.origin;
  if (req.method === "OPTIONS") {
    res.writeHead(204, {
      "access-control-allow-origin": req.headers.origin || "*",
      "access-control-allow-credentials": "true",
      "access-control-allow-methods": "POST, OPTIONS",
      "access-control-allow-headers": "content-type",
      "access-control-max-age": "600",
    });
    return res.end();
  }
  if (refusal.active) return sendBayeux(res, 503, { error: "refused" });
  if (req.method !== "POST" || !options.long_polling) {
    // CometDServlet.service: no such transport.
    res.writeHead(400, { "content-type": "text/plain", "access-control-allow-origin": req.headers.origin || "*" });
    return res.end("Unknown Bayeux Transport");
  }
  const body = await readJson(req);
  const messages = Array.isArray(body) ? body : body ? [body] : null;
  if (!messages) return sendBayeux(res, 400, { error: "body is not a JSON array" });
  const out = [];
  const ctx = { res };
  for (const m of messages) bayeux(m, out, ctx);
  if (!ctx.hold) {
    // Queued messages ride on any reply (unless only connect replies may carry them).
    const sender = messages.find((m) => m.clientId && clients.has(m.clientId));
    if (sender && !options.batching) out.push(...clients.get(sender.clientId).queue.splice(0));
    return sendBayeux(res, 200, out);
  }
  const c = ctx.hold.client;
  c.held = { res, id: ctx.hold.id, timer: setTimeout(() => release(c), options.timeout) };
  // Replies to other messages in the same batch wait with the connect.
  c.queue.unshift(...out);
  res.on("close", () => {
    if (c.held && c.held.res === res) { clearTimeout(c.held.timer); c.held = null; }
  });
}

const server = http.createServer(async (req, res) => {
  if (await handleControl(req, res, controls)) return;
  const url = new URL(req.url, "http://x");
  if (url.pathname === PATH || url.pathname.startsWith(`${PATH}/`)) return longPolling(req, res);
  send(res, 404, { error: "not found" });
});
const wss = new WebSocketServer({ noServer: true });
server.on("upgrade", (req, socket, head) => {
  if (refusal.active) {
    socket.end("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  if (!options.websocket) {
    // A proxy that refuses the upgrade, or CometD without its WebSocket transport.
    socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
});
wss.on("connection", (ws) => {
  ws.clientIds = new Set();
  ws.on("message", (raw) => {
    let parsed;
    try { parsed = JSON.parse(raw.toString()); } catch { return log("not JSON:", String(raw).slice(0, 200)); }
    const out = [];
    const ctx = { ws };
    for (const m of Array.isArray(parsed) ? parsed : [parsed]) bayeux(m, out, ctx);
    deliverWs(ws, out);
    if (ctx.hold) holdWs(ctx);
  });
  ws.on("close", () => {
    for (const id of ws.clientIds) {
      const c = clients.get(id);
      if (c && c.ws === ws) {
        if (c.held) { clearTimeout(c.held.timer); c.held = null; }
        c.ws = null;
        c.seen = Date.now();
      }
    }
  });
});

// maxInterval: a client with no transport and no held connect for that long is forgotten
// (ServerSessionImpl.scheduleExpiration; GMS "closes the socket and sets a 10-second timer").
setInterval(() => {
  const now = Date.now();
  for (const [id, c] of clients) {
    if (!c.held && !(c.ws && c.ws.readyState === 1) && now - c.seen > options.max_interval) clients.delete(id);
  }
}, 1000).unref();

function dropAll() {
  wss.clients.forEach((ws) => ws.terminate());
  for (const c of clients.values()) {
    if (c.held && c.held.res) { clearTimeout(c.held.timer); c.held.res.destroy(); c.held = null; }
  }
}

const activeChats = (body) => {
  const id = body.conversation_id || body.chatId;
  return [...chats.values()].filter((c) => !c.ended && (!id || c.chatId === id));
};

// The transcript events a visitor sees, for the agent console (GET /_control/conversations).
const shownKinds = { Message: "text", PushUrl: "push_url", Notice: "notice", CustomNotice: "notice" };
function overview(chat) {
  const from = (e) => (e.from.type === "Client" ? "visitor" : e.type.endsWith("Notice") ? "system" : "agent");
  return {
    id: chat.chatId, status: chat.ended ? "ended" : "open", visitor: chat.nickname,
    messages: chat.transcript.filter((e) => shownKinds[e.type]).map((e) => ({
      id: e.index, from: from(e), text: e.text || e.url || "", kind: shownKinds[e.type], at: e.utcTime,
    })),
  };
}

// Canned examples of what Chat V2 carries beyond text (Genesys Chat V2 transcript event types):
// PushUrl {url} — the agent pushes a page; CustomNotice {text} — a notice from the agent side.
const richEvents = {
  push_url: () => ({ from: agent, type: "PushUrl", text: "", url: "https://example.com/help/shipping" }),
  notice: () => ({ from: agent, type: "CustomNotice", text: "Your order A-1042 has shipped." }),
};
const controls = {
  "GET /health": () => ({ ok: true, backend: "gms", channel: CHANNEL }),
  "GET /received": () => received,
  "GET /conversations": () => ({
    backend: "gms", features: { typing: true, presence: true, rich: Object.keys(richEvents) },
    conversations: [...chats.values()].map(overview),
  }),
  "POST /agent/rich": (b) => {
    const make = richEvents[b.kind];
    if (!make) return { status: 501, body: { error: `GMS Chat V2 has no ${JSON.stringify(b.kind)}`, kinds: Object.keys(richEvents) } };
    activeChats(b).forEach((c) => append(c, [make()]));
    return { ok: true };
  },
  "POST /agent/say": (b) => { activeChats(b).forEach((c) => append(c, [{ from: agent, type: "Message", text: String(b.text ?? "") }])); return { ok: true, chats: activeChats(b).length }; },
  "POST /agent/typing": (b) => { activeChats(b).forEach((c) => append(c, [{ from: agent, type: b.on === false ? "TypingStopped" : "TypingStarted" }])); return { ok: true }; },
  "POST /agent/presence": (b) => {
    const status = String(b.status || "online");
    agentPresent = status === "online";
    // Chat V2 has no away: presence is the agent being in the chat or not.
    activeChats(b).forEach((c) => append(c, [{ from: agent, type: status === "online" ? "ParticipantJoined" : "ParticipantLeft" }]));
    return { ok: true };
  },
  "POST /agent/end": (b) => { activeChats(b).forEach((c) => endChat(c, agent)); return { ok: true }; },
  "POST /drop": () => { dropAll(); return { ok: true }; },
  "GET /config": () => ({ ...options }),
  "POST /config": (b) => {
    try { return opts.update(b); } catch (e) { return { status: 400, body: { error: e.message } }; }
  },
  "POST /reset": () => {
    statusFaults = [];
    lostAnswers = [];
    refusal.until = 0;
    agentPresent = true;
    return opts.reset();
  },
  "POST /fault/status": (b) => {
    statusFaults.push({ operation: String(b.operation || "*"), code: Number(b.code) === 1 ? 1 : 2, times: Number(b.times) || 1 });
    return { ok: true, faults: statusFaults };
  },
  "POST /fault/lose_answer": (b) => {
    lostAnswers.push({ operation: String(b.operation || "requestChat"), times: Number(b.times) || 1 });
    return { ok: true, faults: lostAnswers };
  },
  "POST /fault/expire": () => {
    // GMS forgets the sessions: their secureKeys are answered statusCode 2 from now on.
    for (const c of chats.values()) { c.expired = true; c.ended = true; }
    dropAll();
    clients.clear();
    return { ok: true };
  },
  "POST /refuse": (b) => { refusal.refuse(b.seconds); return { ok: true, until: refusal.until }; },
  // Forgets every Bayeux client (next connect: unknown client); chats live on in Chat Server.
  "POST /restart": () => { dropAll(); clients.clear(); return { ok: true }; },
};

server.listen(PORT, "127.0.0.1", () => log(`gms reference server on ws:// and http://127.0.0.1:${PORT}${PATH} channel ${CHANNEL}`));
