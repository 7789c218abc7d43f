//! A sans-IO model of a Genesys GMS chat server behind CometD, with the behaviour a client
//! cannot choose — from the sources the protocol notes cite:
//! - Bayeux (cometd/cometd `bayeux.adoc`, `BayeuxServerImpl`): handshake gives a clientId;
//!   `/meta/connect` is held for `advice.timeout` (30 s) unless the client asks `timeout: 0`;
//!   an unknown client gets `402::Unknown client` + `reconnect: handshake` (faye:
//!   `401:<id>:Unknown client`, advice without interval); a restart forgets every client; a
//!   long-polling client without a connect for `maxInterval` (10 s) is forgotten; long-polling
//!   events wait in the client's queue for the next connect reply, and are lost if that reply
//!   is (no ack extension).
//! - Chat V2 (Genesys Chat V2 response format; the seed sample): `requestChat` answers the
//!   session and transcript; notifications go to the client that last asked (`requestChat` or
//!   `requestNotifications`) and to no one else; `requestNotifications` answers the transcript
//!   from `transcriptPosition`; `sendMessage` carries only the text (no client id) and comes back
//!   as a `Client` `Message` event; `statusCode` 1 = not done, try later, 2 = not done, the chat
//!   may be over; `disconnect` ends the chat (`chatEnded: true`).
//! - Unknown, so drawn per seed (`Config`): WebSocket offered or refused, faye-style errors,
//!   data replies echoing the request's Bayeux id, a reply to `sendMessage`, text normalised
//!   (trim, CRLF), live events delivered out of order, `transcriptPosition` exclusive, events
//!   only inside `/meta/connect` replies.

use super::{ConnId, Outbound, Rng, ServerModel, ServerOut};
use chat_widget::core::{HttpRequest, Millis};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The CometD URL the simulated widget is configured with.
pub const URL: &str = "https://gms.sim/genesys/cometd";
/// The chat service.
pub const SERVICE: &str = "sim";
const CHANNEL: &str = "/service/chatV2/sim";
/// CometD's server defaults.
const CONNECT_HOLD: Millis = 30_000;
const MAX_INTERVAL: Millis = 10_000;

/// The server's unknown behaviours, drawn per seed.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The WebSocket upgrade is refused (a proxy, or WebSocket disabled).
    pub no_websocket: bool,
    /// faye's error codes.
    pub faye_errors: bool,
    /// Data replies carry the request's Bayeux id.
    pub echo_id: bool,
    /// `sendMessage` also gets a data reply (without the event).
    pub reply_to_send: bool,
    /// Text is trimmed and CRLF becomes LF.
    pub normalize: bool,
    /// Live notifications leave after a random delay each: later ones can arrive first.
    pub reorder: bool,
    /// `transcriptPosition` is exclusive.
    pub exclusive: bool,
    /// Over WebSocket too, events wait for the next `/meta/connect` reply.
    pub batching: bool,
}

/// One Bayeux client.
#[derive(Debug, Default)]
struct Client {
    /// WebSocket connection, when it came over one.
    conn: Option<ConnId>,
    /// Events waiting for a connect reply (long-polling, or batching).
    queue: Vec<Value>,
    /// A held connect: (request id or WS message id, answer deadline, bayeux id).
    held: Option<(Option<u64>, Millis, String)>,
    /// Last time it was heard from.
    seen: Millis,
}

/// One chat.
#[derive(Debug)]
pub struct Chat {
    /// Constant id.
    pub id: String,
    key: String,
    /// Transcript events in index order.
    pub events: Vec<Value>,
    bound: Option<String>,
    /// Over.
    pub ended: bool,
}

/// Faults the scenario sets on the model.
#[derive(Clone, Debug, Default)]
pub struct ModelFaults {
    /// The next N chat operations are answered with this statusCode and not performed.
    pub status: Option<(i64, u32)>,
    /// The next `requestChat` is performed but its answer is lost with the connection.
    pub lose_chat_answer: bool,
    /// The next `requestChat` is performed but its answer never comes; the connection stays.
    pub silent_chat_answer: bool,
}

