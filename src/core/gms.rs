//! Genesys GMS Chat V2 over CometD (Bayeux 1.0 on a WebSocket).
//!
//! Bayeux: `/meta/handshake` offering `websocket`, a `/meta/connect` loop honouring
//! `advice.timeout`/`interval`/`reconnect`, string message ids, opaque `clientId`,
//! unknown-client errors (`402::…`, `401:…`) answered by a new handshake, and CometD's linear
//! backoff. Chat V2: operations published on `/service/chatV2/{service}` (listened to without
//! `/meta/subscribe`, as the GMS sample does), transcript events applied by `index` exactly
//! once, `statusCode` 0/1/2, `chatEnded`, and resume with `requestNotifications` from the last
//! applied position.

use super::backend::{ChatBackend, HttpRequest, RequestId, SocketCommand, VisitorProfile};
use super::backoff::{BackoffPolicy, ReconnectBackoff};
use super::event::{ChatError, ChatEvent, ConnectionState, ConversationStatus, Presence};
use super::io::{parse_json, Io, Timers};
use super::message::{safe_url, Author, ChatMessage, DeliveryStatus, Role};
use super::outbox::Outbox;
use super::url::to_websocket;
use super::Millis;
use crate::config::GmsConfig;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// CometD's client backoff: +1 s per failure up to 60 s, with a little jitter added.
pub const DEFAULT_BACKOFF: BackoffPolicy = BackoffPolicy::Linear {
    increment: 1_000,
    max: 60_000,
    jitter: 0.1,
};
/// CometD's maxNetworkDelay: how long any reply may take beyond the server's hold time.
pub const MAX_NETWORK_DELAY: Millis = 10_000;
/// The server's connect hold time until its advice says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Millis = 30_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// Send the next `/meta/connect`.
    NextConnect,
    /// No reply to a handshake or connect in time.
    ReplyTimeout,
    /// Open a new socket.
    Reconnect,
    /// Handshake again on the open socket.
    Rehandshake,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Opening,
    Handshaking,
    Connected,
    WaitingToReconnect,
    Ended,
}

/// The chat session: what a page reload needs to resume it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GmsSession {
    /// Secret for every request of this chat.
    pub secure_key: String,
    /// This party's id.
    pub user_id: String,
    /// Chat server instance (may change; the latest is used).
    pub alias: String,
    /// Constant during the chat.
    pub chat_id: String,
}

/// What a GMS chat persists across page reloads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GmsSnapshot {
    /// The chat, once `requestChat` succeeded.
    pub session: Option<GmsSession>,
    /// Unconfirmed visitor messages.
    pub outbox: Outbox,
}

/// The GMS Chat V2 backend.
#[derive(Debug)]
pub struct GmsBackend {
    url: String,
    channel: String,
    subject: Option<String>,
    user_data: Map<String, Value>,
    visitor: VisitorProfile,
    io: Io,
    timers: Timers<Timer>,
    backoff: ReconnectBackoff,
    phase: Phase,
    next_id: u64,
    client_id: Option<String>,
    connect_timeout: Millis,
    connect_interval: Millis,
    chat_requested: bool,
    /// A `requestNotifications` is out: resending waits for its transcript, which may show
    /// that a message whose acknowledgement was lost did arrive.
    awaiting_transcript: bool,
    /// Highest transcript index applied on this page.
    last_index: u64,
    /// Where the next `requestNotifications` starts.
    next_position: u64,
    snapshot: GmsSnapshot,
}

impl GmsBackend {
    /// A backend for `config`; `snapshot` is what [`ChatBackend::snapshot`] returned before a reload.
    pub fn new(config: &GmsConfig, seed: u64, snapshot: Option<&str>) -> Self {
        Self::with_backoff(config, DEFAULT_BACKOFF, seed, snapshot)
    }

