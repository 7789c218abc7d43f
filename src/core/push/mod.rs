//! Push over SocketCluster v9 (protocol v1): `#handshake`, bare `#1`/`#2` ping/pong, emits
//! with `cid` answered by `{rid, data|error}`, `#subscribe`/`#publish`, `#disconnect`,
//! `#kickOut`, `#setAuthToken`, batched arrays.
//!
//! What the real Push server does, and what the widget does about it:
//! - `registerUser` (`{}` or `{id}`) answers `{"urn": …}` as a JSON string, Push-style in the
//!   error slot; the urn is persisted and reused after a reload.
//! - `sendMessageToChannel {text, userUrn}` is never acknowledged and has no id. A message is
//!   "sent" once the server has provably **read** it: SocketCluster runs over one ordered
//!   stream and the server handles a socket's frames in order, so the answer to any later emit
//!   proves every earlier frame was read. After each batch of sends the widget emits a barrier —
//!   `#subscribe` to the urn it is already subscribed to, which SocketCluster answers — and
//!   confirms everything sent before it when the answer comes (an acknowledgement, from a server
//!   that gives one, also confirms). A message whose socket dies before its barrier's answer is
//!   sent again: that round trip is the only window in which it can be doubled. A server that
//!   never answers `#subscribe` is used optimistically; sends are then confirmed by the next
//!   frame the server sends (which shows the connection was alive, not that the frame was read).
//! - Publishes reach only current subscribers: no mailbox, no history. The widget reconnects at
//!   once after a network failure, subscribes the moment the socket is up, and tells the visitor
//!   how long it could not receive. A server that answers `getHistory` fills the gap instead.
//! - Agent messages are courier bodies ([`payload`]); the parts of a split message share one
//!   `id` and are each shown once; a body that also arrives as `receivedMessageFromChannel` is
//!   shown once.

mod payload;

pub use payload::Part;

use super::backend::{ChatBackend, HttpRequest, RequestId, SocketCommand, VisitorProfile};
use super::backoff::{BackoffPolicy, ReconnectBackoff};
use super::event::{ChatError, ChatEvent, ConnectionState, ConversationStatus};
use super::io::{parse_json, Io, Timers};
use super::message::{Author, ChatMessage, DeliveryStatus, RichContent, Role};
use super::outbox::Outbox;
use super::url::{encode_component, to_websocket};
use super::Millis;
use crate::config::PushConfig;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Reconnecting: at once with a little jitter (0.1–0.5 s), then ×3 up to 30 s. Messages
/// published while no socket is subscribed are lost on the real server, so the first attempt
/// must not wait the v9 client's 10–20 s.
pub const DEFAULT_BACKOFF: BackoffPolicy = BackoffPolicy::Exponential {
    initial: 100,
    randomness: 400,
    multiplier: 3.0,
    max: 30_000,
};
/// How long the handshake and `registerUser` may take (the v9 client's ackTimeout).
pub const ACK_TIMEOUT: Millis = 10_000;
/// How long opening the socket may take (connectTimeout).
pub const CONNECT_TIMEOUT: Millis = 20_000;
/// Ping timeout until the handshake says otherwise.
pub const DEFAULT_PING_TIMEOUT: Millis = 20_000;
/// An unanswered `#subscribe` after this long: the server does not answer them.
pub const SUBSCRIBE_ANSWER_WAIT: Millis = 5_000;
/// A `getHistory` unanswered after this long: the server has none.
pub const HISTORY_WAIT: Millis = 5_000;
/// socketcluster-server's default ping interval: a page that heard nothing for longer
/// missed a ping, so its connection was not working.
pub const RELOAD_QUIET: Millis = 8_000;
/// A page normally subscribes within this long of starting; a slower start is a gap.
const SLOW_START: Millis = 2_000;
/// A frame published while the connection went away can be lost with it: the gap starts
/// this long before a close is noticed.
const IN_FLIGHT_MARGIN: Millis = 1_000;
/// A handshaken connection that lived this long was a success: the backoff starts over, so a
/// widget whose connection is dropped again and again still comes back at once each time
/// (socketcluster-client resets `connectAttempts` on every handshake, `_onSCOpen` in
/// lib/scsocket.js). Shorter-lived ones keep growing it: a server that accepts and drops at
/// once is not hammered.
const STABLE_CONNECTION: Millis = 1_000;
/// Messages kept in the snapshot, newest last.
pub const HISTORY_LIMIT: usize = 200;
/// Parts remembered for de-duplication.
const PART_MEMORY: usize = 400;
/// The outbox id of the init payload (never shown).
const INIT_ID: &str = "push-init-payload";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Connect,
    Ping,
    Ack(u64),
    Reconnect,
    Resubscribe,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Call {
    Handshake,
    Register,
    /// The subscription of this connection.
    Subscribe,
    /// A `#subscribe` sent only for its answer, which proves earlier frames were read.
    Barrier,
    /// `registerUser {id}` again (idempotent with a session id), for the same proof from a
    /// server that does not answer `#subscribe`.
    RegisterBarrier,
    Send(String),
    History,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Connecting,
    Handshaking,
    Registering,
    Ready,
    WaitingToReconnect,
    Ended,
}