/// The model.
pub struct Gms {
    rng: Rng,
    /// Drawn behaviours.
    pub cfg: Config,
    clients: HashMap<String, Client>,
    conns: HashMap<ConnId, Option<String>>,
    /// Every chat ever started.
    pub chats: Vec<Chat>,
    pending: Outbound,
    next_client: u64,
    /// Faults in force.
    pub faults: ModelFaults,
}

impl Gms {
    /// A server with drawn behaviours.
    pub fn new(seed: u64, cfg: Config) -> Self {
        Gms {
            rng: Rng::new(seed.rotate_left(13) ^ 0x6d5),
            cfg,
            clients: HashMap::new(),
            conns: HashMap::new(),
            chats: Vec::new(),
            pending: Outbound::default(),
            next_client: 0,
            faults: ModelFaults::default(),
        }
    }

    fn later(&mut self, at: Millis, out: ServerOut) {
        self.pending.push(at, out);
    }

    /// A restart: every Bayeux client is forgotten (chats survive, as on a GMS node failover).
    pub fn restart(&mut self, now: Millis) {
        // Held long polls fail with the process.
        let held: Vec<u64> = self
            .clients
            .values()
            .filter_map(|c| c.held.as_ref().and_then(|h| h.0))
            .collect();
        self.clients.clear();
        for (_, client) in self.conns.iter_mut() {
            *client = None;
        }
        self.pending.retain(|o| !matches!(o, ServerOut::Answer(..)));
        for req in held {
            self.later(now, ServerOut::Answer(req, 0, String::new()));
        }
    }

    /// Every chat session expires (GMS forgets its secureKeys): later requests with them are
    /// refused with `statusCode` 2, and every Bayeux client is forgotten.
    pub fn expire(&mut self, now: Millis) {
        for chat in &mut self.chats {
            chat.ended = true;
            chat.key = format!("expired-{}", chat.key);
        }
        self.restart(now);
    }

    /// The chat the agent is in: the newest one not over.
    fn live_chat(&self) -> Option<usize> {
        self.chats.iter().rposition(|c| !c.ended)
    }

    /// The agent writes in the live chat.
    pub fn agent_says(&mut self, text: &str, now: Millis) {
        if let Some(c) = self.live_chat() {
            let from = json!({"nickname": "Ana", "participantId": 2, "type": "Agent"});
            self.append(
                c,
                json!({"type": "Message", "from": from, "text": text}),
                now,
            );
        }
    }

    /// The agent leaves and the chat ends.
    pub fn agent_ends(&mut self, now: Millis) {
        if let Some(c) = self.live_chat() {
            // The chat is over before the notification goes: it carries chatEnded: true.
            self.chats[c].ended = true;
            let from = json!({"nickname": "Ana", "participantId": 2, "type": "Agent"});
            self.append(c, json!({"type": "ParticipantLeft", "from": from}), now);
        }
    }