    /// Like [`GmsBackend::new`] with another reconnect policy.
    pub fn with_backoff(
        config: &GmsConfig,
        policy: BackoffPolicy,
        seed: u64,
        snapshot: Option<&str>,
    ) -> Self {
        GmsBackend {
            url: to_websocket(&config.cometd_url),
            channel: format!("/service/chatV2/{}", config.service),
            subject: config.subject.clone(),
            user_data: config.user_data.clone().unwrap_or_default(),
            visitor: VisitorProfile::default(),
            io: Io::default(),
            timers: Timers::default(),
            backoff: ReconnectBackoff::new(policy, seed),
            phase: Phase::Idle,
            next_id: 0,
            client_id: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            connect_interval: 0,
            chat_requested: false,
            awaiting_transcript: false,
            last_index: 0,
            next_position: 1,
            snapshot: snapshot
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default(),
        }
    }

    /// The chat session, once started.
    pub fn session(&self) -> Option<&GmsSession> {
        self.snapshot.session.as_ref()
    }

    fn message_id(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }

    fn send_bayeux(&mut self, mut message: Value) {
        let id = self.message_id();
        if let Some(obj) = message.as_object_mut() {
            obj.insert("id".into(), id.into());
            if let Some(cid) = &self.client_id {
                obj.insert("clientId".into(), cid.clone().into());
            }
        }
        self.io.send(Value::Array(vec![message]).to_string());
    }

    fn open_socket(&mut self, now: Millis) {
        self.phase = Phase::Opening;
        self.timers.clear();
        self.io.open(self.url.clone(), &[]);
        self.timers
            .set(Timer::ReplyTimeout, now + MAX_NETWORK_DELAY);
    }

    fn handshake(&mut self, now: Millis) {
        self.phase = Phase::Handshaking;
        self.client_id = None;
        self.send_bayeux(json!({
            "version": "1.0",
            "minimumVersion": "1.0",
            "channel": "/meta/handshake",
            "supportedConnectionTypes": ["websocket"],
            "advice": {"timeout": 60000, "interval": 0}
        }));
        self.timers
            .set(Timer::ReplyTimeout, now + MAX_NETWORK_DELAY);
    }

    fn meta_connect(&mut self, first: bool, now: Millis) {
        let mut msg = json!({"channel": "/meta/connect", "connectionType": "websocket"});
        if first {
            // Ask the server to answer at once so the connection is confirmed quickly.
            msg["advice"] = json!({"timeout": 0});
        }
        self.send_bayeux(msg);
        let hold = if first { 0 } else { self.connect_timeout };
        self.timers
            .set(Timer::ReplyTimeout, now + hold + MAX_NETWORK_DELAY);
    }

    fn operation(&mut self, operation: &str, mut params: Map<String, Value>) {
        params.insert("operation".into(), operation.into());
        if let Some(s) = &self.snapshot.session {
            params.insert("secureKey".into(), s.secure_key.clone().into());
            params.insert("userId".into(), s.user_id.clone().into());
            params.insert("alias".into(), s.alias.clone().into());
        }
        let channel = self.channel.clone();
        self.send_bayeux(json!({"channel": channel, "data": Value::Object(params)}));
    }

    fn request_chat(&mut self) {
        self.chat_requested = true;
        let mut p = Map::new();
        p.insert(
            "nickname".into(),
            self.visitor
                .name
                .clone()
                .unwrap_or_else(|| "Visitor".into())
                .into(),
        );
        if let Some(email) = &self.visitor.email {
            p.insert("emailAddress".into(), email.clone().into());
        }
        if let Some(subject) = &self.subject {
            p.insert("subject".into(), subject.clone().into());
        }
        p.insert("userData".into(), Value::Object(self.user_data.clone()));
        self.operation("requestChat", p);
    }

    fn request_notifications(&mut self) {
        let mut p = Map::new();
        p.insert("transcriptPosition".into(), self.next_position.into());
        self.awaiting_transcript = true;
        self.operation("requestNotifications", p);
    }

    /// Chat traffic may flow: start or resume the chat, then send what waits.
    fn on_connected(&mut self) {
        self.backoff.reset();
        self.io.set_connection(ConnectionState::Online);
        if self.snapshot.session.is_some() {
            self.request_notifications();
        } else if !self.snapshot.outbox.is_empty() && !self.chat_requested {
            self.request_chat();
        }
    }

    fn flush_outbox(&mut self) {
        if self.phase != Phase::Connected
            || self.snapshot.session.is_none()
            || self.awaiting_transcript
        {
            return;
        }
        for item in self.snapshot.outbox.take_unsent() {
            let mut p = Map::new();
            p.insert("message".into(), item.text.into());
            self.operation("sendMessage", p);
        }
    }

