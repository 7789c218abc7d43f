// Reference GMS Chat V2 server: Bayeux 1.0 over WebSocket (handshake, connect loop with advice,
// unknown-client errors) with Chat V2 semantics on /service/chatV2/{service}, a scripted agent
// and the control API. Node + ws: faye cannot answer on /service channels the way GMS does.
"use strict";
const http = require("http");
const crypto = require("crypto");
const { WebSocketServer } = require("ws");
const { handleControl, agentDelay, later, Refusal, send } = require("../lib/control");

const PORT = Number(process.env.GMS_PORT || 3102);
const SERVICE = process.env.GMS_SERVICE || "customer-support";
const CHANNEL = `/service/chatV2/${SERVICE}`;
const CONNECT_TIMEOUT = Number(process.env.GMS_CONNECT_TIMEOUT || 30000);
const hex = (n) => crypto.randomBytes(n).toString("hex");
const log = (...a) => console.log(new Date().toISOString(), ...a);

const clients = new Map(); // clientId -> { ws, pendingConnect }
const chats = new Map(); // chatId -> chat
const received = [];
const refusal = new Refusal();
const agent = { nickname: "Ana", participantId: 2, type: "Agent" };
let agentPresent = true;

function deliver(ws, messages) {
  if (ws && ws.readyState === 1) ws.send(JSON.stringify(messages));
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
  const c = clients.get(chat.clientId);
  if (c) deliver(c.ws, [{ channel: CHANNEL, data: response(chat, start) }]);
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

function chatOperation(clientId, ws, data) {
  const op = data && data.operation;
  const chat = op === "requestChat" ? null : [...chats.values()].find((c) => c.secureKey === data.secureKey);
  const reply = (payload) => deliver(ws, [{ channel: CHANNEL, data: payload }]);
  const refuse = (advice) => reply({ statusCode: 2, errors: [{ code: 201, advice }], chatEnded: false });
  if (op !== "requestChat" && !chat) return refuse("Invalid or missing secureKey");
  switch (op) {
    case "requestChat": {
      const c = newChat(clientId, data);
      c.transcript.push({ from: client(c), type: "ParticipantJoined", index: c.nextIndex++, utcTime: Date.now() });
      reply(response(c, 1));
      agentJoins(c);
      return;
    }
    case "requestNotifications":
      chat.clientId = clientId; // the chat follows the client that asked last
      return reply(response(chat, Number(data.transcriptPosition) || 1));
    case "sendMessage": {
      if (chat.ended) return refuse("Chat has ended");
      const text = String(data.message ?? "");
      received.push({ chatId: chat.chatId, text, at: Date.now() });
      append(chat, [{ from: client(chat), type: "Message", text }]);
      if (agentPresent) later(agentDelay, () => agentSays(chat, `You said: ${text}`));
      return;
    }
    case "startTyping": return append(chat, [{ from: client(chat), type: "TypingStarted" }]);
    case "stopTyping": return append(chat, [{ from: client(chat), type: "TypingStopped" }]);
    case "updateNickname":
      chat.nickname = String(data.nickname || chat.nickname);
      return append(chat, [{ from: client(chat), type: "NicknameUpdated" }]);
    case "customNotice": return append(chat, [{ from: client(chat), type: "CustomNotice", text: String(data.message ?? "") }]);
    case "updateData": return reply(response(chat, chat.nextIndex));
    case "disconnect": return endChat(chat, client(chat));
    default: return refuse(`Unknown operation ${op}`);
  }
}

function bayeux(ws, msg) {
  const { channel, id } = msg;
  const known = msg.clientId && clients.get(msg.clientId);
  const unknown = { id, channel, successful: false, error: "402::Unknown client", advice: { reconnect: "handshake", interval: 0 } };
  if (channel === "/meta/handshake") {
    if (!msg.version) return deliver(ws, [{ id, channel, successful: false, error: "402:version:Missing required parameter", advice: { reconnect: "none" } }]);
    if (!(msg.supportedConnectionTypes || []).includes("websocket")) {
      return deliver(ws, [{ id, channel, successful: false, error: "Unsupported connection types", supportedConnectionTypes: ["websocket"], advice: { reconnect: "none" } }]);
    }
    const clientId = hex(16);
    clients.set(clientId, { ws, pendingConnect: null });
    ws.clientIds.add(clientId);
    return deliver(ws, [{ id, channel, version: "1.0", minimumVersion: "1.0", supportedConnectionTypes: ["websocket"], clientId, successful: true, advice: { reconnect: "retry", interval: 0, timeout: CONNECT_TIMEOUT } }]);
  }
  if (!known) return deliver(ws, [unknown]);
  known.ws = ws;
  if (channel === "/meta/connect") {
    if (known.pendingConnect) clearTimeout(known.pendingConnect);
    const answer = () => { known.pendingConnect = null; deliver(known.ws, [{ id, channel, successful: true, advice: { reconnect: "retry", interval: 0, timeout: CONNECT_TIMEOUT } }]); };
    const hold = msg.advice && msg.advice.timeout === 0 ? 0 : CONNECT_TIMEOUT;
    known.pendingConnect = setTimeout(answer, hold);
    return;
  }
  if (channel === "/meta/disconnect") {
    if (known.pendingConnect) clearTimeout(known.pendingConnect);
    clients.delete(msg.clientId);
    return deliver(ws, [{ id, channel, successful: true }]);
  }
  if (channel === "/meta/subscribe" || channel === "/meta/unsubscribe") {
    // GMS clients listen on /service channels without subscribing; accept it from those that do.
    return deliver(ws, [{ id, channel, subscription: msg.subscription, successful: true }]);
  }
  if (channel === CHANNEL) {
    deliver(ws, [{ id, channel, successful: true }]);
    return chatOperation(msg.clientId, ws, msg.data || {});
  }
  deliver(ws, [{ id, channel, successful: false, error: `404:${channel}:Unknown Channel` }]);
}

const server = http.createServer(async (req, res) => {
  if (await handleControl(req, res, controls)) return;
  send(res, 404, { error: "not found" });
});
const wss = new WebSocketServer({ noServer: true });
server.on("upgrade", (req, socket, head) => {
  if (refusal.active) {
    socket.end("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
});
wss.on("connection", (ws) => {
  ws.clientIds = new Set();
  ws.on("message", (raw) => {
    let parsed;
    try { parsed = JSON.parse(raw.toString()); } catch { return log("not JSON:", String(raw).slice(0, 200)); }
    for (const m of Array.isArray(parsed) ? parsed : [parsed]) bayeux(ws, m);
  });
  ws.on("close", () => {
    for (const id of ws.clientIds) {
      const c = clients.get(id);
      if (c && c.ws === ws && c.pendingConnect) { clearTimeout(c.pendingConnect); c.pendingConnect = null; }
    }
  });
});

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
  "POST /drop": () => { wss.clients.forEach((ws) => ws.terminate()); return { ok: true }; },
  "POST /refuse": (b) => { refusal.refuse(b.seconds); return { ok: true, until: refusal.until }; },
  "POST /restart": () => { wss.clients.forEach((ws) => ws.terminate()); clients.clear(); return { ok: true }; },
};

server.listen(PORT, "127.0.0.1", () => log(`gms reference server on ws://127.0.0.1:${PORT}/genesys/cometd channel ${CHANNEL}`));
