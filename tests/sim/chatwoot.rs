//! A sans-IO model of Chatwoot's public client API and its ActionCable `RoomChannel`, written
//! from chatwoot/chatwoot (paths below) and Rails ActionCable, with the quirks the widget must
//! survive — not the ones it would like:
//! - `GET …/messages` passes only `before` to `MessageFinder`: `after` is ignored; the latest 20
//!   (or the 20 before `before`), oldest first, private notes and activity messages filtered
//!   out (`app/controllers/public/api/v1/inboxes/messages_controller.rb`,
//!   `app/finders/message_finder.rb`).
//! - `POST …/messages` always creates a message: `echo_id` is an `attr_accessor`, never stored
//!   (`app/models/message.rb`); it appears only in the `message.created` broadcast, never in the
//!   REST answer (`app/views/public/api/v1/models/_message.json.jbuilder`).
//! - Ids are account-wide: increasing, with gaps (other conversations' messages).
//! - Every broadcast is its own background job (`ActionCableBroadcastJob.perform_later`,
//!   `app/listeners/action_cable_listener.rb`): delivered after a random delay, so in any order
//!   and before or after the REST answer.
//! - An unknown or deleted `pubsub_token`: `RoomChannel#subscribed` raises, so neither
//!   `confirm_subscription` nor `reject_subscription` is sent (`app/channels/room_channel.rb`).
//!   A deleted contact or conversation answers 404.
//! - Deleting a message broadcasts `message.updated` with content "This message was deleted"
//!   and `content_attributes.deleted` (`app/controllers/api/v1/accounts/conversations/
//!   messages_controller.rb#destroy`).
//! - An incoming message reopens a resolved conversation (`Message#reopen_conversation`).
//! - Pings every 3 s (`ActionCable::Server::Connections::BEAT_INTERVAL`).

use super::{ConnId, Outbound, Rng, ServerModel, ServerOut};
use chat_widget::core::{HttpMethod, HttpRequest, Millis};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// The API base the simulated widget is configured with.
pub const BASE: &str = "https://chat.sim";
/// The inbox identifier.
pub const INBOX: &str = "inbox";

/// ActionCable's heartbeat.
const BEAT: Millis = 3_000;

/// A stored message.
#[derive(Clone, Debug)]
pub struct Msg {
    /// Account-wide id.
    pub id: u64,
    /// Conversation.
    pub conversation: u64,
    /// 0 incoming, 1 outgoing, 2 activity, 3 template.
    pub message_type: u64,
    /// Text.
    pub content: String,
    /// Private note.
    pub private: bool,
    /// Deleted (kept with placeholder text).
    pub deleted: bool,
    /// Unix seconds.
    pub created_at: u64,
}

/// A conversation.
#[derive(Clone, Debug)]
pub struct Conversation {
    /// Owner.
    pub source_id: String,
    /// open | resolved.
    pub status: String,
    /// Deleted by an admin: every call answers 404.
    pub deleted: bool,
}

/// A contact.
#[derive(Clone, Debug)]
pub struct Contact {
    /// Subscription token.
    pub pubsub_token: String,
    /// Deleted by an admin.
    pub deleted: bool,
    /// Id.
    pub id: u64,
}

/// The model's knobs, drawn per seed.
#[derive(Clone, Debug)]
pub struct Config {
    /// Upper bound of a broadcast job's delay (ms).
    pub broadcast_jitter: Millis,
}

/// The server.
pub struct Chatwoot {
    rng: Rng,
    config: Config,
    next_id: u64,
    /// Contacts by source id.
    pub contacts: HashMap<String, Contact>,
    /// Conversations by id.
    pub conversations: BTreeMap<u64, Conversation>,
    /// Messages by id.
    pub messages: BTreeMap<u64, Msg>,
    /// Live sockets: the identifier each subscribed with, by token.
    conns: BTreeMap<ConnId, Socket>,
    /// Broadcast jobs and other frames waiting.
    pending: Outbound,
}

#[derive(Debug, Default)]
struct Socket {
    /// (identifier string, pubsub token) of confirmed subscriptions.
    subscriptions: Vec<(String, String)>,
    next_ping: Millis,
}

impl Chatwoot {
    /// An empty account.
    pub fn new(seed: u64, config: Config) -> Self {
        Chatwoot {
            rng: Rng::new(seed.rotate_left(29)),
            config,
            next_id: 1_000,
            contacts: HashMap::new(),
            conversations: BTreeMap::new(),
            messages: BTreeMap::new(),
            conns: BTreeMap::new(),
            pending: Outbound::default(),
        }
    }