    fn handle_meta_handshake(&mut self, msg: &Value, now: Millis) {
        self.timers.cancel(Timer::ReplyTimeout);
        self.read_advice(msg);
        if msg.get("successful").and_then(Value::as_bool) == Some(true) {
            self.client_id = msg
                .get("clientId")
                .and_then(Value::as_str)
                .map(str::to_string);
            if self.client_id.is_none() {
                self.io
                    .protocol_error("/meta/handshake", "successful without a clientId");
                return self.drop_socket(now);
            }
            self.phase = Phase::Connected;
            self.meta_connect(true, now);
            self.on_connected();
            self.flush_outbox();
        } else if advice_reconnect(msg) == Some("none") {
            self.give_up(msg);
        } else {
            let delay = self.backoff.next_delay();
            self.timers.set(Timer::Rehandshake, now + delay);
            self.io.set_connection(ConnectionState::Reconnecting {
                attempt: self.backoff.attempt(),
                next_attempt_at: now + delay,
            });
        }
    }

    fn handle_meta_connect(&mut self, msg: &Value, now: Millis) {
        self.timers.cancel(Timer::ReplyTimeout);
        self.read_advice(msg);
        if msg.get("successful").and_then(Value::as_bool) == Some(true) {
            self.backoff.reset();
            self.timers
                .set(Timer::NextConnect, now + self.connect_interval);
            return;
        }
        let error = msg.get("error").and_then(Value::as_str).unwrap_or_default();
        let unknown_client = error.starts_with("402:") || error.starts_with("401:");
        match advice_reconnect(msg) {
            Some("none") => self.give_up(msg),
            Some("handshake") => self.rehandshake_after(self.connect_interval, now),
            _ if unknown_client => self.rehandshake_after(0, now),
            _ => {
                let delay = self.connect_interval + self.backoff.next_delay();
                self.timers.set(Timer::NextConnect, now + delay);
            }
        }
    }

    fn rehandshake_after(&mut self, delay: Millis, now: Millis) {
        self.client_id = None;
        self.phase = Phase::Handshaking;
        self.timers.set(Timer::Rehandshake, now + delay);
    }

    fn read_advice(&mut self, msg: &Value) {
        if let Some(advice) = msg.get("advice") {
            if let Some(t) = advice.get("timeout").and_then(Value::as_u64) {
                self.connect_timeout = t.min(600_000);
            }
            if let Some(i) = advice.get("interval").and_then(Value::as_i64) {
                self.connect_interval = i.clamp(0, 600_000) as Millis;
            }
        }
    }

    fn give_up(&mut self, msg: &Value) {
        let reason = msg
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("the server refused the session");
        self.io.emit(ChatEvent::Error(ChatError::Unauthorized(
            reason.to_string(),
        )));
        self.io.close(1000, "");
        self.phase = Phase::Idle;
        self.timers.clear();
        self.io.set_connection(ConnectionState::Offline);
    }

    fn handle_service(&mut self, msg: &Value, now: Millis) {
        if let Some(data) = msg.get("data") {
            return self.handle_chat_response(data, now);
        }
        // A publish acknowledgement: only a failure matters.
        if msg.get("successful").and_then(Value::as_bool) == Some(false) {
            let error = msg.get("error").and_then(Value::as_str).unwrap_or_default();
            if error.starts_with("402:")
                || error.starts_with("401:")
                || advice_reconnect(msg) == Some("handshake")
            {
                self.snapshot.outbox.requeue_in_flight();
                self.rehandshake_after(0, now);
            } else {
                self.io.emit(ChatEvent::Error(ChatError::Server(format!(
                    "publish failed: {error}"
                ))));
            }
        }
    }

