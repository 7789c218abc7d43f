//! Push over SocketCluster v9 (protocol v1): `#handshake`, bare `#1`/`#2` ping/pong, emits
//! with `cid` answered by `{rid, data|error}`, `#subscribe`/`#publish`, `#disconnect`,
//! `#kickOut`, batched arrays, and the v9 client's close-code reconnect rules.
//!
//! Push itself: `registerUser` returns `{"urn": …}` as a JSON string (in `error` when the
//! server answers Push-style, else in `data`); the urn is persisted and reused after a reload;
//! the widget subscribes to the urn channel and ignores payloads whose `to` is not the urn;
//! `sendMessageToChannel {text, userUrn}` sends. Push keeps no history, so the transcript is
//! part of the snapshot.

use super::backend::{ChatBackend, HttpRequest, RequestId, SocketCommand, VisitorProfile};
use super::backoff::{BackoffPolicy, ReconnectBackoff};
use super::event::{ChatError, ChatEvent, ConnectionState, ConversationStatus};
use super::io::{parse_json, Io, Timers};
use super::message::{
    safe_url, Attachment, AttachmentKind, Author, ChatMessage, DeliveryStatus, Role,
};
use super::outbox::Outbox;
use super::url::{encode_component, to_websocket};
use super::Millis;
use crate::config::PushConfig;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The v9 client's reconnect defaults (scsocket.js): 10–20 s, ×1.5, at most 60 s.
pub const DEFAULT_BACKOFF: BackoffPolicy = BackoffPolicy::Exponential {
    initial: 10_000,
    randomness: 10_000,
    multiplier: 1.5,
    max: 60_000,
};
/// How long an emit waits for its `rid` (ackTimeout).
pub const ACK_TIMEOUT: Millis = 10_000;
/// How long opening the socket may take (connectTimeout).
pub const CONNECT_TIMEOUT: Millis = 20_000;
/// Ping timeout until the handshake says otherwise.
pub const DEFAULT_PING_TIMEOUT: Millis = 20_000;
/// Messages kept in the snapshot, newest last.
pub const HISTORY_LIMIT: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Connect,
    Ping,
    Ack(u64),
    Reconnect,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Call {
    Handshake,
    Register,
    Subscribe,
    Send(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Connecting,
    Handshaking,
    Registering,
    Subscribing,
    Ready,
    WaitingToReconnect,
    Ended,
}

/// What a Push session persists across page reloads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PushSnapshot {
    /// The registered user's urn.
    pub urn: Option<String>,
    /// Unconfirmed visitor messages.
    pub outbox: Outbox,
    /// The conversation so far (Push has no history API).
    pub history: Vec<ChatMessage>,
    /// Counter for local ids of agent messages that carry none.
    pub next_local_id: u64,
}

/// The Push backend.
#[derive(Debug)]
pub struct PushBackend {
    url: String,
    io: Io,
    timers: Timers<Timer>,
    backoff: ReconnectBackoff,
    phase: Phase,
    next_cid: u64,
    calls: HashMap<u64, Call>,
    ping_timeout: Millis,
    session: PushSnapshot,
    restored: bool,
}

impl PushBackend {
    /// A backend for `config`; `snapshot` is what [`ChatBackend::snapshot`] returned before a reload.
    pub fn new(config: &PushConfig, seed: u64, snapshot: Option<&str>) -> Self {
        Self::with_backoff(config, DEFAULT_BACKOFF, seed, snapshot)
    }

    /// Like [`PushBackend::new`] with another reconnect policy.
    pub fn with_backoff(
        config: &PushConfig,
        policy: BackoffPolicy,
        seed: u64,
        snapshot: Option<&str>,
    ) -> Self {
        let url = format!(
            "{}/socketcluster/?channelUUID={}&hostApi={}",
            to_websocket(&config.host),
            encode_component(&config.channel_uuid),
            encode_component(&config.host_api)
        );
        let session: Option<PushSnapshot> = snapshot.and_then(|s| serde_json::from_str(s).ok());
        PushBackend {
            url,
            io: Io::default(),
            timers: Timers::default(),
            backoff: ReconnectBackoff::new(policy, seed),
            phase: Phase::Idle,
            next_cid: 0,
            calls: HashMap::new(),
            ping_timeout: DEFAULT_PING_TIMEOUT,
            restored: session.is_some(),
            session: session.unwrap_or_default(),
        }
    }

    /// The registered urn, once known.
    pub fn urn(&self) -> Option<&str> {
        self.session.urn.as_deref()
    }