    fn id(&mut self) -> u64 {
        // Other conversations of the account take ids in between.
        self.next_id += 1 + self.rng.below(3);
        self.next_id
    }

    fn later(&mut self, at: Millis, out: ServerOut) {
        self.pending.push(at, out);
    }

    /// Queues a broadcast job to every socket streaming `token`.
    fn broadcast(&mut self, token: &str, event: &str, data: Value, now: Millis) {
        let mut targets = Vec::new();
        for (conn, s) in &self.conns {
            for (identifier, t) in &s.subscriptions {
                if t == token {
                    targets.push((*conn, identifier.clone()));
                }
            }
        }
        targets.sort();
        let mut data = data;
        data["account_id"] = 1.into();
        for (conn, identifier) in targets {
            let at = now + self.rng.below(self.config.broadcast_jitter + 1);
            let frame =
                json!({"identifier": identifier, "message": {"event": event, "data": data}});
            self.later(at, ServerOut::Frame(conn, frame.to_string()));
        }
    }

    fn token_of(&self, conversation: u64) -> Option<String> {
        let c = self.conversations.get(&conversation)?;
        let contact = self.contacts.get(&c.source_id)?;
        (!contact.deleted).then(|| contact.pubsub_token.clone())
    }

    /// `Message#push_event_data` (socket) or the REST jbuilder (no echo id).
    fn payload(&self, m: &Msg, echo_id: Option<&str>) -> Value {
        let sender = if m.message_type == 0 {
            json!({"id": 3, "name": "Visitor", "type": "contact"})
        } else {
            json!({"id": 7, "name": "Ana Lima", "available_name": "Ana", "type": "user", "avatar_url": ""})
        };
        let mut v = json!({
            "id": m.id, "content": if m.deleted { "This message was deleted" } else { m.content.as_str() },
            "message_type": m.message_type, "content_type": "text",
            "content_attributes": if m.deleted { json!({"deleted": true}) } else { json!({}) },
            "created_at": m.created_at, "conversation_id": m.conversation, "private": m.private,
            "status": "sent", "sender": sender,
        });
        if let Some(e) = echo_id {
            v["echo_id"] = e.into();
        }
        v
    }

    fn conversation_payload(&self, id: u64) -> Value {
        let status = self
            .conversations
            .get(&id)
            .map_or("open", |c| c.status.as_str());
        json!({"id": id, "inbox_id": 1, "status": status, "messages": [], "meta": {"assignee": null}})
    }

    fn create(
        &mut self,
        conversation: u64,
        message_type: u64,
        content: &str,
        private: bool,
        now: Millis,
    ) -> u64 {
        let id = self.id();
        let m = Msg {
            id,
            conversation,
            message_type,
            content: content.into(),
            private,
            deleted: false,
            created_at: now / 1000,
        };
        self.messages.insert(id, m);
        id
    }

    /// The conversation the agent works in: the newest one that still exists.
    pub fn current_conversation(&self) -> Option<u64> {
        self.conversations
            .iter()
            .rev()
            .find(|(_, c)| {
                !c.deleted && self.contacts.get(&c.source_id).is_some_and(|k| !k.deleted)
            })
            .map(|(id, _)| *id)
    }

    /// The agent writes (an outgoing message, or a private note the visitor must not see).
    pub fn agent_says(&mut self, text: &str, private: bool, now: Millis) -> Option<u64> {
        let conv = self.current_conversation()?;
        let id = self.create(conv, 1, text, private, now);
        if let Some(token) = self.token_of(conv) {
            let data = self.payload(&self.messages[&id], None);
            self.broadcast(&token, "message.created", data, now);
        }
        Some(id)
    }

    /// The agent deletes its newest visible message.
    pub fn agent_deletes_last(&mut self, now: Millis) {
        let Some(conv) = self.current_conversation() else {
            return;
        };
        let Some(id) = self
            .messages
            .values()
            .rev()
            .find(|m| m.conversation == conv && m.message_type == 1 && !m.private && !m.deleted)
            .map(|m| m.id)
        else {
            return;
        };
        if let Some(m) = self.messages.get_mut(&id) {
            m.deleted = true;
        }
        if let Some(token) = self.token_of(conv) {
            let data = self.payload(&self.messages[&id], None);
            self.broadcast(&token, "message.updated", data, now);
        }
    }