    fn handle_chat_response(&mut self, data: &Value, now: Millis) {
        let status = data.get("statusCode").and_then(Value::as_i64).unwrap_or(0);
        if status != 0 {
            let advice: Vec<&str> = data
                .get("errors")
                .and_then(Value::as_array)
                .map(|errors| {
                    errors
                        .iter()
                        .filter_map(|e| e.get("advice").and_then(Value::as_str))
                        .collect()
                })
                .unwrap_or_default();
            let detail = if advice.is_empty() {
                format!("statusCode {status}")
            } else {
                advice.join("; ")
            };
            self.io.emit(ChatEvent::Error(ChatError::Server(detail)));
            if status == 1 {
                // Chat server offline for now; the client may keep trying.
                self.io.emit(ChatEvent::PresenceChanged(Presence::Offline));
            }
            if data.get("chatEnded").and_then(Value::as_bool) == Some(true) {
                self.end_locally();
            } else if status == 2 && self.snapshot.session.is_none() {
                // requestChat itself was refused: the waiting messages cannot be delivered.
                self.chat_requested = false;
                for item in std::mem::take(&mut self.snapshot.outbox).take_unsent() {
                    self.io
                        .emit(ChatEvent::Error(ChatError::SendFailed(item.client_id)));
                }
            }
            return;
        }
        let started = self.update_session(data);
        self.awaiting_transcript = false;
        if let Some(messages) = data.get("messages").and_then(Value::as_array) {
            for m in messages {
                self.apply_transcript_event(m, now);
            }
        }
        if let Some(next) = data.get("nextPosition").and_then(Value::as_u64) {
            self.next_position = self.next_position.max(next);
        }
        if started || data.get("messages").is_some() {
            self.flush_outbox();
        }
        if data.get("chatEnded").and_then(Value::as_bool) == Some(true) {
            self.end_locally();
        }
    }

    /// Takes session fields from a response; returns whether this response started the chat.
    fn update_session(&mut self, data: &Value) -> bool {
        let field = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
        let started = self.snapshot.session.is_none() && field("secureKey").is_some();
        let session = self
            .snapshot
            .session
            .get_or_insert_with(GmsSession::default);
        if let Some(v) = field("secureKey") {
            session.secure_key = v;
        }
        if let Some(v) = field("userId") {
            session.user_id = v;
        }
        if let Some(v) = field("alias") {
            session.alias = v;
        }
        if let Some(v) = field("chatId") {
            session.chat_id = v;
        }
        if session.secure_key.is_empty() {
            self.snapshot.session = None;
        }
        started
    }