    fn connect(&mut self, now: Millis) {
        self.phase = Phase::Connecting;
        self.next_cid = 0;
        self.calls.clear();
        self.timers.clear();
        self.io.open(self.url.clone(), &[]);
        self.timers.set(Timer::Connect, now + CONNECT_TIMEOUT);
    }

    fn emit_call(&mut self, event: &str, data: Value, call: Call, now: Millis) {
        self.next_cid += 1;
        let cid = self.next_cid;
        self.io
            .send(json!({"event": event, "data": data, "cid": cid}).to_string());
        self.calls.insert(cid, call);
        self.timers.set(Timer::Ack(cid), now + ACK_TIMEOUT);
    }

    fn after_handshake(&mut self, now: Millis) {
        match self.session.urn.clone() {
            Some(urn) => self.subscribe(urn, now),
            None => {
                self.phase = Phase::Registering;
                self.emit_call("registerUser", json!({}), Call::Register, now);
            }
        }
    }

    fn subscribe(&mut self, urn: String, now: Millis) {
        self.phase = Phase::Subscribing;
        self.emit_call("#subscribe", json!({"channel": urn}), Call::Subscribe, now);
    }

    fn flush_outbox(&mut self, now: Millis) {
        let Some(urn) = self.session.urn.clone() else {
            return;
        };
        for item in self.session.outbox.take_unsent() {
            // clientId is ignored by servers that do not know it and lets those that do
            // discard a resend after an unacknowledged drop.
            let data = json!({"text": item.text, "userUrn": urn, "clientId": item.client_id});
            self.emit_call(
                "sendMessageToChannel",
                data,
                Call::Send(item.client_id),
                now,
            );
        }
    }

    fn remember(&mut self, message: ChatMessage) {
        self.session.history.retain(|m| m.id != message.id);
        self.session.history.push(message);
        let excess = self.session.history.len().saturating_sub(HISTORY_LIMIT);
        self.session.history.drain(..excess);
    }

    fn confirm_sent(&mut self, client_id: &str, now: Millis) {
        let Some(item) = self.session.outbox.confirm(client_id) else {
            return;
        };
        let message =
            ChatMessage::visitor(&item.client_id, item.text, now as i64, DeliveryStatus::Sent);
        self.remember(message.clone());
        self.io.emit(ChatEvent::MessageUpdated(message));
    }

    fn on_response(&mut self, rid: u64, packet: &Value, now: Millis) {
        self.timers.cancel(Timer::Ack(rid));
        let Some(call) = self.calls.remove(&rid) else {
            return; // A late answer to a call that already timed out.
        };
        let error = packet.get("error").filter(|e| !e.is_null());
        let data = packet.get("data");
        match call {
            Call::Handshake => {
                if let Some(t) = data
                    .and_then(|d| d.get("pingTimeout"))
                    .and_then(Value::as_u64)
                {
                    self.ping_timeout = t.clamp(1_000, 600_000);
                }
                self.backoff.reset();
                self.timers.set(Timer::Ping, now + self.ping_timeout);
                self.after_handshake(now);
            }
            Call::Register => match read_urn(error, data) {
                Some(urn) => {
                    self.session.urn = Some(urn.clone());
                    self.subscribe(urn, now);
                }
                None => {
                    self.io.emit(ChatEvent::Error(ChatError::Server(format!(
                        "registerUser answered without a urn: {}",
                        packet
                    ))));
                    self.drop_connection(4003, now);
                }
            },
            Call::Subscribe => {
                if let Some(e) = error {
                    self.io.emit(ChatEvent::Error(ChatError::Server(format!(
                        "subscribe failed: {e}"
                    ))));
                    self.drop_connection(4006, now);
                    return;
                }
                self.phase = Phase::Ready;
                self.io.set_connection(ConnectionState::Online);
                self.flush_outbox(now);
            }
            Call::Send(client_id) => match error {
                Some(e) => {
                    self.session.outbox.give_up(&client_id);
                    self.io
                        .emit(ChatEvent::Error(ChatError::SendFailed(client_id)));
                    self.io.protocol_error("sendMessageToChannel", e);
                }
                None => self.confirm_sent(&client_id, now),
            },
        }
    }

