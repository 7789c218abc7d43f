//! Voxsig (a Chatwoot-style helpdesk): ActionCable over WebSocket for events, the public
//! client REST API (`/public/api/v1/inboxes/{inbox}/…`, open to cross-origin calls) for
//! everything the visitor does.
//!
//! Socket: `actioncable-v1-json`; `welcome`, then `subscribe` to `RoomChannel` with the
//! contact's `pubsub_token` (one identifier string, byte-identical every time); `ping` every
//! 3 s with a stale connection after 6 s of silence; a subscription neither confirmed nor
//! rejected within a few seconds is a failure (the server stays silent on a bad token);
//! `disconnect` with `reconnect`; `update_presence` on a timer. After every (re)subscription
//! the messages missed while away are fetched with `after=` the last id.
//!
//! REST: create contact → `source_id` + `pubsub_token`; create the conversation with the first
//! message; post messages one at a time, in order, with the client id as `echo_id`; toggle
//! typing; update last seen; resolve to end.

use super::backend::{
    ChatBackend, HttpMethod, HttpRequest, RequestId, SocketCommand, VisitorProfile,
};
use super::backoff::{BackoffPolicy, ReconnectBackoff};
use super::event::{ChatError, ChatEvent, ConnectionState, ConversationStatus, Presence};
use super::io::{parse_json, Io, Timers};
use super::message::{
    safe_url, Attachment, AttachmentKind, Author, ChatMessage, DeliveryStatus, Role,
};
use super::outbox::Outbox;
use super::url::to_websocket;
use super::Millis;
use crate::config::VoxsigConfig;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// ActionCable-like reconnects: 3 s (+15 % jitter), ×1.5, at most 30 s.
pub const DEFAULT_BACKOFF: BackoffPolicy = BackoffPolicy::Exponential {
    initial: 3_000,
    randomness: 450,
    multiplier: 1.5,
    max: 30_000,
};
/// Retries of failed REST calls: 1 s, ×2, at most 30 s.
pub const HTTP_RETRY_BACKOFF: BackoffPolicy = BackoffPolicy::Exponential {
    initial: 1_000,
    randomness: 500,
    multiplier: 2.0,
    max: 30_000,
};
/// No frame for this long (two missed pings) means the connection is stale.
pub const STALE_THRESHOLD: Millis = 6_000;
/// How long a subscription may stay unanswered.
pub const SUBSCRIBE_TIMEOUT: Millis = 5_000;
/// How long opening the socket and getting `welcome` may take.
pub const OPEN_TIMEOUT: Millis = 10_000;
/// The ActionCable sub-protocols the JS client offers.
pub const PROTOCOLS: [&str; 2] = ["actioncable-v1-json", "actioncable-unsupported"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Open,
    Stale,
    Subscribe,
    Presence,
    Reconnect,
    HttpRetry,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Call {
    CreateContact,
    CreateConversation,
    SendMessage(String),
    Fetch,
    Typing,
    LastSeen,
    UpdateContact,
    Resolve,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Socket {
    /// No socket and none wanted yet (no contact).
    None,
    Opening,
    AwaitingWelcome,
    Subscribing,
    Subscribed,
    WaitingToReconnect,
    /// Refused for good (rejected, unauthorized, ended).
    Stopped,
}

/// The contact the widget acts as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoxsigContact {
    /// Secret in REST paths.
    pub source_id: String,
    /// Subscription token.
    pub pubsub_token: String,
}

/// What a Voxsig session persists across page reloads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoxsigSnapshot {
    /// The contact, once created.
    pub contact: Option<VoxsigContact>,
    /// The conversation, once created.
    pub conversation_id: Option<u64>,
    /// Unconfirmed visitor messages.
    pub outbox: Outbox,
}