    /// The agent resolves the conversation (with the activity message Chatwoot adds).
    pub fn agent_resolves(&mut self, now: Millis) {
        let Some(conv) = self.current_conversation() else {
            return;
        };
        if let Some(c) = self.conversations.get_mut(&conv) {
            c.status = "resolved".into();
        }
        let activity = self.create(
            conv,
            2,
            "Conversation was marked resolved by Ana",
            false,
            now,
        );
        if let Some(token) = self.token_of(conv) {
            let data = self.conversation_payload(conv);
            self.broadcast(&token, "conversation.status_changed", data, now);
            let data = self.payload(&self.messages[&activity], None);
            self.broadcast(&token, "message.created", data, now);
        }
    }

    /// An admin deletes the visitor's contact (and with it its conversations).
    pub fn delete_contact(&mut self) {
        for c in self.contacts.values_mut() {
            c.deleted = true;
        }
        for c in self.conversations.values_mut() {
            c.deleted = true;
        }
    }

    /// An admin deletes the current conversation.
    pub fn delete_conversation(&mut self) {
        if let Some(id) = self.current_conversation() {
            if let Some(c) = self.conversations.get_mut(&id) {
                c.deleted = true;
            }
        }
    }

    /// A restart: every connection is forgotten (the harness drops the sockets).
    pub fn restart(&mut self) {
        self.conns.clear();
        self.pending.clear();
    }

    /// The visitor messages stored, in id order: (id, conversation, content).
    pub fn incoming(&self) -> Vec<(u64, u64, String)> {
        self.messages
            .values()
            .filter(|m| m.message_type == 0)
            .map(|m| (m.id, m.conversation, m.content.clone()))
            .collect()
    }

