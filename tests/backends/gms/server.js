// Reference GMS Chat V2 server: Bayeux 1.0 as CometD's Java server speaks it, over WebSocket and
// HTTP long-polling, with Chat V2 semantics on /service/chatV2/{service}, a scripted agent, the
// control API, and the deployment settings and faults of options.js. Node + ws + http, written
// by hand: faye cannot answer on /service channels the way GMS does, and CometD's own server is
// Java. Each behaviour names where the real software does it; "cometd" below is the
// cometd/cometd repository (paths under cometd-java/cometd-java-server/src/main/java/org/cometd/
// server/ and the WebSocket transport in cometd-java-websocket-common-server
// .../AbstractWebSocketTransport.java, read at tag 3.1.14 unless said otherwise), "faye" is
// faye/faye src/protocol/server.js. Anything without a source is called a guess.
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
const BROWSER_COOKIE = "BAYEUX_BROWSER"; // AbstractHttpTransport BROWSER_COOKIE_NAME_OPTION default
const options = opts.options;
const hex = (n) => crypto.randomBytes(n).toString("hex");
const log = (...a) => console.log(new Date().toISOString(), ...a);

// ---------------------------------------------------------------------------------------------
// Bayeux sessions (cometd ServerSessionImpl, reduced to what a client can observe).
// clientId -> {id, ws, held, queue, connected, expireAt, advised, batch, browserId}
//   ws        the WebSocket that is the session's scheduler (its handshake or last connect came
//             on it), null when the last connect came over HTTP
//   held      the /meta/connect being held: {via, res | ws, reply, timer}
//   queue     messages waiting for the client (ServerSessionImpl._queue, FIFO)
//   expireAt  when the session is forgotten; 0 while a connect is held (scheduleExpiration /
//             cancelExpiration)
//   advised   the transport the last advice was sent for (ServerSessionImpl.takeAdvice)
//   batch     > 0 while a long-polling request of this session is processed (startBatch)
const sessions = new Map();
const chats = new Map(); // chatId -> chat
const received = [];
const refusal = new Refusal();
const agent = { nickname: "Ana", participantId: 2, type: "Agent" };
let agentPresent = true;
// Faults set through the control API: {operation, code, times} and {operation, times}.
let statusFaults = [];
let lostAnswers = [];

const connectionTypes = () => (options.websocket ? ["websocket", "long-polling"] : ["long-polling"]);
const open = (ws) => ws && ws.readyState === 1;

/** The session of a message, or null. Over HTTP with browser_cookie on, only a request carrying
 * the BAYEUX_BROWSER cookie of the handshake finds it (AbstractHttpTransport.findSession:
 * findCurrentSessions by cookie, getSession(clientId) only with trustClientSession); over
 * WebSocket the clientId is enough (AbstractWebSocketTransport.processMessages). */
function findSession(msg, ctx) {
  const s = msg && msg.clientId ? sessions.get(msg.clientId) : null;
  if (!s) return null;
  if (ctx.transport === "long-polling" && options.browser_cookie && !(s.browserId && ctx.browserId === s.browserId)) return null;
  return s;
}

/** ServerSessionImpl.takeAdvice: advice goes out only when the transport differs from the one
 * last advised, or when the client sent advice of its own (ConnectHandler: reAdvise). */
function takeAdvice(s, transport, force) {
  if (!force && s.advised === transport) return null;
  s.advised = transport;
  return { reconnect: "retry", interval: 0, timeout: options.timeout };
}

// ServerSessionImpl.scheduleExpiration: expireTime = now + interval (0) + maxInterval, set when a
// connect reply or the handshake reply is written; cancelExpiration(true) on each connect.
const scheduleExpiration = (s) => { s.expireAt = Date.now() + options.max_interval; };

/** One WebSocket frame; false (nothing sent) when the socket is not open. */
function frame(ws, messages) {
  if (!messages.length) return true;
  if (!open(ws)) return false;
  ws.send(JSON.stringify(messages));
  return true;
}