/// The Voxsig backend.
#[derive(Debug)]
pub struct VoxsigBackend {
    api: String,
    cable_url: String,
    account_id: Option<u64>,
    user_id: Option<u64>,
    presence_interval: Millis,
    visitor: VisitorProfile,
    io: Io,
    timers: Timers<Timer>,
    backoff: ReconnectBackoff,
    http_backoff: ReconnectBackoff,
    socket: Socket,
    calls: HashMap<RequestId, Call>,
    session: VoxsigSnapshot,
    identifier: Option<String>,
    /// Highest message id seen: the `after=` of the next catch-up.
    last_message_id: Option<u64>,
    seen_ids: HashSet<u64>,
    /// A message POST is out; the next waits for it so order is kept.
    sending: Option<String>,
    creating_conversation: bool,
    creating_contact: bool,
    assignee_id: Option<u64>,
    ended: bool,
}

impl VoxsigBackend {
    /// A backend for `config`; `snapshot` is what [`ChatBackend::snapshot`] returned before a reload.
    pub fn new(config: &VoxsigConfig, seed: u64, snapshot: Option<&str>) -> Self {
        Self::with_backoff(config, DEFAULT_BACKOFF, seed, snapshot)
    }

    /// Like [`VoxsigBackend::new`] with another reconnect policy.
    pub fn with_backoff(
        config: &VoxsigConfig,
        policy: BackoffPolicy,
        seed: u64,
        snapshot: Option<&str>,
    ) -> Self {
        VoxsigBackend {
            api: format!(
                "{}/public/api/v1/inboxes/{}",
                config.base_url,
                super::url::encode_component(&config.inbox_identifier)
            ),
            cable_url: format!("{}/cable", to_websocket(&config.base_url)),
            account_id: config.account_id,
            user_id: config.user_id,
            presence_interval: config.presence_interval_ms,
            visitor: VisitorProfile::default(),
            io: Io::default(),
            timers: Timers::default(),
            backoff: ReconnectBackoff::new(policy, seed),
            http_backoff: ReconnectBackoff::new(HTTP_RETRY_BACKOFF, seed.rotate_left(17)),
            socket: Socket::None,
            calls: HashMap::new(),
            session: snapshot
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default(),
            identifier: None,
            last_message_id: None,
            seen_ids: HashSet::new(),
            sending: None,
            creating_conversation: false,
            creating_contact: false,
            assignee_id: None,
            ended: false,
        }
    }

    /// The contact, once created.
    pub fn contact(&self) -> Option<&VoxsigContact> {
        self.session.contact.as_ref()
    }

    fn call(&mut self, method: HttpMethod, path: &str, body: Option<Value>, call: Call) {
        let id = self.io.request(
            method,
            format!("{}{path}", self.api),
            body.map(|b| b.to_string()),
        );
        self.calls.insert(id, call);
    }

    fn conversation_path(&self) -> Option<String> {
        let c = self.session.contact.as_ref()?;
        let id = self.session.conversation_id?;
        Some(format!("/contacts/{}/conversations/{id}", c.source_id))
    }

    /// POSTs to `<conversation>/<action>`; nothing to do before the conversation exists.
    fn post_to_conversation(&mut self, action: &str, body: Value, call: Call) {
        if let Some(path) = self.conversation_path() {
            self.call(
                HttpMethod::Post,
                &format!("{path}/{action}"),
                Some(body),
                call,
            );
        }
    }

    fn create_contact(&mut self) {
        if self.creating_contact {
            return;
        }
        self.creating_contact = true;
        let mut body = json!({});
        if let Some(n) = &self.visitor.name {
            body["name"] = n.clone().into();
        }
        if let Some(e) = &self.visitor.email {
            body["email"] = e.clone().into();
        }
        self.call(
            HttpMethod::Post,
            "/contacts",
            Some(body),
            Call::CreateContact,
        );
    }

    fn open_socket(&mut self, now: Millis) {
        self.socket = Socket::Opening;
        for t in [
            Timer::Stale,
            Timer::Subscribe,
            Timer::Presence,
            Timer::Reconnect,
        ] {
            self.timers.cancel(t);
        }
        self.io.open(self.cable_url.clone(), &PROTOCOLS);
        self.timers.set(Timer::Open, now + OPEN_TIMEOUT);
    }