/// What a Push session persists across page reloads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PushSnapshot {
    /// The registered user's urn.
    pub urn: Option<String>,
    /// Unconfirmed visitor messages, and the ones given up on.
    pub outbox: Outbox,
    /// The conversation so far, in the order the visitor saw it (Push has no history API).
    pub history: Vec<ChatMessage>,
    /// Counter for local ids.
    pub next_local_id: u64,
    /// The token from `#setAuthToken`, replayed in the next `#handshake`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<Value>,
    /// The init payload was sent for this urn.
    #[serde(default)]
    pub init_sent: bool,
    /// Last time anything arrived while subscribed (a reload's gap starts there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alive_at: Option<Millis>,
    /// Parts seen per delivery path (`path|id|fingerprint` → count), for de-duplication.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<(String, u32)>,
    /// Whether this server answers `#subscribe`, once learned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe_answers: Option<bool>,
    /// Whether this server answers `getHistory`, once learned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_answers: Option<bool>,
    /// Since when nothing could be received, until the visitor is told or the gap is filled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_since: Option<Millis>,
}

/// The Push backend.
#[derive(Debug)]
pub struct PushBackend {
    url: String,
    session_id: Option<String>,
    init_payload: Option<String>,
    io: Io,
    timers: Timers<Timer>,
    backoff: ReconnectBackoff,
    phase: Phase,
    next_cid: u64,
    calls: HashMap<u64, Call>,
    ping_timeout: Millis,
    session: PushSnapshot,
    restored: bool,
    /// Sends on this connection not yet proven read: (cid, outbox id, when sent).
    in_flight: Vec<(u64, String, Millis)>,
    /// When the current connection's handshake went out.
    handshake_sent_at: Millis,
    /// When this connection's subscription went out, and when its last frame arrived: a
    /// `#subscribe` is only known to go unanswered on a connection that still carries frames.
    subscribe_sent_at: Millis,
    last_frame_at: Millis,
    /// The shortest handshake round trip seen: a frame that arrives at least this long after
    /// a send was most likely sent by the server after it read the send.
    round_trip: Option<Millis>,
    /// A subscription is in force on this connection.
    subscribed: bool,
    /// The gap a `getHistory` in flight is to fill: (from, to).
    history_gap: Option<(Millis, Millis)>,
    /// When the current connection's handshake succeeded.
    connected_at: Option<Millis>,
    /// After a page load of a saved session: the last time the old page heard anything. The
    /// gap starts somewhere after it (the old page stayed subscribed until it unloaded).
    reload_gap: Option<Millis>,
    /// When this page's backend started.
    started_at: Millis,
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
            session_id: config.session_id.clone(),
            init_payload: config.init_payload.clone(),
            io: Io::default(),
            timers: Timers::default(),
            backoff: ReconnectBackoff::new(policy, seed),
            phase: Phase::Idle,
            next_cid: 0,
            calls: HashMap::new(),
            ping_timeout: DEFAULT_PING_TIMEOUT,
            restored: session.is_some(),
            session: session.unwrap_or_default(),
            in_flight: Vec::new(),
            handshake_sent_at: 0,
            subscribe_sent_at: 0,
            last_frame_at: 0,
            round_trip: None,
            subscribed: false,
            history_gap: None,
            connected_at: None,
            reload_gap: None,
            started_at: 0,
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
        self.in_flight.clear();
        self.subscribed = false;
        self.connected_at = None;
        self.io.open(self.url.clone(), &[]);
        self.timers.set(Timer::Connect, now + CONNECT_TIMEOUT);
    }

    fn emit_call(&mut self, event: &str, data: Value, call: Call, wait: Option<Millis>) -> u64 {
        self.next_cid += 1;
        let cid = self.next_cid;
        self.io
            .send(json!({"event": event, "data": data, "cid": cid}).to_string());
        self.calls.insert(cid, call);
        if let Some(at) = wait {
            self.timers.set(Timer::Ack(cid), at);
        }
        cid
    }

    fn after_handshake(&mut self, now: Millis) {
        match self.session.urn.clone() {
            Some(urn) => self.subscribe(urn, now),
            None => {
                self.phase = Phase::Registering;
                let data = match &self.session_id {
                    Some(id) => json!({"id": id}),
                    None => json!({}),
                };
                self.emit_call(
                    "registerUser",
                    data,
                    Call::Register,
                    Some(now + ACK_TIMEOUT),
                );
            }
        }
    }

    /// Subscribes and, without waiting for an answer some servers never give, starts working:
    /// the server reads the subscription before anything sent after it.
    fn subscribe(&mut self, urn: String, now: Millis) {
        self.phase = Phase::Ready;
        self.subscribed = true;
        self.subscribe_sent_at = now;
        self.emit_call(
            "#subscribe",
            json!({"channel": urn}),
            Call::Subscribe,
            Some(now + SUBSCRIBE_ANSWER_WAIT),
        );
        self.io.set_connection(ConnectionState::Online);
        self.fill_gap(now);
        self.queue_init();
        self.flush_outbox(now);
    }

    /// After a time without a subscription: fetch what was missed, or say it may be missing.
    fn fill_gap(&mut self, now: Millis) {
        // After a reload, within one ping interval of the last frame the old page heard, the
        // gap is most likely the reload itself (the old page stayed subscribed, silently).
        let (since, threshold) = match (self.session.offline_since, self.reload_gap.take()) {
            // Any gap can lose a reply: the real server keeps nothing for later.
            (Some(t), _) => (t, 0),
            // A server with history costs one request to be sure; and a page that took long
            // to subscribe was certainly not receiving meanwhile.
            (None, Some(t))
                if self.session.history_answers == Some(true)
                    || now.saturating_sub(self.started_at) >= SLOW_START =>
            {
                (t, 0)
            }
            (None, Some(t)) => (t, RELOAD_QUIET),
            (None, None) => return,
        };
        if now.saturating_sub(since) < threshold || (threshold == 0 && now < since) {
            self.session.offline_since = None;
            return;
        }
        // Kept in the snapshot until resolved: a reload meanwhile still knows the gap.
        self.session.offline_since = Some(since);
        if self.session.history_answers == Some(false) {
            return self.tell_missed(since, now);
        }
        let Some(urn) = self.session.urn.clone() else {
            return;
        };
        self.history_gap = Some((since, now));
        self.emit_call(
            "getHistory",
            json!({"urn": urn}),
            Call::History,
            Some(now + HISTORY_WAIT),
        );
    }

    fn tell_missed(&mut self, since: Millis, until: Millis) {
        self.session.offline_since = None;
        self.session.next_local_id += 1;
        let seconds = (until.saturating_sub(since) + 500) / 1000;
        let message = ChatMessage {
            id: format!("push-offline-{}", self.session.next_local_id),
            client_id: None,
            author: Author::new(Role::System),
            text: String::new(),
            sent_at: until as i64,
            status: DeliveryStatus::Sent,
            quick_replies: Vec::new(),
            attachments: Vec::new(),
            rich: Some(RichContent::MissedWhileOffline { seconds }),
            seq: None,
        };
        self.remember(message.clone());
        self.io.emit(ChatEvent::MessageAdded(message));
    }

    /// Queues the init payload of a new session (sent first, never shown).
    fn queue_init(&mut self) {
        let (Some(text), false) = (self.init_payload.clone(), self.session.init_sent) else {
            return;
        };
        if !self.session.outbox.contains(INIT_ID) {
            self.session.outbox.push(INIT_ID, &text);
        }
    }

    fn flush_outbox(&mut self, now: Millis) {
        let Some(urn) = self.session.urn.clone() else {
            return;
        };
        let unsent = self.session.outbox.take_unsent();
        if unsent.is_empty() {
            return;
        }
        // The init payload goes first: it starts the flow the visitor's messages belong to.
        let (init, rest): (Vec<_>, Vec<_>) =
            unsent.into_iter().partition(|i| i.client_id == INIT_ID);
        for item in init.into_iter().chain(rest) {
            // A callback is asked for: a server that acknowledges confirms at once; one that
            // does not (Push) leaves it to the barrier.
            let data = json!({"text": item.text, "userUrn": urn});
            let cid = self.emit_call(
                "sendMessageToChannel",
                data,
                Call::Send(item.client_id.clone()),
                None,
            );
            self.in_flight.push((cid, item.client_id, now));
        }
        self.barrier(now);
    }

    /// Emits a frame the server answers, to learn that everything before it was read.
    fn barrier(&mut self, now: Millis) {
        let Some(urn) = self.session.urn.clone() else {
            return;
        };
        let answers = self.session.subscribe_answers;
        if answers != Some(true) {
            // Push always answers registerUser; with a session id it is idempotent.
            if let Some(id) = self.session_id.clone() {
                self.emit_call(
                    "registerUser",
                    json!({"id": id}),
                    Call::RegisterBarrier,
                    Some(now + ACK_TIMEOUT),
                );
            }
        }
        if answers == Some(false) {
            return; // Without a session id, the next frame confirms instead (see `on_frame`).
        }
        // Not answered in time on a server that answers: the connection is dead.
        self.emit_call(
            "#subscribe",
            json!({"channel": urn}),
            Call::Barrier,
            Some(now + ACK_TIMEOUT),
        );
    }

    /// Every send emitted before `cid` was read by the server.
    fn confirm_through(&mut self, cid: u64, now: Millis) {
        let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.in_flight)
            .into_iter()
            .partition(|(c, _, _)| *c <= cid);
        self.in_flight = rest;
        for (_, client_id, _) in done {
            self.confirm_sent(&client_id, now);
        }
    }

    fn remember(&mut self, message: ChatMessage) {
        self.remember_after(message, None);
    }

    /// Keeps `message`, placed right after the message `after` when that is kept (a part a
    /// history answer filled in goes where the server has it), else last; the oldest go first.
    fn remember_after(&mut self, message: ChatMessage, after: Option<&str>) {
        let history = &mut self.session.history;
        if let Some(existing) = history.iter_mut().find(|m| m.id == message.id) {
            *existing = message;
        } else {
            let at = after
                .and_then(|id| history.iter().position(|m| m.id == id))
                .map_or(history.len(), |i| i + 1);
            history.insert(at, message);
        }
        let excess = history.len().saturating_sub(HISTORY_LIMIT);
        history.drain(..excess);
    }

    fn set_history_status(&mut self, client_id: &str, status: DeliveryStatus) {
        if let Some(m) = self
            .session
            .history
            .iter_mut()
            .find(|m| m.client_id.as_deref() == Some(client_id))
        {
            m.status = status;
        }
    }

    fn confirm_sent(&mut self, client_id: &str, _now: Millis) {
        let Some(item) = self.session.outbox.confirm(client_id) else {
            return;
        };
        if item.client_id == INIT_ID {
            self.session.init_sent = true;
            return;
        }
        self.set_history_status(client_id, DeliveryStatus::Sent);
        let sent_at = self
            .session
            .history
            .iter()
            .find(|m| m.client_id.as_deref() == Some(client_id))
            .map_or(0, |m| m.sent_at);
        let message =
            ChatMessage::visitor(&item.client_id, item.text, sent_at, DeliveryStatus::Sent);
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
                if data.and_then(|d| d.get("isAuthenticated")) == Some(&Value::Bool(false))
                    && self.session.auth_token.is_some()
                {
                    self.session.auth_token = None; // The server no longer knows it.
                }
                self.connected_at = Some(now);
                let rtt = now.saturating_sub(self.handshake_sent_at);
                self.round_trip = Some(self.round_trip.map_or(rtt, |r| r.min(rtt)));
                self.timers.set(Timer::Ping, now + self.ping_timeout);
                self.after_handshake(now);
            }
            Call::Register => match read_urn(error, data) {
                Some(urn) => {
                    self.session.urn = Some(urn.clone());
                    self.session.init_sent = false;
                    self.subscribe(urn, now);
                }
                None => {
                    self.io.emit(ChatEvent::Error(ChatError::Server(format!(
                        "registerUser answered without a urn: {packet}"
                    ))));
                    self.drop_connection(4003, now);
                }
            },
            Call::Subscribe | Call::Barrier => {
                self.session.subscribe_answers = Some(true);
                self.confirm_through(rid, now);
                if let Some(e) = error {
                    self.io.emit(ChatEvent::Error(ChatError::Server(format!(
                        "subscribe failed: {e}"
                    ))));
                    self.drop_connection(4006, now);
                }
            }
            Call::RegisterBarrier => self.confirm_through(rid, now),
            Call::Send(client_id) => {
                // Acknowledged (by a server that does): read, and so was all before it.
                self.confirm_through(rid, now);
                if let Some(e) = error {
                    self.io.protocol_error("sendMessageToChannel", e);
                    if self.session.outbox.give_up(&client_id).is_some() {
                        self.set_history_status(&client_id, DeliveryStatus::Failed);
                        self.io
                            .emit(ChatEvent::Error(ChatError::SendFailed(client_id)));
                    }
                }
            }
            Call::History => {
                self.confirm_through(rid, now);
                let gap = self.history_gap.take();
                match data.and_then(Value::as_array).filter(|_| error.is_none()) {
                    Some(list) => {
                        self.session.history_answers = Some(true);
                        self.session.offline_since = None;
                        let list = list.clone();
                        self.apply_payloads("history", &list, now);
                    }
                    None => {
                        self.session.history_answers = Some(false);
                        if let Some((from, to)) = gap {
                            self.tell_missed(from, to);
                        }
                    }
                }
            }
        }
    }

    /// Shows agent bodies that arrived on `path` (`publish`, `event`, `history`), each part
    /// once whatever path brought it.
    fn apply_payloads(&mut self, path: &str, payloads: &[Value], now: Millis) {
        let Some(urn) = self.session.urn.clone() else {
            return;
        };
        // (part, transcript id) for each body, in order.
        let mut local: HashMap<String, u32> = HashMap::new();
        let mut parts: Vec<(Part, String)> = Vec::new();
        for payload in payloads {
            let Some(part) = Part::read(payload, &urn) else {
                continue;
            };
            let key = format!(
                "{}|{}",
                part.id.clone().unwrap_or_else(|| "-".into()),
                part.fingerprint()
            );
            // Identical parts of one message are told apart by their rank: within a history
            // answer (the whole conversation) by counting there, on a live path by counting
            // what that path brought before.
            let rank = if path == "history" {
                let n = local.entry(key).or_insert(0);
                *n += 1;
                *n - 1
            } else {
                self.count_part(path, &key)
            };
            let base = match &part.id {
                Some(id) => format!("push-{id}-{}", part.fingerprint()),
                None => format!("push-h{}", part.fingerprint()),
            };
            let id = if rank == 0 {
                base
            } else {
                format!("{base}-{rank}")
            };
            parts.push((part, id));
        }
        // A history answer is the whole conversation: what comes before the oldest part still
        // shown was trimmed from the snapshot, not missed.
        let skip = if path == "history" {
            parts
                .iter()
                .position(|(_, id)| self.session.history.iter().any(|m| m.id == *id))
                .unwrap_or(0)
        } else {
            0
        };
        // What a history answer fills in is kept in the server's order, after the part before
        // it there: kept in arrival order, the oldest kept would no longer be the oldest sent,
        // trimming would drop parts in the middle, and the next answer would bring them back
        // as new, after newer ones.
        let mut previous: Option<String> = None;
        for (part, id) in parts.into_iter().skip(skip) {
            if self.session.history.iter().any(|m| m.id == id) {
                previous = Some(id);
                continue; // Already shown: the other path, or the history repeating it.
            }
            let message = part.into_message(id.clone(), now);
            let after = previous.as_deref().filter(|_| path == "history");
            self.remember_after(message.clone(), after);
            self.io.emit(ChatEvent::MessageAdded(message));
            previous = Some(id);
        }
    }

    /// How many times this part came on this path before.
    fn count_part(&mut self, path: &str, key: &str) -> u32 {
        let full = format!("{path}|{key}");
        if let Some(entry) = self.session.parts.iter_mut().find(|(k, _)| *k == full) {
            entry.1 += 1;
            return entry.1 - 1;
        }
        self.session.parts.push((full, 1));
        let excess = self.session.parts.len().saturating_sub(PART_MEMORY);
        self.session.parts.drain(..excess);
        0
    }

    fn on_publish(&mut self, data: Option<&Value>, now: Millis) {
        let Some(data) = data else { return };
        let channel = data.get("channel").and_then(Value::as_str);
        if channel.is_none() || channel != self.session.urn.as_deref() {
            return; // Not our channel.
        }
        let payload = data.get("data").cloned().unwrap_or(Value::Null);
        self.apply_payloads("publish", &[payload], now);
    }

    /// Any frame from the server: the connection is alive.
    fn on_frame(&mut self, now: Millis) {
        self.last_frame_at = now;
        if self.subscribed {
            self.session.alive_at = Some(now);
        }
        if self.session.subscribe_answers == Some(false)
            && self.session_id.is_none()
            && !self.in_flight.is_empty()
        {
            // No answer will ever prove a read. The best sign: a frame that left the server
            // after our send could have reached it — one round trip after the send.
            self.confirm_by_frame(now);
        }
    }

    /// Confirms the sends a frame that arrived at `self.last_frame_at` came a round trip after.
    fn confirm_by_frame(&mut self, now: Millis) {
        let rtt = self.round_trip.unwrap_or(ACK_TIMEOUT);
        let heard = self.last_frame_at;
        let last = self
            .in_flight
            .iter()
            .filter(|(_, _, at)| at + rtt <= heard)
            .map(|(c, _, _)| *c)
            .max();
        if let Some(cid) = last {
            self.confirm_through(cid, now);
        }
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
            // Some Push servers also emit the body directly.
            "receivedMessageFromChannel" => {
                if let Some(d) = data {
                    self.apply_payloads("event", std::slice::from_ref(d), now);
                }
            }
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
                if channel.is_some() && channel == self.session.urn.as_deref() {
                    // The v9 client does not re-subscribe by itself after a kick-out; neither
                    // does the widget at once (that could loop): it tries again after a backoff.
                    self.subscribed = false;
                    self.session.offline_since.get_or_insert(now);
                    self.io.emit(ChatEvent::Error(ChatError::Server(
                        "the server stopped this chat's subscription".into(),
                    )));
                    let delay = self.backoff.next_delay();
                    self.timers.set(Timer::Resubscribe, now + delay);
                }
            }
            "#setAuthToken" => {
                if let Some(token) = data.and_then(|d| d.get("token")) {
                    self.session.auth_token = Some(token.clone());
                }
            }
            "#removeAuthToken" => self.session.auth_token = None,
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

    /// 1000 and ≥ 4500 do not reconnect (the v9 client's rule); anything else reconnects, at
    /// once the first time.
    fn after_close(&mut self, code: u16, now: Millis) {
        self.timers.clear();
        self.calls.clear();
        // What the server may not have read goes again; what it provably read was confirmed.
        self.in_flight.clear();
        self.session.outbox.requeue_in_flight();
        if self.subscribed && self.session.offline_since.is_none() {
            // A close is noticed at once, a silent connection only by its timeout: then the
            // gap goes back to the last frame heard.
            let heard = self.session.alive_at.unwrap_or(now).min(now);
            let start = match code {
                4000 | 4003 => heard,
                _ => now.saturating_sub(IN_FLIGHT_MARGIN).max(heard),
            };
            self.session.offline_since = Some(start);
        }
        self.subscribed = false;
        if self
            .connected_at
            .is_some_and(|t| now.saturating_sub(t) >= STABLE_CONNECTION)
        {
            self.backoff.reset();
        }
        self.connected_at = None;
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
        let delay = self.backoff.next_delay();
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

impl ChatBackend for PushBackend {
    fn start(&mut self, now: Millis) {
        self.started_at = now;
        if self.restored {
            // The conversation as the visitor saw it, with each message's current state.
            for mut m in self.session.history.clone() {
                if let Some(id) = m.client_id.as_deref() {
                    if self.session.outbox.contains(id) {
                        m.status = DeliveryStatus::Pending;
                    } else if self
                        .session
                        .outbox
                        .not_sent()
                        .iter()
                        .any(|n| n.client_id == id)
                    {
                        m.status = DeliveryStatus::Failed;
                    }
                }
                self.io.emit(ChatEvent::MessageAdded(m));
            }
            // From older snapshots: waiting messages not in the history.
            let mut missing = Outbox::default();
            for item in self.session.outbox.items() {
                let shown = self
                    .session
                    .history
                    .iter()
                    .any(|m| m.client_id.as_deref() == Some(item.client_id.as_str()));
                if !shown && item.client_id != INIT_ID {
                    missing.push(&item.client_id, &item.text);
                }
            }
            self.io.announce_pending(&missing, now);
            if self.session.urn.is_some() && self.session.offline_since.is_none() {
                self.reload_gap = Some(self.session.alive_at.unwrap_or(now).min(now));
            }
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
        let token = self.session.auth_token.clone().unwrap_or(Value::Null);
        self.handshake_sent_at = now;
        self.emit_call(
            "#handshake",
            json!({"authToken": token}),
            Call::Handshake,
            Some(now + ACK_TIMEOUT),
        );
    }

    fn handle_text(&mut self, frame: &str, now: Millis) {
        if matches!(
            self.phase,
            Phase::Idle | Phase::Ended | Phase::WaitingToReconnect | Phase::Connecting
        ) {
            return;
        }
        self.timers.set(Timer::Ping, now + self.ping_timeout);
        if frame == "#1" {
            self.io.send("#2".into());
            self.on_frame(now);
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
        if !matches!(
            self.phase,
            Phase::WaitingToReconnect | Phase::Idle | Phase::Ended
        ) {
            self.on_frame(now);
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
                Timer::Resubscribe => {
                    if let (Phase::Ready, Some(urn)) = (self.phase, self.session.urn.clone()) {
                        self.subscribe(urn, now);
                    }
                }
                Timer::Ack(cid) => match self.calls.remove(&cid) {
                    Some(Call::Subscribe) if self.session.subscribe_answers == Some(true) => {
                        // This server answers them: the connection is dead.
                        self.drop_connection(4003, now);
                    }
                    Some(Call::Subscribe) => {
                        let rtt = self.round_trip.unwrap_or(ACK_TIMEOUT);
                        if self.session.subscribe_answers.is_none()
                            && self.last_frame_at < self.subscribe_sent_at + rtt
                        {
                            // Nothing came back since: a dead connection, not a server that
                            // does not answer. Keep waiting (the ping timeout decides).
                            self.calls.insert(cid, Call::Subscribe);
                            self.timers
                                .set(Timer::Ack(cid), now + SUBSCRIBE_ANSWER_WAIT);
                        } else if self.session.subscribe_answers.is_none() {
                            // This server never answers #subscribe: carry on without barriers;
                            // the next frame confirms what was sent.
                            self.session.subscribe_answers = Some(false);
                            self.calls.retain(|_, c| *c != Call::Barrier);
                            self.barrier(now);
                            if self.session_id.is_none() {
                                self.confirm_by_frame(now);
                            }
                        }
                    }
                    Some(Call::Barrier) => {
                        if self.session.subscribe_answers == Some(true) {
                            self.drop_connection(4003, now);
                        }
                    }
                    Some(Call::RegisterBarrier) => self.drop_connection(4003, now),
                    Some(Call::History) => {
                        self.session.history_answers = Some(false);
                        if let Some((from, to)) = self.history_gap.take() {
                            self.tell_missed(from, to);
                        }
                    }
                    Some(Call::Send(_)) | None => {}
                    Some(Call::Handshake | Call::Register) => self.drop_connection(4003, now),
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
        // Kept where the visitor wrote it: a reload shows it in the same place.
        let known = self
            .session
            .history
            .iter()
            .any(|m| m.client_id.as_deref() == Some(client_id));
        if known {
            self.set_history_status(client_id, DeliveryStatus::Pending);
        } else {
            self.remember(ChatMessage::visitor(
                client_id,
                text,
                now as i64,
                DeliveryStatus::Pending,
            ));
        }
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
        outbox.confirm(INIT_ID); // Belongs to the old session; the next one sends its own.
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