/** Answers the held /meta/connect now, with everything queued. Long-polling: one array, queued
 * messages first and the connect reply last (AsyncJSONTransport.Writer: state MESSAGES, then
 * REPLIES). WebSocket: the queue in one frame, then the reply in another (AbstractWebSocket
 * Transport.Flusher.process: queue entries, then replies). */
function resume(s) {
  const h = s.held;
  if (!h) return;
  s.held = null;
  clearTimeout(h.timer);
  const queue = s.queue.splice(0);
  if (h.via === "long-polling") {
    if (h.res.writableEnded || h.res.destroyed) s.queue.unshift(...queue);
    else writeBayeux(h.res, 200, [...queue, h.reply]);
  } else if (!frame(h.ws, queue)) {
    s.queue.unshift(...queue);
  } else {
    frame(h.ws, [h.reply]);
  }
  scheduleExpiration(s);
}

/** A new /meta/connect replaces a held one. Over HTTP the older request is failed with HTTP 408
 * (LongPollScheduler.cancel -> error(SC_REQUEST_TIMEOUT) in CometD 3.0 to 3.1.10; 4.0.0-4.0.6
 * fail it with a TimeoutException, answered 408 by AsyncJSONTransport.handle; 3.1.11 switched to
 * 500, #883 "Don't use HTTP 408 for expired /meta/connect", and 3.1.13/4.0.7 made it the option
 * duplicateMetaConnectHttpResponseCode, default 500). Over WebSocket the older connect is never
 * answered (shouldHoldMetaConnect: "Cancelled unresponded meta connect"). Queued messages stay
 * for the new connect. */
function cancelHeld(s) {
  const h = s.held;
  if (!h) return;
  s.held = null;
  clearTimeout(h.timer);
  if (h.via === "long-polling" && !h.res.writableEnded && !h.res.destroyed) {
    httpError(h.res, 408, "Request Timeout");
  }
}

/** ServerSessionImpl.flush -> the scheduler's schedule(): a held long-poll is resumed with the
 * queue; over WebSocket the queue is pushed on its own (the held connect stays held) unless
 * only connect replies may carry it (metaConnectDeliverOnly = options.batching), in which case
 * the held connect is answered with it. A session with no held long-poll and no WebSocket keeps
 * its queue for its next request. Nothing happens while a long-polling request of the session
 * is being processed (batch: ServerSessionImpl.enqueueMessage wakes up only when _batch == 0). */
function flush(s) {
  if (s.batch > 0) return;
  if (s.held && s.held.via === "long-polling") return resume(s);
  if (!open(s.ws)) return;
  if (options.batching) {
    if (s.held && s.queue.length) resume(s);
    return;
  }
  const queue = s.queue.splice(0);
  if (!frame(s.ws, queue)) s.queue.unshift(...queue);
}

/** Queues `messages` for a session and flushes it (ServerSessionImpl.deliver -> doDeliver). */
function deliverTo(clientId, messages) {
  const s = clientId && sessions.get(clientId);
  if (!s) return; // a forgotten client: nobody to deliver to
  s.queue.push(...messages);
  flush(s);
}

/** Forgets every session (a CometD node restart, or GMS expiring them). */
function forgetAll() {
  for (const s of sessions.values()) cancelHeld(s);
  sessions.clear();
}

// ---------------------------------------------------------------------------------------------
// Chat V2 on /service/chatV2/{service}.

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
    transcript: [], nextIndex: 1, ended: false, expired: false,
  };
  chats.set(chat.chatId, chat);
  return chat;
}

/** nextPosition as options.transcript_position reads positions: inclusive = the index to ask
 * for next (last + 1), exclusive = the last index sent. */
const nextPosition = (chat) => (options.transcript_position === "exclusive" ? chat.nextIndex - 1 : chat.nextIndex);