    fn identifier(&mut self) -> String {
        if let Some(i) = &self.identifier {
            return i.clone();
        }
        let token = self
            .session
            .contact
            .as_ref()
            .map(|c| c.pubsub_token.clone())
            .unwrap_or_default();
        let mut id = serde_json::Map::new();
        id.insert("channel".into(), "RoomChannel".into());
        id.insert("pubsub_token".into(), token.into());
        if let Some(a) = self.account_id {
            id.insert("account_id".into(), a.into());
        }
        if let Some(u) = self.user_id {
            id.insert("user_id".into(), u.into());
        }
        let s = Value::Object(id).to_string();
        self.identifier = Some(s.clone());
        s
    }

    fn command(&mut self, command: &str, data: Option<&str>) {
        let identifier = self.identifier();
        let mut frame = json!({"command": command, "identifier": identifier});
        if let Some(d) = data {
            frame["data"] = d.into();
        }
        self.io.send(frame.to_string());
    }

    fn subscribed(&mut self, now: Millis) {
        self.socket = Socket::Subscribed;
        self.timers.cancel(Timer::Subscribe);
        self.backoff.reset();
        self.io.set_connection(ConnectionState::Online);
        self.send_presence(now);
        // Only now can nothing more be missed: fetch what arrived while away.
        self.fetch_missed();
    }