    fn route(&mut self, req: &HttpRequest, now: Millis) -> (u16, Value) {
        let prefix = format!("{BASE}/public/api/v1/inboxes/{INBOX}");
        let Some(rest) = req.url.strip_prefix(&prefix) else {
            return (404, json!({"error": "inbox not found"}));
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let body: Value = req
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        match (req.method, parts.as_slice()) {
            (HttpMethod::Post, ["contacts"]) => {
                let source_id = format!("src-{}", self.rng.next_u64() % 1_000_000);
                let token = format!("tok-{}", self.rng.next_u64() % 1_000_000);
                let id = self.id();
                self.contacts.insert(
                    source_id.clone(),
                    Contact {
                        pubsub_token: token.clone(),
                        deleted: false,
                        id,
                    },
                );
                (
                    200,
                    json!({"source_id": source_id, "pubsub_token": token, "id": id}),
                )
            }
            (_, ["contacts", source, rest @ ..]) => {
                let source = source.to_string();
                let Some(contact) = self.contacts.get(&source).filter(|c| !c.deleted).cloned()
                else {
                    return (404, json!({"error": "contact not found"}));
                };
                self.contact_route(req.method, &source, &contact, rest, query, &body, now)
            }
            _ => (404, json!({"error": "no route"})),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn contact_route(
        &mut self,
        method: HttpMethod,
        source: &str,
        contact: &Contact,
        rest: &[&str],
        query: &str,
        body: &Value,
        now: Millis,
    ) -> (u16, Value) {
        match (method, rest) {
            (HttpMethod::Get | HttpMethod::Patch, []) => (
                200,
                json!({"source_id": source, "pubsub_token": contact.pubsub_token, "id": contact.id}),
            ),
            (HttpMethod::Post, ["conversations"]) => {
                let id = self.id();
                self.conversations.insert(
                    id,
                    Conversation {
                        source_id: source.into(),
                        status: "open".into(),
                        deleted: false,
                    },
                );
                let data = self.conversation_payload(id);
                self.broadcast(
                    &contact.pubsub_token,
                    "conversation.created",
                    data.clone(),
                    now,
                );
                (200, data)
            }
            (_, ["conversations", id, tail @ ..]) => {
                let Some(id) = id.parse::<u64>().ok().filter(|id| {
                    self.conversations
                        .get(id)
                        .is_some_and(|c| !c.deleted && c.source_id == source)
                }) else {
                    return (404, json!({"error": "conversation not found"}));
                };
                self.conversation_route(method, id, &contact.pubsub_token, tail, query, body, now)
            }
            _ => (404, json!({"error": "no route"})),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn conversation_route(
        &mut self,
        method: HttpMethod,
        conv: u64,
        token: &str,
        tail: &[&str],
        query: &str,
        body: &Value,
        now: Millis,
    ) -> (u16, Value) {
        match (method, tail) {
            (HttpMethod::Get, ["messages"]) => {
                // Only `before` reaches MessageFinder; `after` is ignored.
                let before = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("before="))
                    .and_then(|v| v.parse::<u64>().ok());
                let visible: Vec<&Msg> = self
                    .messages
                    .values()
                    .filter(|m| m.conversation == conv && !m.private && m.message_type != 2)
                    .filter(|m| before.is_none_or(|b| m.id < b))
                    .collect();
                let page = &visible[visible.len().saturating_sub(20)..];
                (
                    200,
                    Value::Array(page.iter().map(|m| self.payload(m, None)).collect()),
                )
            }
            (HttpMethod::Post, ["messages"]) => {
                let content = body
                    .get("content")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if content.trim().is_empty() {
                    return (422, json!({"error": "content is empty"}));
                }
                let echo = body
                    .get("echo_id")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let id = self.create(conv, 0, &content, false, now);
                if self.conversations[&conv].status == "resolved" {
                    // Message#reopen_conversation.
                    if let Some(c) = self.conversations.get_mut(&conv) {
                        c.status = "open".into();
                    }
                    let data = self.conversation_payload(conv);
                    self.broadcast(token, "conversation.status_changed", data, now);
                }
                let created = self.payload(&self.messages[&id], echo.as_deref());
                self.broadcast(token, "message.created", created, now);
                (200, self.payload(&self.messages[&id], None))
            }
            (HttpMethod::Post, ["toggle_typing" | "update_last_seen"]) => (200, json!({})),
            (HttpMethod::Post, ["toggle_status"]) => {
                if let Some(c) = self.conversations.get_mut(&conv) {
                    c.status = "resolved".into();
                }
                let data = self.conversation_payload(conv);
                self.broadcast(token, "conversation.status_changed", data.clone(), now);
                (200, data)
            }
            _ => (404, json!({"error": "no route"})),
        }
    }
}

impl ServerModel for Chatwoot {
    fn connect(&mut self, conn: ConnId, now: Millis) -> bool {
        self.conns.insert(
            conn,
            Socket {
                subscriptions: Vec::new(),
                next_ping: now + BEAT,
            },
        );
        self.later(now, ServerOut::Frame(conn, r#"{"type":"welcome"}"#.into()));
        true
    }

    fn frame(&mut self, conn: ConnId, text: &str, now: Millis) {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return;
        };
        let identifier = v
            .get("identifier")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let token = serde_json::from_str::<Value>(&identifier)
            .ok()
            .and_then(|i| {
                i.get("pubsub_token")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default();
        match v.get("command").and_then(Value::as_str) {
            Some("subscribe") => {
                let known = self
                    .contacts
                    .values()
                    .any(|c| c.pubsub_token == token && !c.deleted);
                let Some(s) = self.conns.get_mut(&conn) else {
                    return;
                };
                if s.subscriptions.iter().any(|(i, _)| *i == identifier) {
                    return; // A repeated identifier is ignored.
                }
                if known {
                    s.subscriptions.push((identifier.clone(), token));
                    let frame = json!({"identifier": identifier, "type": "confirm_subscription"});
                    self.later(now, ServerOut::Frame(conn, frame.to_string()));
                }
                // Unknown token: RoomChannel raises; no confirm, no reject.
            }
            Some("message") => {
                let subscribed = self
                    .conns
                    .get(&conn)
                    .is_some_and(|s| s.subscriptions.iter().any(|(i, _)| *i == identifier));
                if subscribed && text.contains("update_presence") {
                    let data = json!({"users": {"7": "online", "8": "busy"}});
                    self.broadcast(&token, "presence.update", data, now);
                }
            }
            _ => {}
        }
    }

    fn closed(&mut self, conn: ConnId, _now: Millis) {
        self.conns.remove(&conn);
        self.pending.forget_conn(conn);
    }

    fn http(&mut self, req: &HttpRequest, now: Millis) -> Option<(u16, String)> {
        let (status, body) = self.route(req, now);
        Some((status, body.to_string()))
    }

    fn poll(&mut self, now: Millis) -> Vec<ServerOut> {
        let mut out = self.pending.due(now);
        for (conn, s) in self.conns.iter_mut() {
            if s.next_ping <= now {
                s.next_ping = now + BEAT;
                out.push(ServerOut::Frame(
                    *conn,
                    format!(r#"{{"type":"ping","message":{}}}"#, now / 1000),
                ));
            }
        }
        out
    }

    fn next_deadline(&self) -> Option<Millis> {
        let jobs = self.pending.next();
        let pings = self.conns.values().map(|s| s.next_ping).min();
        [jobs, pings].into_iter().flatten().min()
    }
}