/** A statusCode 0 answer with the transcript events whose index passes `keep`. */
function response(chat, keep) {
  return {
    statusCode: 0, alias: chat.alias, userId: chat.userId, secureKey: chat.secureKey, chatId: chat.chatId,
    chatEnded: chat.ended, nextPosition: nextPosition(chat),
    messages: chat.transcript.filter(keep),
  };
}

/** Appends transcript events and pushes them to the chat's current client (unless `quiet`). */
function append(chat, events, quiet = false) {
  const start = chat.nextIndex;
  for (const e of events) {
    chat.transcript.push({ ...e, index: chat.nextIndex++, utcTime: Date.now() });
  }
  if (quiet) return;
  if (!options.reorder) return notify(chat.clientId, response(chat, (m) => m.index >= start));
  // Out of order: each event on its own (GMS nodes in a cluster, see options.js).
  for (const e of chat.transcript.filter((m) => m.index >= start)) {
    notify(chat.clientId, { ...response(chat, (m) => m === e) });
  }
}

const visitor = (chat) => ({ nickname: chat.nickname, participantId: 1, type: "Client" });

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

/** A statusCode 1/2 answer in the configured shape (options.error_shape). statusCode 1 = retry
 * later, chatEnded stays false; 2 = will not be done, the client ends the session (Genesys Web
 * API Server "Chat Server Status Codes", docs.genesys.com/Documentation/ES/latest/WebAPIDEV/
 * ChatService; GMS API/APIResponses). Error codes: 249 is the one real GMS statusCode 2 code
 * found (options.js, error_shape); 102 and 201 are guesses. */