    fn send_presence(&mut self, now: Millis) {
        self.command("message", Some(r#"{"action":"update_presence"}"#));
        self.timers
            .set(Timer::Presence, now + self.presence_interval);
    }

    fn fetch_missed(&mut self) {
        let Some(path) = self.conversation_path() else {
            return;
        };
        let query = self
            .last_message_id
            .map(|id| format!("?after={id}"))
            .unwrap_or_default();
        self.call(
            HttpMethod::Get,
            &format!("{path}/messages{query}"),
            None,
            Call::Fetch,
        );
    }

    /// Starts the next message POST if none is out (one at a time keeps the order).
    fn pump_outbox(&mut self) {
        if self.sending.is_some() || self.ended || self.timers.is_set(Timer::HttpRetry) {
            return;
        }
        let Some(contact) = self.session.contact.clone() else {
            if !self.session.outbox.is_empty() {
                self.create_contact();
            }
            return;
        };
        let Some(item) = self.session.outbox.take_unsent().into_iter().next() else {
            return;
        };
        // take_unsent marked them all; only the first is really out.
        self.session.outbox.requeue_in_flight();
        match self.session.conversation_id {
            None => {
                if !self.creating_conversation {
                    self.creating_conversation = true;
                    self.call(
                        HttpMethod::Post,
                        &format!("/contacts/{}/conversations", contact.source_id),
                        Some(json!({})),
                        Call::CreateConversation,
                    );
                }
            }
            Some(_) => {
                let path = self.conversation_path().unwrap_or_default();
                self.sending = Some(item.client_id.clone());
                self.call(
                    HttpMethod::Post,
                    &format!("{path}/messages"),
                    Some(json!({"content": item.text, "echo_id": item.client_id})),
                    Call::SendMessage(item.client_id),
                );
            }
        }
    }

    fn retry_later(&mut self, now: Millis) {
        let delay = self.http_backoff.next_delay();
        self.timers.set(Timer::HttpRetry, now + delay);
    }

    fn on_http(&mut self, call: Call, status: u16, body: &str, now: Millis) {
        let ok = (200..300).contains(&status);
        let transient = status == 0 || status == 408 || status == 429 || status >= 500;
        match call {
            Call::CreateContact => {
                self.creating_contact = false;
                if ok {
                    let v = parse_json(body).unwrap_or(Value::Null);
                    let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
                    match (field("source_id"), field("pubsub_token")) {
                        (Some(source_id), Some(pubsub_token)) => {
                            self.http_backoff.reset();
                            self.session.contact = Some(VoxsigContact {
                                source_id,
                                pubsub_token,
                            });
                            self.identifier = None;
                            self.open_socket(now);
                            self.pump_outbox();
                        }
                        _ => self.io.emit(ChatEvent::Error(ChatError::Server(
                            "contact created without source_id/pubsub_token".into(),
                        ))),
                    }
                } else if transient {
                    self.retry_contact_later(now);
                } else if status == 404 {
                    self.io.emit(ChatEvent::Error(ChatError::Config(format!(
                        "voxsigInbox: the server does not know this inbox (HTTP {status})"
                    ))));
                } else {
                    self.io
                        .emit(ChatEvent::Error(ChatError::Unauthorized(format!(
                            "creating the contact failed: HTTP {status}"
                        ))));
                }
            }
            Call::CreateConversation => {
                self.creating_conversation = false;
                if ok {
                    let v = parse_json(body).unwrap_or(Value::Null);
                    if let Some(id) = v.get("id").and_then(Value::as_u64) {
                        self.http_backoff.reset();
                        self.session.conversation_id = Some(id);
                        if let Some(s) = v.get("status").and_then(Value::as_str) {
                            self.io
                                .emit(ChatEvent::ConversationStatusChanged(conversation_status(s)));
                        }
                    } else {
                        self.io.protocol_error("conversation", "no id");
                    }
                } else if transient {
                    self.retry_later(now);
                    return;
                } else {
                    self.fail_all(format!("creating the conversation failed: HTTP {status}"));
                }
                self.pump_outbox();
            }
            Call::SendMessage(client_id) => {
                self.sending = None;
                if ok {
                    self.http_backoff.reset();
                    match parse_json(body).ok().and_then(|v| decode_message(&v)) {
                        Some(mut m) => {
                            m.client_id = Some(client_id.clone());
                            m.status = m.status.max(DeliveryStatus::Sent);
                            self.session.outbox.confirm(&client_id);
                            self.note_id(&m.id);
                            self.io.emit(ChatEvent::MessageUpdated(m));
                        }
                        None => {
                            // Accepted without a readable body: confirmed all the same.
                            self.session.outbox.confirm(&client_id);
                            self.io.emit(ChatEvent::MessageUpdated(ChatMessage::visitor(
                                &client_id,
                                "",
                                0,
                                DeliveryStatus::Sent,
                            )));
                        }
                    }
                } else if transient {
                    // Same echo_id on retry, so a server that saw the first one can tell.
                    self.retry_later(now);
                    return;
                } else {
                    self.session.outbox.confirm(&client_id);
                    self.io
                        .emit(ChatEvent::Error(ChatError::SendFailed(client_id)));
                }
                self.pump_outbox();
            }
            Call::Fetch => {
                if !ok {
                    if transient && self.socket == Socket::Subscribed {
                        self.fetch_missed();
                    }
                    return;
                }
                let list = match parse_json(body) {
                    Ok(Value::Array(list)) => list,
                    Ok(v) => v
                        .get("payload")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                    Err(e) => return self.io.protocol_error("messages", e),
                };
                let mut messages: Vec<Value> = list;
                messages.sort_by_key(|m| m.get("id").and_then(Value::as_u64).unwrap_or(0));
                for m in messages {
                    self.on_message(&m, false);
                }
            }
            // Best effort: a lost typing flag or last-seen mark fixes itself with the next one.
            Call::Typing | Call::LastSeen | Call::UpdateContact | Call::Resolve => {
                if !ok {
                    self.io.emit(ChatEvent::Error(ChatError::Server(format!(
                        "{call:?} failed: HTTP {status}"
                    ))));
                }
            }
        }
    }

    fn retry_contact_later(&mut self, now: Millis) {
        let delay = self.http_backoff.next_delay();
        self.timers.set(Timer::HttpRetry, now + delay);
        self.io.set_connection(ConnectionState::Reconnecting {
            attempt: self.http_backoff.attempt(),
            next_attempt_at: now + delay,
        });
    }

    fn fail_all(&mut self, why: String) {
        self.io.emit(ChatEvent::Error(ChatError::Server(why)));
        for item in std::mem::take(&mut self.session.outbox).take_unsent() {
            self.io
                .emit(ChatEvent::Error(ChatError::SendFailed(item.client_id)));
        }
    }

    fn note_id(&mut self, id: &str) -> bool {
        let Ok(n) = id.parse::<u64>() else {
            return true;
        };
        self.last_message_id = Some(self.last_message_id.map_or(n, |l| l.max(n)));
        self.seen_ids.insert(n)
    }

    /// A message from the socket (`message.created/updated`) or a fetch.
    fn on_message(&mut self, data: &Value, updated: bool) {
        if data.get("private").and_then(Value::as_bool) == Some(true) {
            return; // Private notes are for agents.
        }
        if data.get("message_type").and_then(Value::as_u64) == Some(2) {
            return; // Activity messages are not part of the visitor's transcript.
        }
        if let (Some(ours), Some(theirs)) = (
            self.session.conversation_id,
            data.get("conversation_id").and_then(Value::as_u64),
        ) {
            if ours != theirs {
                return;
            }
        }
        let Some(mut m) = decode_message(data) else {
            return self.io.protocol_error("message", "no id");
        };
        let first_time = self.note_id(&m.id);
        let echo = data
            .get("echo_id")
            .and_then(Value::as_str)
            .map(str::to_string);
        if m.author.role == Role::Visitor {
            if let Some(echo) = echo.filter(|e| self.session.outbox.contains(e) || !first_time) {
                m.client_id = Some(echo.clone());
                self.session.outbox.confirm(&echo);
                return self.io.emit(ChatEvent::MessageUpdated(m));
            }
        }
        if self.assignee_id.is_none() && m.author.role == Role::Agent {
            self.io
                .emit(ChatEvent::AgentChanged(Some(m.author.clone())));
        }
        if updated || !first_time {
            self.io.emit(ChatEvent::MessageUpdated(m));
        } else {
            self.io.emit(ChatEvent::MessageAdded(m));
        }
    }

    fn on_conversation(&mut self, data: &Value) {
        if let Some(id) = data.get("id").and_then(Value::as_u64) {
            match self.session.conversation_id {
                Some(ours) if ours != id => return,
                None => self.session.conversation_id = Some(id),
                _ => {}
            }
        }
        if let Some(s) = data.get("status").and_then(Value::as_str) {
            self.io
                .emit(ChatEvent::ConversationStatusChanged(conversation_status(s)));
        }
        if let Some(assignee) = data.get("meta").and_then(|m| m.get("assignee")) {
            self.assignee_id = assignee.get("id").and_then(Value::as_u64);
            self.io.emit(ChatEvent::AgentChanged(decode_user(assignee)));
        }
    }

    fn on_cable_message(&mut self, message: &Value) {
        let event = message
            .get("event")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let data = message.get("data").cloned().unwrap_or(Value::Null);
        match event {
            "message.created" => self.on_message(&data, false),
            "message.updated" => self.on_message(&data, true),
            "conversation.created"
            | "conversation.status_changed"
            | "conversation.updated"
            | "assignee.changed" => self.on_conversation(&data),
            "conversation.typing_on" | "conversation.typing_off" => {
                if data.get("is_private").and_then(Value::as_bool) == Some(true) {
                    return; // An agent typing a private note.
                }
                let conversation = data
                    .get("conversation")
                    .and_then(|c| c.get("id"))
                    .and_then(Value::as_u64);
                if conversation.is_some()
                    && self.session.conversation_id.is_some()
                    && conversation != self.session.conversation_id
                {
                    return;
                }
                let who = data
                    .get("user")
                    .and_then(decode_user)
                    .unwrap_or_else(|| Author::new(Role::Agent));
                if who.role == Role::Visitor {
                    return; // Our own typing, echoed.
                }
                self.io.emit(if event.ends_with("on") {
                    ChatEvent::TypingStarted(who)
                } else {
                    ChatEvent::TypingStopped(who)
                });
            }
            "presence.update" => {
                let users = data.get("users").and_then(Value::as_object);
                let status_of = |id: u64| {
                    users
                        .and_then(|u| u.get(&id.to_string()))
                        .and_then(Value::as_str)
                };
                let status = match self.assignee_id {
                    Some(id) => status_of(id),
                    None => users.and_then(|u| {
                        let all: Vec<&str> = u.values().filter_map(Value::as_str).collect();
                        ["online", "busy"].into_iter().find(|s| all.contains(s))
                    }),
                };
                self.io.emit(ChatEvent::PresenceChanged(match status {
                    Some("online") => Presence::Online,
                    Some("busy") => Presence::Away,
                    _ => Presence::Offline,
                }));
            }
            // Agent-only events: nothing in them changes what the visitor sees.
            "conversation.read"
            | "team.changed"
            | "conversation.contact_changed"
            | "contact.created"
            | "contact.updated"
            | "contact.merged"
            | "contact.deleted"
            | "notification_created"
            | "notification.created"
            | "notification.updated"
            | "notification.deleted"
            | "first.reply.created"
            | "conversation.mentioned"
            | "account.cache_invalidated" => {}
            other => self
                .io
                .protocol_error("voxsig event", format!("\"{other}\" ignored")),
        }
    }

    fn on_frame(&mut self, v: &Value, now: Millis) {
        match v.get("type").and_then(Value::as_str) {
            Some("welcome") => {
                if self.socket == Socket::AwaitingWelcome || self.socket == Socket::Opening {
                    self.timers.cancel(Timer::Open);
                    self.socket = Socket::Subscribing;
                    self.command("subscribe", None);
                    self.timers.set(Timer::Subscribe, now + SUBSCRIBE_TIMEOUT);
                }
            }
            Some("ping") => {}
            Some("confirm_subscription") => {
                if self.socket == Socket::Subscribing && self.is_ours(v) {
                    self.subscribed(now);
                }
            }
            Some("reject_subscription") => {
                if self.is_ours(v) {
                    self.stop(ChatError::Unauthorized(
                        "the server rejected the subscription".into(),
                    ));
                }
            }
            Some("disconnect") => {
                let reason = v
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
                    .to_string();
                if v.get("reconnect").and_then(Value::as_bool) == Some(false) {
                    self.stop(ChatError::Unauthorized(format!(
                        "disconnected by the server: {reason}"
                    )));
                } else {
                    self.io.close(1000, "");
                    self.after_close(now);
                }
            }
            Some(other) => self
                .io
                .protocol_error("actioncable", format!("type \"{other}\" ignored")),
            None => match v.get("message") {
                Some(message) if self.is_ours(v) => self.on_cable_message(message),
                Some(_) => {}
                None => self
                    .io
                    .protocol_error("actioncable", "frame with neither type nor message"),
            },
        }
    }

    fn is_ours(&self, v: &Value) -> bool {
        v.get("identifier").and_then(Value::as_str) == self.identifier.as_deref()
    }

    fn stop(&mut self, error: ChatError) {
        self.io.close(1000, "");
        self.socket = Socket::Stopped;
        for t in [
            Timer::Open,
            Timer::Stale,
            Timer::Subscribe,
            Timer::Presence,
            Timer::Reconnect,
        ] {
            self.timers.cancel(t);
        }
        self.io.emit(ChatEvent::Error(error));
        self.io.set_connection(ConnectionState::Offline);
    }

    fn drop_socket(&mut self, now: Millis) {
        self.io.close(4000, "stale");
        self.after_close(now);
    }

    fn after_close(&mut self, now: Millis) {
        for t in [Timer::Open, Timer::Stale, Timer::Subscribe, Timer::Presence] {
            self.timers.cancel(t);
        }
        if matches!(
            self.socket,
            Socket::Stopped | Socket::None | Socket::WaitingToReconnect
        ) {
            return;
        }
        let delay = self.backoff.next_delay();
        self.socket = Socket::WaitingToReconnect;
        self.timers.set(Timer::Reconnect, now + delay);
        self.io.set_connection(ConnectionState::Reconnecting {
            attempt: self.backoff.attempt(),
            next_attempt_at: now + delay,
        });
    }
}

fn conversation_status(s: &str) -> ConversationStatus {
    match s {
        "resolved" => ConversationStatus::Resolved,
        "pending" | "snoozed" => ConversationStatus::Pending,
        _ => ConversationStatus::Open,
    }
}

fn decode_user(v: &Value) -> Option<Author> {
    if v.is_null() {
        return None;
    }
    let role = match v.get("type").and_then(Value::as_str) {
        Some("contact") => Role::Visitor,
        Some("agent_bot") => Role::Bot,
        _ => Role::Agent,
    };
    let name = ["available_name", "name"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .map(str::to_string);
    let avatar_url = ["avatar_url", "thumbnail"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
        .and_then(safe_url);
    Some(Author {
        role,
        name,
        avatar_url,
    })
}

/// Decodes a Voxsig message object (socket payload or REST body).
fn decode_message(v: &Value) -> Option<ChatMessage> {
    let id = v.get("id").and_then(Value::as_u64)?;
    // message_type: incoming 0 (from the contact), outgoing 1, activity 2, template 3.
    let incoming = v.get("message_type").and_then(Value::as_u64) == Some(0);
    let author = if incoming {
        Author::new(Role::Visitor)
    } else {
        v.get("sender")
            .and_then(decode_user)
            .filter(|a| a.role != Role::Visitor)
            .unwrap_or_else(|| Author::new(Role::Agent))
    };
    let status = match v.get("status").and_then(Value::as_str) {
        Some("read") => DeliveryStatus::Read,
        Some("delivered") => DeliveryStatus::Delivered,
        _ => DeliveryStatus::Sent,
    };
    let deleted = v
        .get("content_attributes")
        .and_then(|c| c.get("deleted"))
        .and_then(Value::as_bool)
        == Some(true);
    let attachments = v
        .get("attachments")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| {
                    let url = a
                        .get("data_url")
                        .and_then(Value::as_str)
                        .and_then(safe_url)?;
                    let kind = if a.get("file_type").and_then(Value::as_str) == Some("image")
                        || a.get("file_type").and_then(Value::as_u64) == Some(0)
                    {
                        AttachmentKind::Image
                    } else {
                        AttachmentKind::File
                    };
                    Some(Attachment { kind, url })
                })
                .collect()
        })
        .unwrap_or_default();
    // created_at is unix seconds.
    let sent_at = v
        .get("created_at")
        .and_then(Value::as_i64)
        .map(|s| s * 1000)
        .unwrap_or(0);
    Some(ChatMessage {
        id: id.to_string(),
        client_id: None,
        author,
        text: if deleted {
            String::new()
        } else {
            v.get("content")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        },
        sent_at,
        status,
        quick_replies: Vec::new(),
        attachments: if deleted { Vec::new() } else { attachments },
        rich: None,
        seq: None,
    })
}

impl ChatBackend for VoxsigBackend {
    fn start(&mut self, now: Millis) {
        self.io.emit(ChatEvent::ConversationStatusChanged(
            ConversationStatus::Open,
        ));
        self.io.set_connection(ConnectionState::Connecting);
        self.io.announce_pending(&self.session.outbox, now);
        if self.session.contact.is_some() {
            self.open_socket(now);
            self.pump_outbox();
        } else {
            self.create_contact();
        }
    }