    fn on_publish(&mut self, data: Option<&Value>, now: Millis) {
        let Some(data) = data else { return };
        let channel = data.get("channel").and_then(Value::as_str);
        let Some(urn) = self.session.urn.clone() else {
            return;
        };
        if channel != Some(urn.as_str()) {
            return; // Not our channel.
        }
        let payload = data.get("data").cloned().unwrap_or(Value::Null);
        if payload.get("to").and_then(Value::as_str) != Some(urn.as_str()) {
            return; // Push delivers only payloads addressed to this urn.
        }
        let text = payload
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let quick_replies = quick_replies(&payload);
        let attachments = attachments(&payload);
        if text.is_empty() && attachments.is_empty() && quick_replies.is_empty() {
            return;
        }
        let id = match payload.get("id").and_then(|v| {
            v.as_str()
                .map(str::to_string)
                .or_else(|| v.as_u64().map(|n| n.to_string()))
        }) {
            Some(id) => id,
            None => {
                self.session.next_local_id += 1;
                format!("push-{}", self.session.next_local_id)
            }
        };
        let sent_at = payload
            .get("timestamp")
            .and_then(Value::as_i64)
            .unwrap_or(now as i64); // Push payloads carry no time: arrival time is the best there is.
        let message = ChatMessage {
            id,
            client_id: None,
            author: Author {
                role: Role::Agent,
                name: payload
                    .get("from_name")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                avatar_url: None,
            },
            text,
            sent_at,
            status: DeliveryStatus::Sent,
            quick_replies,
            attachments,
            rich: None,
            seq: None,
        };
        self.remember(message.clone());
        self.io.emit(ChatEvent::MessageAdded(message));
    }

    fn on_packet(&mut self, packet: &Value, now: Millis) {
        if let Some(rid) = packet.get("rid").and_then(Value::as_u64) {
            self.on_response(rid, packet, now);
            return;
        }
        let event = packet
            .get("event")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let data = packet.get("data");
        match event {
            "#publish" => self.on_publish(data, now),
            "#disconnect" => {
                let code = data
                    .and_then(|d| d.get("code"))
                    .and_then(Value::as_u64)
                    .unwrap_or(1006) as u16;
                self.io.close(code, "server #disconnect");
                self.after_close(code, now);
                return;
            }
            "#kickOut" => {
                let channel = data.and_then(|d| d.get("channel")).and_then(Value::as_str);
                if let (Some(urn), true) = (
                    self.session.urn.clone(),
                    channel == self.session.urn.as_deref(),
                ) {
                    self.subscribe(urn, now);
                }
            }
            // Push uses no SocketCluster auth tokens; nothing to store.
            "#setAuthToken" | "#removeAuthToken" => {}
            "" => self
                .io
                .protocol_error("socketcluster", "packet with neither rid nor event"),
            other => self
                .io
                .protocol_error("socketcluster", format!("event \"{other}\" ignored")),
        }
        // A server emit with a cid waits for an answer; give it an empty one.
        if let Some(cid) = packet.get("cid").and_then(Value::as_u64) {
            self.io.send(json!({"rid": cid}).to_string());
        }
    }

    fn drop_connection(&mut self, code: u16, now: Millis) {
        self.io.close(code, "");
        self.after_close(code, now);
    }

    /// The v9 client's rules: 4000/4001/1005 reconnect at once; 1000 and ≥ 4500 do not;
    /// anything else backs off.
    fn after_close(&mut self, code: u16, now: Millis) {
        self.timers.clear();
        self.calls.clear();
        self.session.outbox.requeue_in_flight();
        if self.phase == Phase::Ended {
            return;
        }
        if code == 1000 || code >= 4500 {
            self.phase = Phase::Idle;
            self.io.set_connection(ConnectionState::Offline);
            self.io.emit(ChatEvent::Error(ChatError::Server(format!(
                "the server closed the connection ({code})"
            ))));
            return;
        }
        let delay = if matches!(code, 4000 | 4001 | 1005) {
            0
        } else {
            self.backoff.next_delay()
        };
        self.phase = Phase::WaitingToReconnect;
        self.timers.set(Timer::Reconnect, now + delay);
        self.io.set_connection(ConnectionState::Reconnecting {
            attempt: self.backoff.attempt(),
            next_attempt_at: now + delay,
        });
    }
}

fn read_urn(error: Option<&Value>, data: Option<&Value>) -> Option<String> {
    let parse = |v: &Value| -> Option<String> {
        let obj = match v {
            Value::String(s) => serde_json::from_str::<Value>(s).ok()?,
            other => other.clone(),
        };
        obj.get("urn")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .map(str::to_string)
    };
    error.and_then(parse).or_else(|| data.and_then(parse))
}

fn quick_replies(payload: &Value) -> Vec<String> {
    let Some(list) = payload.get("quick_replies").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|r| {
            r.as_str()
                .map(str::to_string)
                .or_else(|| r.get("title").and_then(Value::as_str).map(str::to_string))
        })
        .filter(|r| !r.is_empty())
        .take(20)
        .collect()
}