    fn apply_transcript_event(&mut self, m: &Value, now: Millis) {
        let Some(index) = m.get("index").and_then(Value::as_u64) else {
            return self.io.protocol_error("transcript event", "no index");
        };
        if index <= self.last_index {
            return; // Already applied: never twice.
        }
        self.last_index = index;
        self.next_position = self.next_position.max(index + 1);
        let from = m.get("from");
        let party = from
            .and_then(|f| f.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("Agent");
        let nickname = from
            .and_then(|f| f.get("nickname"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let is_client = party == "Client";
        let author = Author {
            role: match party {
                "Client" => Role::Visitor,
                "External" => Role::Bot,
                _ => Role::Agent,
            },
            name: nickname,
            avatar_url: None,
        };
        let text = m
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let sent_at = m
            .get("utcTime")
            .and_then(Value::as_i64)
            .unwrap_or(now as i64);
        let chat_id = self
            .snapshot
            .session
            .as_ref()
            .map(|s| s.chat_id.clone())
            .unwrap_or_default();
        let id = format!("gms-{chat_id}-{index}");
        let message = |text: String, author: Author, status| ChatMessage {
            id: id.clone(),
            client_id: None,
            author,
            text,
            sent_at,
            status,
            quick_replies: Vec::new(),
            attachments: Vec::new(),
            rich: None,
            seq: None,
        };
        match m.get("type").and_then(Value::as_str).unwrap_or_default() {
            "Message" if is_client => {
                // Our own message coming back confirms it (GMS carries no client id).
                let mut msg = message(text.clone(), author, DeliveryStatus::Sent);
                match self
                    .snapshot
                    .outbox
                    .find_by_text(&text)
                    .map(|i| i.client_id.clone())
                {
                    Some(client_id) => {
                        self.snapshot.outbox.confirm(&client_id);
                        msg.client_id = Some(client_id);
                        self.io.emit(ChatEvent::MessageUpdated(msg));
                    }
                    None => self.io.emit(ChatEvent::MessageAdded(msg)),
                }
            }
            "Message" | "PushUrl" => {
                let text = if text.is_empty() {
                    m.get("url")
                        .and_then(Value::as_str)
                        .and_then(safe_url)
                        .unwrap_or_default()
                } else {
                    text
                };
                if !text.is_empty() {
                    self.io.emit(ChatEvent::MessageAdded(message(
                        text,
                        author,
                        DeliveryStatus::Sent,
                    )));
                }
            }
            "ParticipantJoined" if !is_client => {
                self.io.emit(ChatEvent::AgentChanged(Some(author)));
                self.io.emit(ChatEvent::PresenceChanged(Presence::Online));
            }
            "ParticipantLeft" if !is_client => {
                self.io.emit(ChatEvent::TypingStopped(author));
                self.io.emit(ChatEvent::PresenceChanged(Presence::Offline));
            }
            "NicknameUpdated" if !is_client => {
                self.io.emit(ChatEvent::AgentChanged(Some(author)));
            }
            "TypingStarted" if !is_client => self.io.emit(ChatEvent::TypingStarted(author)),
            "TypingStopped" if !is_client => self.io.emit(ChatEvent::TypingStopped(author)),
            "Notice" | "CustomNotice" | "IdleAlert" => {
                // "file-client-cfg-get" notices carry file limits, not words for the visitor.
                if !text.is_empty() && text != "file-client-cfg-get" {
                    self.io.emit(ChatEvent::MessageAdded(message(
                        text,
                        Author::new(Role::System),
                        DeliveryStatus::Sent,
                    )));
                }
            }
            "FileUploaded" if !is_client => {
                let name = m
                    .get("userData")
                    .and_then(|u| u.get("file-name"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or(text);
                if !name.is_empty() {
                    self.io.emit(ChatEvent::MessageAdded(message(
                        format!("📎 {name}"),
                        author,
                        DeliveryStatus::Sent,
                    )));
                }
            }
            "IdleClose" => self.end_locally(),
            // The visitor's own joins/leaves/typing echoes, and deleted files, show nothing.
            "ParticipantJoined" | "ParticipantLeft" | "NicknameUpdated" | "TypingStarted"
            | "TypingStopped" | "FileUploaded" | "FileDeleted" => {}
            other => self
                .io
                .protocol_error("transcript event", format!("type \"{other}\" ignored")),
        }
    }

    fn end_locally(&mut self) {
        if self.phase == Phase::Ended {
            return;
        }
        if self.client_id.is_some() {
            self.send_bayeux(json!({"channel": "/meta/disconnect"}));
        }
        self.io.close(1000, "");
        self.phase = Phase::Ended;
        self.timers.clear();
        let ended = std::mem::take(&mut self.snapshot);
        self.io.fail_pending(ended.outbox);
        self.io.conversation_ended();
    }

    fn drop_socket(&mut self, now: Millis) {
        self.io.close(4000, "");
        self.after_close(now);
    }

    fn after_close(&mut self, now: Millis) {
        self.timers.clear();
        self.client_id = None;
        self.awaiting_transcript = false;
        self.snapshot.outbox.requeue_in_flight();
        if self.phase == Phase::Ended || self.phase == Phase::Idle {
            return;
        }
        let delay = self.backoff.next_delay();
        self.phase = Phase::WaitingToReconnect;
        self.timers.set(Timer::Reconnect, now + delay);
        self.io.set_connection(ConnectionState::Reconnecting {
            attempt: self.backoff.attempt(),
            next_attempt_at: now + delay,
        });
    }
}

fn advice_reconnect(msg: &Value) -> Option<&str> {
    msg.get("advice")
        .and_then(|a| a.get("reconnect"))
        .and_then(Value::as_str)
}

impl ChatBackend for GmsBackend {
    fn start(&mut self, now: Millis) {
        if self.snapshot.session.is_some() {
            // After a reload the page shows nothing yet: replay the transcript from the start.
            self.next_position = 1;
            self.io.announce_pending(&self.snapshot.outbox, now);
        }
        self.io.emit(ChatEvent::ConversationStatusChanged(
            ConversationStatus::Open,
        ));
        self.io.set_connection(ConnectionState::Connecting);
        self.open_socket(now);
    }

    fn handle_open(&mut self, now: Millis) {
        if self.phase == Phase::Opening {
            self.handshake(now);
        }
    }

    fn handle_text(&mut self, frame: &str, now: Millis) {
        if matches!(
            self.phase,
            Phase::Idle | Phase::Ended | Phase::WaitingToReconnect | Phase::Opening
        ) {
            return;
        }
        let messages = match parse_json(frame) {
            Ok(Value::Array(list)) => list,
            Ok(obj @ Value::Object(_)) => vec![obj],
            Ok(_) => {
                return self
                    .io
                    .protocol_error("bayeux frame", "neither an array nor an object")
            }
            Err(e) => return self.io.protocol_error("bayeux frame", e),
        };
        for msg in &messages {
            if matches!(
                self.phase,
                Phase::Ended | Phase::WaitingToReconnect | Phase::Idle
            ) {
                break;
            }
            match msg.get("channel").and_then(Value::as_str) {
                Some("/meta/handshake") => self.handle_meta_handshake(msg, now),
                Some("/meta/connect") => self.handle_meta_connect(msg, now),
                Some("/meta/disconnect") => {}
                Some(c) if c == self.channel => self.handle_service(msg, now),
                Some(other) => self
                    .io
                    .protocol_error("bayeux", format!("message on {other} ignored")),
                None => self
                    .io
                    .protocol_error("bayeux", "message without a channel"),
            }
        }
    }

    fn handle_close(&mut self, _code: u16, _reason: &str, now: Millis) {
        self.after_close(now);
    }

    fn handle_http_response(&mut self, _id: RequestId, _status: u16, _body: &str, _now: Millis) {}

    fn handle_timeout(&mut self, now: Millis) {
        for timer in self.timers.take_due(now) {
            match timer {
                Timer::NextConnect if self.phase == Phase::Connected => {
                    self.meta_connect(false, now)
                }
                Timer::NextConnect => {}
                Timer::ReplyTimeout => self.drop_socket(now),
                Timer::Reconnect => self.open_socket(now),
                Timer::Rehandshake => self.handshake(now),
            }
        }
    }

    fn handle_network_hint(&mut self, online: bool, now: Millis) {
        if online && self.phase == Phase::WaitingToReconnect {
            self.timers.cancel(Timer::Reconnect);
            self.open_socket(now);
        }
    }

    fn send_message(&mut self, client_id: &str, text: &str, _now: Millis) {
        if self.phase == Phase::Ended {
            self.io
                .emit(ChatEvent::Error(ChatError::SendFailed(client_id.into())));
            return;
        }
        self.snapshot.outbox.requeue(client_id);
        self.snapshot.outbox.push(client_id, text);
        if self.phase != Phase::Connected {
            return;
        }
        if self.snapshot.session.is_none() {
            if !self.chat_requested {
                self.request_chat();
            }
        } else {
            self.flush_outbox();
        }
    }

    fn set_typing(&mut self, typing: bool, _now: Millis) {
        if self.phase == Phase::Connected && self.snapshot.session.is_some() {
            self.operation(
                if typing { "startTyping" } else { "stopTyping" },
                Map::new(),
            );
        }
    }

    /// GMS Chat V2 has no read receipts.
    fn mark_read(&mut self, _now: Millis) {}

    fn set_visitor(&mut self, profile: VisitorProfile, _now: Millis) {
        let renamed = profile.name.is_some() && profile.name != self.visitor.name;
        if profile.name.is_some() {
            self.visitor.name = profile.name;
        }
        if profile.email.is_some() {
            self.visitor.email = profile.email;
        }
        if renamed && self.phase == Phase::Connected && self.snapshot.session.is_some() {
            let mut p = Map::new();
            p.insert(
                "nickname".into(),
                self.visitor.name.clone().unwrap_or_default().into(),
            );
            self.operation("updateNickname", p);
        }
    }

    fn end_chat(&mut self, _now: Millis) {
        if self.phase == Phase::Connected && self.snapshot.session.is_some() {
            // The answer carries chatEnded: true, which ends it here too.
            self.operation("disconnect", Map::new());
        } else {
            self.end_locally();
        }
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
        serde_json::to_string(&self.snapshot).unwrap_or_default()
    }
}