    fn handle_open(&mut self, _now: Millis) {
        if self.socket == Socket::Opening {
            self.socket = Socket::AwaitingWelcome;
        }
    }

    fn handle_text(&mut self, frame: &str, now: Millis) {
        if !matches!(
            self.socket,
            Socket::AwaitingWelcome | Socket::Subscribing | Socket::Subscribed | Socket::Opening
        ) {
            return;
        }
        // Any frame proves the connection alive (ActionCable ≥ 7.2 records every message).
        self.timers.set(Timer::Stale, now + STALE_THRESHOLD);
        match parse_json(frame) {
            Ok(v) if v.is_object() => self.on_frame(&v, now),
            Ok(_) => self
                .io
                .protocol_error("actioncable", "frame is not an object"),
            Err(e) => self.io.protocol_error("actioncable", e),
        }
    }

    fn handle_close(&mut self, _code: u16, _reason: &str, now: Millis) {
        self.after_close(now);
    }

    fn handle_http_response(&mut self, id: RequestId, status: u16, body: &str, now: Millis) {
        if let Some(call) = self.calls.remove(&id) {
            self.on_http(call, status, body, now);
        }
    }

    fn handle_timeout(&mut self, now: Millis) {
        for timer in self.timers.take_due(now) {
            match timer {
                Timer::Open | Timer::Stale => self.drop_socket(now),
                Timer::Subscribe => {
                    // Silence is how the server says the token is bad; a retry on the same
                    // socket would be ignored, so start over on a new one.
                    self.io.emit(ChatEvent::Error(ChatError::Unauthorized(
                        "the subscription was neither confirmed nor rejected".into(),
                    )));
                    self.drop_socket(now);
                }
                Timer::Presence if self.socket == Socket::Subscribed => self.send_presence(now),
                Timer::Presence => {}
                Timer::Reconnect => self.open_socket(now),
                Timer::HttpRetry => self.retry_http(),
            }
        }
    }