fn attachments(payload: &Value) -> Vec<Attachment> {
    ["image", "media_url"]
        .iter()
        .filter_map(|k| payload.get(*k).and_then(Value::as_str))
        .filter_map(safe_url)
        .map(|url| Attachment {
            kind: if crate::text::is_image_url(&url) {
                AttachmentKind::Image
            } else {
                AttachmentKind::File
            },
            url,
        })
        .collect()
}

impl ChatBackend for PushBackend {
    fn start(&mut self, now: Millis) {
        if self.restored {
            for m in self.session.history.clone() {
                self.io.emit(ChatEvent::MessageAdded(m));
            }
            // Still unconfirmed from before the reload: shown as pending until sent.
            self.io.announce_pending(&self.session.outbox, now);
        }
        self.io.emit(ChatEvent::ConversationStatusChanged(
            ConversationStatus::Open,
        ));
        self.io.set_connection(ConnectionState::Connecting);
        self.connect(now);
    }

    fn handle_open(&mut self, now: Millis) {
        if self.phase != Phase::Connecting {
            return;
        }
        self.timers.cancel(Timer::Connect);
        self.phase = Phase::Handshaking;
        self.emit_call(
            "#handshake",
            json!({"authToken": null}),
            Call::Handshake,
            now,
        );
    }

    fn handle_text(&mut self, frame: &str, now: Millis) {
        if matches!(
            self.phase,
            Phase::Idle | Phase::Ended | Phase::WaitingToReconnect
        ) {
            return;
        }
        if frame == "#1" {
            self.io.send("#2".into());
            self.timers.set(Timer::Ping, now + self.ping_timeout);
            return;
        }
        let value = match parse_json(frame) {
            Ok(v) => v,
            Err(e) => return self.io.protocol_error("socketcluster frame", e),
        };
        match value {
            Value::Array(packets) => {
                for p in &packets {
                    if matches!(
                        self.phase,
                        Phase::WaitingToReconnect | Phase::Idle | Phase::Ended
                    ) {
                        break;
                    }
                    self.on_packet(p, now);
                }
            }
            Value::Object(_) => self.on_packet(&value, now),
            _ => self
                .io
                .protocol_error("socketcluster frame", "neither an object nor an array"),
        }
    }

    fn handle_close(&mut self, code: u16, _reason: &str, now: Millis) {
        if matches!(
            self.phase,
            Phase::Idle | Phase::Ended | Phase::WaitingToReconnect
        ) {
            return;
        }
        self.after_close(code, now);
    }

    fn handle_http_response(&mut self, _id: RequestId, _status: u16, _body: &str, _now: Millis) {}

    fn handle_timeout(&mut self, now: Millis) {
        for timer in self.timers.take_due(now) {
            match timer {
                Timer::Connect => self.drop_connection(4007, now),
                Timer::Ping => self.drop_connection(4000, now),
                Timer::Reconnect => self.connect(now),
                Timer::Ack(cid) => match self.calls.remove(&cid) {
                    // Push's own widget sends without asking for an answer, so a server may
                    // never acknowledge: the socket is still up and delivered it in order.
                    Some(Call::Send(client_id)) => self.confirm_sent(&client_id, now),
                    Some(_) => self.drop_connection(4003, now),
                    None => {}
                },
            }
        }
    }

    fn handle_network_hint(&mut self, online: bool, now: Millis) {
        if online && self.phase == Phase::WaitingToReconnect {
            self.timers.cancel(Timer::Reconnect);
            self.connect(now);
        }
    }

    fn send_message(&mut self, client_id: &str, text: &str, now: Millis) {
        if self.phase == Phase::Ended {
            self.io
                .emit(ChatEvent::Error(ChatError::SendFailed(client_id.into())));
            return;
        }
        self.session.outbox.requeue(client_id);
        self.session.outbox.push(client_id, text);
        if self.phase == Phase::Ready {
            self.flush_outbox(now);
        }
    }

    /// Push has no typing operation.
    fn set_typing(&mut self, _typing: bool, _now: Millis) {}

    /// Push has no read receipts.
    fn mark_read(&mut self, _now: Millis) {}

    /// Push registers anonymous users; a name has nowhere to go.
    fn set_visitor(&mut self, _profile: VisitorProfile, _now: Millis) {}

    fn end_chat(&mut self, _now: Millis) {
        // Push has no end operation: forget the urn so the next conversation registers anew.
        if self.phase != Phase::Idle && self.phase != Phase::WaitingToReconnect {
            self.io
                .send(json!({"event": "#disconnect", "data": {"code": 1000}}).to_string());
            self.io.close(1000, "");
        }
        self.phase = Phase::Ended;
        self.timers.clear();
        let mut outbox = std::mem::take(&mut self.session).outbox;
        self.io.fail_pending(&mut outbox);
        self.session.outbox = outbox.into_not_sent();
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