    /// Visitor messages on the server, normalised text per chat.
    pub fn visitor_texts(&self) -> Vec<String> {
        self.chats
            .iter()
            .flat_map(|c| c.events.iter())
            .filter(|e| e["type"] == "Message" && e["from"]["type"] == "Client")
            .map(|e| e["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn response(&self, c: usize, from: u64) -> Value {
        let chat = &self.chats[c];
        json!({
            "statusCode": 0, "alias": "117", "userId": "U1", "secureKey": chat.key,
            "chatId": chat.id, "chatEnded": chat.ended,
            "nextPosition": chat.events.len() + 1,
            "messages": chat.events.iter().filter(|e| e["index"].as_u64().unwrap_or(0) >= from).cloned().collect::<Vec<_>>(),
        })
    }

    /// Appends an event and notifies the chat's client.
    fn append(&mut self, c: usize, mut event: Value, now: Millis) {
        let index = self.chats[c].events.len() as u64 + 1;
        event["index"] = index.into();
        event["utcTime"] = (now as i64).into();
        self.chats[c].events.push(event.clone());
        let mut data = self.response(c, index);
        data["messages"] = json!([event]);
        if let Some(client) = self.chats[c].bound.clone() {
            self.notify(&client, json!({"channel": CHANNEL, "data": data}), now);
        }
    }

    fn notify(&mut self, client_id: &str, message: Value, now: Millis) {
        let delay = if self.cfg.reorder {
            self.rng.range(0, 300)
        } else {
            0
        };
        let batching = self.cfg.batching;
        let Some(client) = self.clients.get_mut(client_id) else {
            return;
        };
        match client.conn {
            Some(conn) if !batching => {
                self.later(
                    now + delay,
                    ServerOut::Frame(conn, json!([message]).to_string()),
                );
            }
            _ => {
                client.queue.push(message);
                if client.held.is_some() {
                    self.release(client_id, now + delay);
                }
            }
        }
    }

    /// Answers a held connect with whatever is queued.
    fn release(&mut self, client_id: &str, at: Millis) {
        let Some(client) = self.clients.get_mut(client_id) else {
            return;
        };
        let Some((request, _, bayeux_id)) = client.held.take() else {
            return;
        };
        // maxInterval counts from the connect reply.
        client.seen = client.seen.max(at);
        let mut messages = std::mem::take(&mut client.queue);
        messages.insert(
            0,
            json!({"id": bayeux_id, "channel": "/meta/connect", "successful": true,
                   "advice": {"reconnect": "retry", "interval": 0, "timeout": CONNECT_HOLD}}),
        );
        let body = Value::Array(messages).to_string();
        match (request, client.conn) {
            (Some(req), _) => self.later(at, ServerOut::Answer(req, 200, body)),
            (None, Some(conn)) => self.later(at, ServerOut::Frame(conn, body)),
            (None, None) => {}
        }
    }

    fn unknown(&self, id: &Value, channel: &str, client_id: &str) -> Value {
        if self.cfg.faye_errors {
            json!({"id": id, "channel": channel, "successful": false,
                   "error": format!("401:{client_id}:Unknown client"), "advice": {"reconnect": "handshake"}})
        } else {
            json!({"id": id, "channel": channel, "successful": false,
                   "error": "402::Unknown client", "advice": {"reconnect": "handshake", "interval": 0}})
        }
    }

    /// Handles one request body; returns the immediate replies and whether a connect is held.
    fn bayeux(
        &mut self,
        body: &str,
        conn: Option<ConnId>,
        request: Option<u64>,
        now: Millis,
    ) -> (Vec<Value>, bool) {
        let Ok(Value::Array(messages)) = serde_json::from_str::<Value>(body) else {
            return (vec![], false);
        };
        let mut replies = Vec::new();
        let mut held = false;
        for m in messages {
            let id = m.get("id").cloned().unwrap_or(Value::Null);
            let channel = m["channel"].as_str().unwrap_or_default().to_string();
            let client_id = m["clientId"].as_str().unwrap_or_default().to_string();
            if channel == "/meta/handshake" {
                self.next_client += 1;
                let cid = format!("c{}", self.next_client);
                self.clients.insert(
                    cid.clone(),
                    Client {
                        conn,
                        seen: now,
                        ..Default::default()
                    },
                );
                if let Some(conn) = conn {
                    self.conns.insert(conn, Some(cid.clone()));
                }
                let types = if self.cfg.no_websocket {
                    json!(["long-polling"])
                } else {
                    json!(["websocket", "long-polling"])
                };
                replies.push(json!({"id": id, "channel": channel, "successful": true, "clientId": cid, "version": "1.0",
                    "supportedConnectionTypes": types, "advice": {"reconnect": "retry", "interval": 0, "timeout": CONNECT_HOLD}}));
                continue;
            }
            // maxInterval: a client without a transport or a held connect for that long is gone.
            let expired = self
                .clients
                .get(&client_id)
                .is_some_and(|c| c.held.is_none() && now.saturating_sub(c.seen) > MAX_INTERVAL);
            if expired {
                self.clients.remove(&client_id);
            }
            let Some(client) = self.clients.get_mut(&client_id) else {
                replies.push(self.unknown(&id, &channel, &client_id));
                continue;
            };
            client.seen = now;
            // The session follows the transport its messages come on (CometD's
            // ServerSessionImpl.setScheduler on every connect).
            if client.conn != conn {
                client.conn = conn;
                client.held = None;
            }
            if let Some(conn) = conn {
                self.conns.insert(conn, Some(client_id.clone()));
            }
            let Some(client) = self.clients.get_mut(&client_id) else {
                continue;
            };
            match channel.as_str() {
                "/meta/connect" => {
                    let immediate = m["advice"]["timeout"] == 0;
                    if client.held.is_some() {
                        // One held connect per client: the newer one releases the older.
                        self.release(&client_id, now);
                    }
                    let client = self.clients.get_mut(&client_id).expect("still there");
                    let queued = !client.queue.is_empty();
                    let bayeux_id = id.as_str().unwrap_or_default().to_string();
                    if immediate || queued {
                        let mut r = vec![json!({"id": id, "channel": channel, "successful": true,
                            "advice": {"reconnect": "retry", "interval": 0, "timeout": CONNECT_HOLD}})];
                        r.append(&mut client.queue);
                        replies.extend(r);
                    } else {
                        client.held = Some((request, now + CONNECT_HOLD, bayeux_id));
                        held = true;
                    }
                }
                "/meta/disconnect" => {
                    self.clients.remove(&client_id);
                    replies.push(json!({"id": id, "channel": channel, "successful": true}));
                }
                CHANNEL => {
                    replies.push(json!({"id": id, "channel": channel, "successful": true}));
                    if let Some(data) = self.chat_operation(&client_id, &m["data"], conn, now) {
                        let mut reply = json!({"channel": CHANNEL, "data": data});
                        if self.cfg.echo_id {
                            reply["id"] = id;
                        }
                        replies.push(reply);
                    }
                }
                _ => replies.push(json!({"id": id, "channel": channel, "successful": false, "error": "404::Unknown channel"})),
            }
        }
        (replies, held)
    }

    fn chat_operation(
        &mut self,
        client_id: &str,
        data: &Value,
        conn: Option<ConnId>,
        now: Millis,
    ) -> Option<Value> {
        let op = data["operation"].as_str().unwrap_or_default();
        if let Some((code, times)) = self.faults.status {
            self.faults.status = if times > 1 {
                Some((code, times - 1))
            } else {
                None
            };
            if code == 2 {
                if let Some(c) = self
                    .chats
                    .iter()
                    .position(|c| Some(c.key.as_str()) == data["secureKey"].as_str())
                {
                    self.chats[c].ended = true;
                }
            }
            return Some(
                json!({"statusCode": code, "errors": [{"code": 100 + code, "advice": format!("fault {code}")}]}),
            );
        }
        let refuse = |advice: &str| {
            Some(json!({"statusCode": 2, "errors": [{"code": 201, "advice": advice}]}))
        };
        if op == "requestChat" {
            let n = self.chats.len();
            self.chats.push(Chat {
                id: format!("chat{n}"),
                key: format!("key{n}"),
                events: Vec::new(),
                bound: Some(client_id.to_string()),
                ended: false,
            });
            let from = json!({"nickname": data["nickname"], "participantId": 1, "type": "Client"});
            self.chats[n].events.push(
                json!({"type": "ParticipantJoined", "from": from, "index": 1, "utcTime": now}),
            );
            let agent = json!({"nickname": "Ana", "participantId": 2, "type": "Agent"});
            self.append(n, json!({"type": "ParticipantJoined", "from": agent}), now);
            if self.faults.silent_chat_answer {
                self.faults.silent_chat_answer = false;
                return None;
            }
            if self.faults.lose_chat_answer {
                self.faults.lose_chat_answer = false;
                if let Some(conn) = conn {
                    self.later(now, ServerOut::Close(conn));
                }
                self.clients.remove(client_id);
                return None;
            }
            return Some(self.response(n, 1));
        }
        let Some(c) = self
            .chats
            .iter()
            .position(|c| Some(c.key.as_str()) == data["secureKey"].as_str())
        else {
            return refuse("Invalid or missing secureKey");
        };
        let reply_to_send = self.cfg.reply_to_send;
        match op {
            "requestNotifications" => {
                self.chats[c].bound = Some(client_id.to_string());
                let position = data["transcriptPosition"].as_u64().unwrap_or(1);
                let from = if self.cfg.exclusive {
                    position + 1
                } else {
                    position
                };
                Some(self.response(c, from))
            }
            _ if self.chats[c].ended => {
                let mut r = self.response(c, u64::MAX);
                r["statusCode"] = 2.into();
                r["errors"] = json!([{"code": 201, "advice": "Chat has ended"}]);
                Some(r)
            }
            "sendMessage" => {
                let mut text = data["message"].as_str().unwrap_or_default().to_string();
                if self.cfg.normalize {
                    text = text.trim().replace("\r\n", "\n");
                }
                let from = json!({"nickname": "Visitor", "participantId": 1, "type": "Client"});
                self.append(
                    c,
                    json!({"type": "Message", "from": from, "text": text}),
                    now,
                );
                reply_to_send.then(|| {
                    let mut r = self.response(c, u64::MAX);
                    r.as_object_mut().unwrap().remove("messages");
                    r
                })
            }
            "startTyping" | "stopTyping" => {
                let kind = if op == "startTyping" {
                    "TypingStarted"
                } else {
                    "TypingStopped"
                };
                let from = json!({"nickname": "Visitor", "participantId": 1, "type": "Client"});
                self.append(c, json!({"type": kind, "from": from}), now);
                None
            }
            "disconnect" => {
                let from = json!({"nickname": "Visitor", "participantId": 1, "type": "Client"});
                self.append(c, json!({"type": "ParticipantLeft", "from": from}), now);
                self.chats[c].ended = true;
                let mut r = self.response(c, u64::MAX);
                r["chatEnded"] = true.into();
                Some(r)
            }
            _ => Some(self.response(c, u64::MAX)),
        }
    }
}

impl ServerModel for Gms {
    fn connect(&mut self, conn: ConnId, _now: Millis) -> bool {
        if self.cfg.no_websocket {
            return false;
        }
        self.conns.insert(conn, None);
        true
    }

    fn frame(&mut self, conn: ConnId, text: &str, now: Millis) {
        let (replies, _) = self.bayeux(text, Some(conn), None, now);
        if !replies.is_empty() {
            self.later(
                now,
                ServerOut::Frame(conn, Value::Array(replies).to_string()),
            );
        }
    }

    fn closed(&mut self, conn: ConnId, now: Millis) {
        // CometD keeps the session for maxInterval after its transport went away
        // (ServerSessionImpl.scheduleExpiration); what is published meanwhile is queued.
        if let Some(Some(id)) = self.conns.remove(&conn) {
            if let Some(client) = self.clients.get_mut(&id) {
                if client.conn == Some(conn) {
                    client.conn = None;
                    client.held = None;
                    client.seen = now;
                }
            }
        }
        self.pending.forget_conn(conn);
    }

    fn http(&mut self, req: &HttpRequest, now: Millis) -> Option<(u16, String)> {
        let (replies, held) =
            self.bayeux(req.body.as_deref().unwrap_or(""), None, Some(req.id), now);
        if held && replies.is_empty() {
            return None;
        }
        Some((200, Value::Array(replies).to_string()))
    }

    fn poll(&mut self, now: Millis) -> Vec<ServerOut> {
        // Held connects whose hold time is over are answered (empty).
        let due: Vec<String> = self
            .clients
            .iter()
            .filter(|(_, c)| c.held.as_ref().is_some_and(|(_, t, _)| *t <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.release(&id, now);
        }
        self.pending.due(now)
    }

    fn next_deadline(&self) -> Option<Millis> {
        let held = self
            .clients
            .values()
            .filter_map(|c| c.held.as_ref().map(|(_, t, _)| *t));
        self.pending.next().into_iter().chain(held).min()
    }
}