    fn handle_network_hint(&mut self, online: bool, now: Millis) {
        if !online {
            return;
        }
        if self.socket == Socket::WaitingToReconnect {
            self.timers.cancel(Timer::Reconnect);
            self.open_socket(now);
        }
        if self.timers.is_set(Timer::HttpRetry) {
            self.timers.cancel(Timer::HttpRetry);
            self.retry_http();
        }
    }

    fn send_message(&mut self, client_id: &str, text: &str, _now: Millis) {
        if self.ended {
            self.io
                .emit(ChatEvent::Error(ChatError::SendFailed(client_id.into())));
            return;
        }
        self.session.outbox.push(client_id, text);
        self.pump_outbox();
    }

    fn set_typing(&mut self, typing: bool, _now: Millis) {
        let status = if typing { "on" } else { "off" };
        self.post_to_conversation(
            "toggle_typing",
            json!({"typing_status": status}),
            Call::Typing,
        );
    }

    fn mark_read(&mut self, _now: Millis) {
        self.post_to_conversation("update_last_seen", json!({}), Call::LastSeen);
    }

    fn set_visitor(&mut self, profile: VisitorProfile, _now: Millis) {
        if profile.name.is_some() {
            self.visitor.name = profile.name;
        }
        if profile.email.is_some() {
            self.visitor.email = profile.email;
        }
        if let Some(c) = self.session.contact.clone() {
            let body = json!({"name": self.visitor.name, "email": self.visitor.email});
            self.call(
                HttpMethod::Patch,
                &format!("/contacts/{}", c.source_id),
                Some(body),
                Call::UpdateContact,
            );
        }
    }

    fn end_chat(&mut self, _now: Millis) {
        self.post_to_conversation("toggle_status", json!({}), Call::Resolve);
        // The contact stays; the next conversation is a new one.
        self.session.conversation_id = None;
        self.ended = true;
        self.io.close(1000, "");
        self.socket = Socket::Stopped;
        self.timers.clear();
        self.io.conversation_ended();
    }

    fn poll_socket(&mut self) -> Option<SocketCommand> {
        self.io.poll_socket()
    }

    fn poll_http(&mut self) -> Option<HttpRequest> {
        self.io.poll_http()
    }

    fn poll_event(&mut self) -> Option<ChatEvent> {
        self.io.poll_event()
    }

    fn poll_timeout(&self) -> Option<Millis> {
        self.timers.next()
    }

    fn snapshot(&self) -> String {
        serde_json::to_string(&self.session).unwrap_or_default()
    }
}

impl VoxsigBackend {
    /// Repeats whatever REST step failed transiently.
    fn retry_http(&mut self) {
        if self.session.contact.is_none() {
            self.create_contact();
        } else {
            self.pump_outbox();
        }
    }
}