function errorAnswer(code, errorCode, advice, chat) {
  const errors = [{ code: errorCode, advice }];
  if (options.error_shape === "bare") return { statusCode: code, errors };
  return {
    messages: [], chatEnded: code === 2 ? true : Boolean(chat && chat.ended), statusCode: code, errors,
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

/** A Chat V2 operation from `clientId` (null: a client the server does not know); `reply(data)`
 * delivers its data answer. GMS answers on the same /service channel (Genesys' CometD sample,
 * ChatV2CometDWebSocketSample, listens on the channel it publishes to). */
function chatOperation(clientId, data, reply) {
  const op = data && data.operation;
  const chat = op === "requestChat" ? null : [...chats.values()].find((c) => c.secureKey === data.secureKey);
  const fault = takeFault(statusFaults, op);
  if (fault) {
    // Not performed. statusCode 2 ends the chat it names: the client will treat it as over.
    if (fault.code === 2 && chat) chat.ended = true;
    const [errorCode, advice] = fault.code === 1
      ? [102, "Chat Server is not available, try again later (fault)"]
      : [249, `Media server was not able to execute request. referenceId[${Date.now() % 1e8}] (fault)`];
    return reply(errorAnswer(fault.code, errorCode, advice, chat));
  }
  if (op !== "requestChat" && !chat) return reply(errorAnswer(2, 201, "Invalid or missing secureKey", null));
  // After GMS expired the session its secureKey is refused (statusCode 2, chatEnded true).
  if (op !== "requestChat" && chat.expired) return reply(errorAnswer(2, 201, "Chat session expired (secureKey)", chat));
  const lose = takeFault(lostAnswers, op);
  const answer = lose ? () => log(`fault: answer to ${op} lost`) : reply;
  switch (op) {
    case "requestChat": {
      const c = newChat(clientId, data);
      c.transcript.push({ from: visitor(c), type: "ParticipantJoined", index: c.nextIndex++, utcTime: Date.now() });
      // A lost answer: nobody has its secureKey, so nobody hears of this chat.
      if (lose) c.clientId = null;
      answer(response(c, () => true));
      agentJoins(c);
      return;
    }
    case "requestNotifications": {
      chat.clientId = clientId; // the chat's events go to the client that asked last
      const position = Number(data.transcriptPosition) || 0;
      const exclusive = options.transcript_position === "exclusive";
      return answer(response(chat, (m) => (exclusive ? m.index > position : m.index >= position)));
    }
    case "sendMessage": {
      if (chat.ended) return reply(errorAnswer(2, 201, "Chat has ended", chat));
      const text = storedText(String(data.message ?? ""));
      received.push({ chatId: chat.chatId, text, at: Date.now() });
      // A lost answer: stored, but the visitor's own Message event is not pushed (it is in
      // the transcript for requestNotifications), nor the reply_to_send answer.
      append(chat, [{ from: visitor(chat), type: "Message", text }], Boolean(lose));
      if (options.reply_to_send) answer({ ...response(chat, () => false) });
      if (agentPresent) later(agentDelay, () => agentSays(chat, `You said: ${text}`));
      return;
    }
    case "startTyping": return append(chat, [{ from: visitor(chat), type: "TypingStarted" }]);
    case "stopTyping": return append(chat, [{ from: visitor(chat), type: "TypingStopped" }]);
    case "updateNickname":
      chat.nickname = String(data.nickname || chat.nickname);
      return append(chat, [{ from: visitor(chat), type: "NicknameUpdated" }]);
    case "customNotice": return append(chat, [{ from: visitor(chat), type: "CustomNotice", text: String(data.message ?? "") }]);
    case "updateData": return answer(response(chat, () => false));
    case "disconnect":
      endChat(chat, visitor(chat));
      return answer({ ...response(chat, () => false), chatEnded: true });
    default: return reply(errorAnswer(2, 201, `Unknown operation ${op}`, chat));
  }
}

// ---------------------------------------------------------------------------------------------
// Bayeux message handling, shared by both transports. `ctx` is one request (HTTP) or one frame
// (WebSocket): {transport, ws, res, replies, sendQueue, hold, single, session, browserId}.

/** A message from a client the server does not know, answered per options.errors. */
function unknownClient(msg, ctx) {
  const { id, channel } = msg;
  const advised = channel === "/meta/connect" || channel === "/meta/handshake";
  if (options.errors === "faye") {
    if (!String(channel).startsWith("/meta/")) {
      // faye Server#_handle: a publish is not checked against the client list; it is performed
      // and answered successful (_makeResponse). Its data answer has nobody to go to.
      ctx.replies.push({ id, clientId: msg.clientId, channel, successful: true });
      if (channel === CHANNEL) chatOperation(null, msg.data || {}, () => {});
      return;
    }
    // faye Error.clientUnknown; Server#_advize adds advice to handshake and connect replies only.
    const reply = { id, channel, successful: false, error: `401:${msg.clientId}:Unknown client` };
    if (advised) reply.advice = { reconnect: "handshake" };
    return ctx.replies.push(reply);
  }
  // cometd BayeuxServerImpl.unknownSession (402::session_unknown since 4.0.4, commit 67ead91ca):
  // advice only on handshake and connect replies.
  const error = options.errors === "cometd4" ? "402::session_unknown" : "402::Unknown client";
  const reply = { id, channel, successful: false, error };
  if (advised) reply.advice = { reconnect: "handshake", interval: 0 };
  ctx.replies.push(reply);
}

function handshake(msg, ctx) {
  const { id, channel } = msg;
  if (options.errors === "faye") {
    // faye Server#handshake checks version and connection types; CometD checks neither
    // (BayeuxServerImpl.HandshakeHandler).
    const types = msg.supportedConnectionTypes;
    let error = null;
    if (!msg.version) error = "402:version:Missing required parameter";
    else if (!Array.isArray(types)) error = "402:supportedConnectionTypes:Missing required parameter";
    else if (!types.some((t) => connectionTypes().includes(t))) error = `301:${types.join(",")}:Connection types not supported`;
    if (error) {
      return ctx.replies.push({ id, channel, successful: false, error, version: "1.0", supportedConnectionTypes: connectionTypes(), advice: { reconnect: "handshake" } });
    }
  }
  const s = {
    id: hex(16), ws: null, held: null, queue: [], connected: false, expireAt: 0, advised: null, batch: 0, browserId: null,
  };
  sessions.set(s.id, s);
  if (ctx.transport === "websocket") {
    // processMetaHandshake: session.setScheduler(this).
    s.ws = ctx.ws;
    ctx.ws.clientIds.add(s.id);
  } else {
    // AbstractHttpTransport.processMetaHandshake: the browser id from the cookie, or a new one
    // set as a cookie (setBrowserId: 16 chars, path /, HttpOnly, session cookie).
    s.browserId = ctx.browserId || hex(8);
    if (!ctx.browserId) ctx.setCookie = `${BROWSER_COOKIE}=${s.browserId}; Path=/; HttpOnly`;
  }
  scheduleExpiration(s);
  // HandshakeHandler: version, minimumVersion, the allowed transports, the session's advice.
  ctx.replies.push({
    id, channel, successful: true, clientId: s.id, version: "1.0", minimumVersion: "1.0",
    supportedConnectionTypes: connectionTypes(), advice: takeAdvice(s, ctx.transport, true),
  });
}

function connect(s, msg, ctx) {
  const { id, channel } = msg;
  s.expireAt = 0; // cancelExpiration(true)
  // AbstractHttpTransport.processMetaConnect: setScheduler(null) cancels a held long-poll;
  // AbstractWebSocketTransport.shouldHoldMetaConnect cancels a held WebSocket connect.
  cancelHeld(s);
  const wasConnected = s.connected;
  s.connected = true;
  // The session's scheduler follows its connects (WebSocket: session.setScheduler(this); HTTP:
  // the held request). A client may switch transports without a new handshake.
  if (ctx.transport === "websocket") {
    s.ws = ctx.ws;
    ctx.ws.clientIds.add(s.id);
  } else {
    s.ws = null;
  }
  const clientAdvice = msg.advice && typeof msg.advice === "object" ? msg.advice : null;
  const reply = { id, channel, successful: true };
  const advice = takeAdvice(s, ctx.transport, Boolean(clientAdvice));
  if (advice) reply.advice = advice;
  // ServerSessionImpl.calculateTimeout: the client's advice.timeout for this connect, else the
  // server's. The first connect after a handshake is never held ("Support old clients that do
  // not send advice:{timeout:0} on the first connect": wasConnected); over HTTP only a connect
  // alone in its request is held (canSuspend = messages.length == 1); nor is one that finds
  // messages queued (setScheduler resumes at once; WebSocket: hasNonLazyMessages).
  const timeout = clientAdvice && Number(clientAdvice.timeout) >= 0 ? Number(clientAdvice.timeout) : options.timeout;
  const hold = timeout > 0 && wasConnected && (ctx.transport === "websocket" || ctx.single) && !s.queue.length;
  if (!hold) {
    ctx.replies.push(reply);
    ctx.sendQueue = true;
    scheduleExpiration(s);
    return;
  }
  ctx.hold = { session: s, reply, timeout };
}

function bayeux(msg, ctx) {
  if (!msg || typeof msg !== "object") return;
  const { channel, id } = msg;
  if (channel === "/meta/handshake") return handshake(msg, ctx);
  const s = findSession(msg, ctx);
  if (!s) return unknownClient(msg, ctx);
  if (!ctx.session) ctx.session = s;
  if (channel === "/meta/connect") return connect(s, msg, ctx);
  // cancelExpiration(false): any other message delays the expiry.
  if (s.expireAt) scheduleExpiration(s);
  if (channel === "/meta/disconnect") {
    // DisconnectHandler: removeServerSession, then flush() wakes the held connect, whose reply
    // says reconnect none (resume: session.isDisconnected()).
    sessions.delete(s.id);
    ctx.replies.push({ id, channel, successful: true });
    if (s.held) {
      s.held.reply.advice = { ...(s.held.reply.advice || {}), reconnect: "none" };
      resume(s);
    }
    return;
  }
  if (channel === "/meta/subscribe" || channel === "/meta/unsubscribe") {
    // GMS clients listen on the /service channel without subscribing (Genesys' sample); CometD
    // accepts a subscription to any channel its authorizers allow (SubscribeHandler).
    if (!msg.subscription) return ctx.replies.push({ id, channel, successful: false, error: "403::subscription_missing" });
    return ctx.replies.push({ id, channel, subscription: msg.subscription, successful: true });
  }
  if (String(channel).startsWith("/meta/")) {
    // A guess: CometD has no handler for other meta channels.
    return ctx.replies.push({ id, channel, successful: false, error: `404:${channel}:Unknown Channel` });
  }
  // A publish: BayeuxServerImpl.handle -> successful, then doPublish (a /service channel
  // reaches only its server-side listeners: the Chat V2 service). Over HTTP the reply carries
  // what is queued unless only connect replies may (AbstractHttpTransport.processMessage:
  // sendQueue = !metaConnectDeliveryOnly); over WebSocket it is pushed as it comes.
  ctx.replies.push({ id, channel, successful: true });
  if (ctx.transport === "long-polling" && !options.batching) ctx.sendQueue = true;
  if (channel !== CHANNEL) return;
  const clientId = s.id;
  chatOperation(clientId, msg.data || {}, (data) => {
    const answer = { channel: CHANNEL, data };
    // A remote-call style answer names the request (options.echo_id).
    if (options.echo_id) answer.id = id;
    deliverTo(clientId, [answer]);
  });
}

// ---------------------------------------------------------------------------------------------
// Transports.

/** CORS as Jetty's CrossOriginFilter does in front of CometDServlet (cometd-documentation
 * java_server_configuration.adoc "Configuring the CrossOriginFilter"; cometd-demo web.xml):
 * allowedOrigins "*" echoes the request's Origin, allowCredentials true. */
function corsHeaders(req) {
  const origin = req.headers.origin;
  if (!origin) return { "access-control-allow-origin": "*" };
  return { "access-control-allow-origin": origin, "access-control-allow-credentials": "true", vary: "Origin" };
}

function writeBayeux(res, status, value) {
  res.writeHead(status, { "content-type": "application/json;charset=UTF-8", ...res.cors, ...(res.extraHeaders || {}) });
  res.end(JSON.stringify(value));
}

function httpError(res, status, text) {
  res.writeHead(status, { "content-type": "text/plain", ...res.cors });
  res.end(text);
}

const cookieOf = (req, name) => {
  for (const part of String(req.headers.cookie || "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return null;
};

/** Long-polling: a POST of a JSON array of Bayeux messages, answered with a JSON array
 * (AsyncJSONTransport). */
async function longPolling(req, res) {
  res.cors = corsHeaders(req);
  if (req.method === "OPTIONS") {
    // CometDServlet.serviceOptions answers a preflight 200 with nothing (the CometD clients
    // append /handshake, /connect... to the URL, so each gets one); the filter adds the headers
    // (CrossOriginFilter defaults: allowedHeaders X-Requested-With,Content-Type,Accept,Origin,
    // preflightMaxAge 1800).
    res.writeHead(200, {
      ...res.cors,
      "access-control-allow-methods": "POST, OPTIONS",
      "access-control-allow-headers": "X-Requested-With, Content-Type, Accept, Origin",
      "access-control-max-age": "1800",
      "content-length": "0",
    });
    return res.end();
  }
  if (refusal.active) return httpError(res, 503, "Service Unavailable");
  // CometDServlet.service: no allowed HTTP transport accepts the request ->
  // sendError(400, "Unknown Bayeux Transport") (AsyncJSONTransport.accept takes any POST).
  if (req.method !== "POST" || !options.long_polling) return httpError(res, 400, "Unknown Bayeux Transport");
  const body = await readJson(req);
  const messages = Array.isArray(body) ? body : body && typeof body === "object" && body.channel ? [body] : [];
  // Unparseable JSON: handleJSONParseException -> 400; no messages: "protocol violation".
  if (!messages.length) return httpError(res, 400, "Bad Request");
  const ctx = {
    transport: "long-polling", res, replies: [], sendQueue: false, hold: null, single: messages.length === 1,
    session: null, browserId: cookieOf(req, BROWSER_COOKIE), setCookie: null,
  };
  // processMessages: a batch on the first message's session unless it is a connect, so that
  // what its messages cause is queued (and taken by this reply) rather than waking the held
  // connect; endBatch() flushes whatever is left after the reply is written.
  const first = messages[0];
  const batched = first && first.channel !== "/meta/connect" && first.channel !== "/meta/handshake" ? findSession(first, ctx) : null;
  if (batched) batched.batch += 1;
  try {
    for (const m of messages) bayeux(m, ctx);
  } finally {
    if (batched) batched.batch -= 1;
  }
  if (ctx.setCookie) res.extraHeaders = { "set-cookie": ctx.setCookie };
  if (ctx.hold) {
    const { session: s, reply, timeout } = ctx.hold;
    s.held = { via: "long-polling", res, reply, timer: setTimeout(() => resume(s), timeout) };
    res.on("close", () => {
      // The client went away: stop holding; the queue waits for its next connect.
      if (s.held && s.held.res === res) { clearTimeout(s.held.timer); s.held = null; scheduleExpiration(s); }
    });
    if (s.queue.length) resume(s);
  } else {
    const s = ctx.session;
    const queue = ctx.sendQueue && s ? s.queue.splice(0) : [];
    writeBayeux(res, 200, [...queue, ...ctx.replies]);
  }
  if (batched && sessions.get(batched.id) === batched) flush(batched);
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
    // A proxy that refuses the upgrade, or CometD without its WebSocket transport (options.js).
    socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
});

let socketsOpened = 0;
wss.on("connection", (ws) => {
  socketsOpened += 1;
  ws.clientIds = new Set();
  ws.on("message", (raw) => {
    let parsed;
    try { parsed = JSON.parse(raw.toString()); } catch { return log("not JSON:", String(raw).slice(0, 200)); }
    const messages = Array.isArray(parsed) ? parsed : [parsed];
    const ctx = { transport: "websocket", ws, replies: [], sendQueue: false, hold: null, single: messages.length === 1, session: null };
    for (const m of messages) bayeux(m, ctx);
    // AbstractWebSocketTransport.processMessages -> send(): the queue (when a connect reply
    // takes it) in one frame, then the replies.
    const s = ctx.session;
    if (ctx.sendQueue && s && s.queue.length) {
      const queue = s.queue.splice(0);
      if (!frame(ws, queue)) s.queue.unshift(...queue);
    }
    frame(ws, ctx.replies);
    if (ctx.hold) {
      const { session: h, reply, timeout } = ctx.hold;
      h.held = { via: "websocket", ws, reply, timer: setTimeout(() => resume(h), timeout) };
      if (h.queue.length) flush(h);
    }
  });
  ws.on("close", () => {
    // GMS "closes the socket and sets a 10-second timer" (docs.genesys.com GMS API/
    // ChatPushNotification): the session lives for maxInterval, its queue kept.
    for (const id of ws.clientIds) {
      const s = sessions.get(id);
      if (!s || s.ws !== ws) continue;
      if (s.held && s.held.via === "websocket") { clearTimeout(s.held.timer); s.held = null; }
      s.ws = null;
      scheduleExpiration(s);
    }
  });
});

// maxInterval: a session without a held connect past its expiry is forgotten
// (ServerSessionImpl.scheduleExpiration / BayeuxServerImpl sweep).
setInterval(() => {
  const now = Date.now();
  for (const [id, s] of sessions) {
    if (!s.held && s.expireAt && now > s.expireAt) sessions.delete(id);
  }
}, 250).unref();

/** Drops every connection (the network, not the server: sessions live on for maxInterval). */
function dropAll() {
  wss.clients.forEach((ws) => ws.terminate());
  for (const s of sessions.values()) {
    if (s.held && s.held.via === "long-polling") {
      clearTimeout(s.held.timer);
      s.held.res.destroy();
      s.held = null;
      scheduleExpiration(s);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Control API (tests/backends/lib/control.js for the shared routes).

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
const times = (v) => (v === undefined ? 1 : Math.max(1, Math.floor(Number(v)) || 1));
const controls = {
  "GET /health": () => ({ ok: true, backend: "gms", channel: CHANNEL }),
  "GET /received": () => received,
  "GET /conversations": () => ({
    backend: "gms", features: { typing: true, presence: true, rich: Object.keys(richEvents) },
    conversations: [...chats.values()].map(overview),
  }),
  // Connections held now (WebSockets plus long-polling sessions waiting in a connect), and
  // WebSockets opened since start: what a page's tabs cost the server.
  "GET /connections": () => ({
    open: wss.clients.size + [...sessions.values()].filter((s) => !open(s.ws) && s.held).length,
    opened: socketsOpened,
  }),
  "GET /sessions": () => [...sessions.values()].map((s) => ({
    clientId: s.id, transport: open(s.ws) ? "websocket" : "long-polling", held: s.held ? s.held.via : null,
    queued: s.queue.length, expiresIn: s.expireAt ? s.expireAt - Date.now() : null,
  })),
  "POST /agent/rich": (b) => {
    const make = richEvents[b.kind];
    if (!make) return { status: 501, body: { error: `GMS Chat V2 has no ${JSON.stringify(b.kind)}`, kinds: Object.keys(richEvents) } };
    activeChats(b).forEach((c) => append(c, [make()]));
    return { ok: true };
  },
  // `nickname`: the agent's display name, any text, for the hostile-content test. Chat V2 gives
  // each event's sender as a party resource {nickname, participantId, type} and lets a party
  // change its nickname mid-chat (a NicknameUpdated event; docs.genesys.com GMS API
  // APIResponses "Chat V2 Response Format", GMSLibrary ChatV2Participant.swift and
  // ChatV2MessageType.swift); nothing limits what it holds, and Genesys' own sample shows it
  // as given (seed 001, parseTranscript: chatUi.displayMessage(this.from.nickname, ...)).
  "POST /agent/say": (b) => {
    const from = b.nickname === undefined ? agent : { ...agent, nickname: String(b.nickname) };
    activeChats(b).forEach((c) => append(c, [{ from, type: "Message", text: String(b.text ?? "") }]));
    return { ok: true, chats: activeChats(b).length };
  },
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
  "POST /refuse": (b) => { refusal.refuse(b.seconds); return { ok: true, until: refusal.until }; },
  // A CometD node restart: every Bayeux session is forgotten (the next connect is an unknown
  // client); chats live on in Chat Server.
  "POST /restart": () => { dropAll(); forgetAll(); return { ok: true }; },
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
    const code = Number(b.code);
    if (code !== 1 && code !== 2) return { status: 400, body: { error: "code must be 1 or 2" } };
    statusFaults.push({ operation: String(b.operation || "*"), code, times: times(b.times) });
    return { ok: true, faults: statusFaults };
  },
  "POST /fault/lose_answer": (b) => {
    lostAnswers.push({ operation: String(b.operation || "*"), times: times(b.times) });
    return { ok: true, faults: lostAnswers };
  },
  "POST /fault/expire": () => {
    // GMS expired every chat session: their secureKeys are answered statusCode 2 from now on,
    // and its CometD sessions are gone too.
    for (const c of chats.values()) { c.expired = true; c.ended = true; }
    dropAll();
    forgetAll();
    return { ok: true, chats: chats.size };
  },
};

server.listen(PORT, "127.0.0.1", () => log(`gms reference server on ws:// and http://127.0.0.1:${PORT}${PATH} channel ${CHANNEL}`));
