//! Genesys GMS Chat V2 over CometD (Bayeux 1.0 on a WebSocket or HTTP long-polling).
//!
//! Chat V2 operations are published on `/service/chatV2/{service}` (listened to without
//! `/meta/subscribe`, as the GMS sample does); every data message on it is a chat response
//! `{statusCode, secureKey, userId, alias, chatId, chatEnded, nextPosition, messages[]}`.
//!
//! Delivery, exactly once and in order, without any id the server keeps for us:
//! - `sendMessage` carries no client id, so a visitor message is confirmed by **position**: one
//!   message is sent at a time, remembering the highest transcript index applied then; the
//!   first `Client` `Message` event after that index is it. Text is never compared (a server
//!   may normalise it, and the visitor may send "ok" twice).
//! - When its fate is unknown (connection lost, `statusCode` 1, no event in time), it is
//!   looked up: `requestNotifications` from before the send position, at least
//!   [`LOOKUP_GRACE`] after the attempt. The answer is the whole transcript after that position;
//!   if it lacks the message, the message is provably absent and is sent again.
//! - Events are applied strictly by `index` (see [`order`]); `statusCode` 2 or `chatEnded`
//!   ends the chat with unsent messages shown as not sent; a chat not heard from for longer
//!   than `restore_timeout` is not restored after a page load.

mod bayeux;
pub mod order;
mod wire;

pub use bayeux::{DEFAULT_BACKOFF, DEFAULT_CONNECT_TIMEOUT, MAX_NETWORK_DELAY};

use super::backend::{ChatBackend, HttpRequest, RequestId, SocketCommand, VisitorProfile};
use super::backoff::{BackoffPolicy, ReconnectBackoff};
use super::event::{ChatError, ChatEvent, ConnectionState, ConversationStatus};
use super::io::{Io, Timers};
use super::outbox::Outbox;
use super::Millis;
use crate::config::GmsConfig;
use bayeux::{Bayeux, BayeuxEvent};
use order::EventOrder;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use wire::Decoded;

/// How long after a send attempt a lookup may prove the message absent: a request still on
/// its way (on a socket that just died, or a page that just reloaded) must have been
/// processed first.
pub const LOOKUP_GRACE: Millis = 3_000;
/// A sent message whose event has not come by then is looked up.
pub const CONFIRM_TIMEOUT: Millis = 20_000;
/// An event waiting this long for a gap to fill makes the widget ask for the transcript.
pub const GAP_WAIT: Millis = 1_500;
/// A message proven absent this many times is reported as failed instead of sent again.
const MAX_ATTEMPTS: u32 = 4;
/// Retrying after `statusCode` 1: 1 s doubling up to 30 s.
const RETRY_BACKOFF: BackoffPolicy = BackoffPolicy::Exponential {
    initial: 1_000,
    randomness: 500,
    multiplier: 2.0,
    max: 30_000,
};
/// The visitor ended the chat: if the server's answer does not come, end it here anyway.
const END_FALLBACK: Millis = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// Retry after `statusCode` 1 (or a failed publish).
    Retry,
    /// Send the due lookup.
    Lookup,
    /// The lookup was not answered: ask again.
    LookupTimeout,
    /// An event has waited too long for a gap.
    Gap,
    /// The message in flight was not confirmed in time.
    Confirm,
    /// The visitor's `disconnect` was not answered.
    EndFallback,
    /// `requestChat` was not answered: ask again.
    ChatRequest,
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
    /// Unconfirmed visitor messages; only the oldest may have been attempted.
    pub outbox: Outbox,
    /// When the chat server was last heard from (client clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alive_at: Option<Millis>,
    /// Attempts of the oldest message proven absent so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub absent_attempts: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A `requestNotifications` asked to learn the whole transcript after a position.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Lookup {
    Idle,
    /// Waiting for its timer (the grace after an attempt) or for the connection.
    Due,
    Sent {
        /// Its Bayeux id (a server that echoes it makes the answer unmistakable).
        id: String,
        sent_at: Millis,
        /// Connection it went out on: an answer is proof only on the same one.
        link: u32,
    },
}

/// The GMS Chat V2 backend.
#[derive(Debug)]
pub struct GmsBackend {
    channel: String,
    subject: Option<String>,
    user_data: Map<String, Value>,
    restore_timeout: Millis,
    visitor: VisitorProfile,
    io: Io,
    bayeux: Bayeux,
    timers: Timers<Timer>,
    retry: ReconnectBackoff,
    order: EventOrder,
    /// Counts connections (each `Connected` after `Lost`).
    link: u32,
    /// `requestChat` went out and its answer has not come.
    chat_requested: bool,
    lookup: Lookup,
    /// The message on its way, not yet confirmed by its event.
    sending: Option<String>,
    /// Waiting for the retry after `statusCode` 1.
    busy: bool,
    /// The visitor ended the chat and the answer is awaited.
    ending: bool,
    ended: bool,
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
            channel: format!("/service/chatV2/{}", config.service),
            subject: config.subject.clone(),
            user_data: config.user_data.clone().unwrap_or_default(),
            restore_timeout: config.restore_timeout_ms,
            visitor: VisitorProfile::default(),
            io: Io::default(),
            bayeux: Bayeux::new(&config.cometd_url, config.transport, policy, seed),
            timers: Timers::default(),
            retry: ReconnectBackoff::new(RETRY_BACKOFF, seed.rotate_left(17)),
            order: EventOrder::default(),
            link: 0,
            chat_requested: false,
            lookup: Lookup::Idle,
            sending: None,
            busy: false,
            ending: false,
            ended: false,
            snapshot: snapshot
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default(),
        }
    }

    /// The chat session, once started.
    pub fn session(&self) -> Option<&GmsSession> {
        self.snapshot.session.as_ref()
    }

    /// Whether long-polling carries the chat now.
    pub fn is_long_polling(&self) -> bool {
        self.bayeux.is_long_polling()
    }

    // ---- operations ----

    fn operation(&mut self, operation: &str, mut params: Map<String, Value>) -> String {
        params.insert("operation".into(), operation.into());
        if let Some(s) = &self.snapshot.session {
            params.insert("secureKey".into(), s.secure_key.clone().into());
            params.insert("userId".into(), s.user_id.clone().into());
            params.insert("alias".into(), s.alias.clone().into());
        }
        let mut message = Map::new();
        message.insert("channel".into(), self.channel.clone().into());
        message.insert("data".into(), Value::Object(params));
        self.bayeux.publish(&mut self.io, Value::Object(message))
    }

    fn request_chat(&mut self, now: Millis) {
        self.chat_requested = true;
        // A server that acted but whose answer went missing leaves a chat nobody can reach
        // (its secureKey never came); waiting forever would leave the visitor with nothing.
        self.timers.set(Timer::ChatRequest, now + CONFIRM_TIMEOUT);
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

    /// Whether chat operations can go out now.
    fn can_operate(&self) -> bool {
        self.bayeux.is_connected() && !self.ended && !self.busy
    }

    /// Starts the chat, resumes it, or sends the next message: whatever is due.
    fn advance(&mut self, now: Millis) {
        if !self.can_operate() {
            return;
        }
        if self.snapshot.session.is_none() {
            if !self.chat_requested && !self.snapshot.outbox.is_empty() {
                self.request_chat(now);
            }
            return;
        }
        if self.lookup == Lookup::Due && !self.timers.is_set(Timer::Lookup) {
            return self.send_lookup(now);
        }
        if self.lookup != Lookup::Idle || self.sending.is_some() {
            return;
        }
        let Some(head) = self.snapshot.outbox.head().cloned() else {
            return;
        };
        if head.sent_after.is_some() {
            // Its fate is unknown: find out before sending it again.
            return self.schedule_lookup(now);
        }
        let mut p = Map::new();
        p.insert("message".into(), head.text.clone().into());
        self.operation("sendMessage", p);
        self.snapshot
            .outbox
            .mark_sent(&head.client_id, self.order.applied(), now);
        self.sending = Some(head.client_id);
        self.timers.set(Timer::Confirm, now + CONFIRM_TIMEOUT);
    }

    /// Asks for the transcript once the oldest message's last attempt is old enough.
    fn schedule_lookup(&mut self, now: Millis) {
        if matches!(self.lookup, Lookup::Sent { .. }) {
            return;
        }
        self.lookup = Lookup::Due;
        let ready_at = self
            .snapshot
            .outbox
            .head()
            .and_then(|h| h.last_attempt)
            .map_or(now, |t| (t + LOOKUP_GRACE).max(now));
        if ready_at > now {
            self.timers.set(Timer::Lookup, ready_at);
        } else {
            self.timers.cancel(Timer::Lookup);
            self.advance(now);
        }
    }

    fn send_lookup(&mut self, now: Millis) {
        let mut p = Map::new();
        p.insert(
            "transcriptPosition".into(),
            self.order.lookup_position().into(),
        );
        let id = self.operation("requestNotifications", p);
        self.lookup = Lookup::Sent {
            id,
            sent_at: now,
            link: self.link,
        };
        self.timers
            .set(Timer::LookupTimeout, now + 2 * MAX_NETWORK_DELAY);
    }

    // ---- Bayeux events ----

    fn drain_bayeux(&mut self, now: Millis) {
        while let Some(event) = self.bayeux.poll_event() {
            if self.ended {
                continue; // Only the /meta/disconnect reply still mattered, to Bayeux.
            }
            match event {
                BayeuxEvent::Connected => self.on_connected(now),
                BayeuxEvent::Lost => self.on_lost(now),
                BayeuxEvent::Refused(reason) => {
                    // No retrying, no handshaking (advice "none"): what waits cannot be sent.
                    self.io
                        .emit(ChatEvent::Error(ChatError::Unauthorized(reason)));
                    self.io.fail_pending(&mut self.snapshot.outbox);
                    self.io.set_connection(ConnectionState::Offline);
                }
                BayeuxEvent::Message(msg) => self.on_message(&msg, now),
            }
        }
        if let Some((attempt, at)) = self.bayeux.reconnecting() {
            if !self.ended {
                self.io.set_connection(ConnectionState::Reconnecting {
                    attempt,
                    next_attempt_at: at,
                });
            }
        }
        if self.bayeux.is_connected() && self.snapshot.session.is_some() {
            self.snapshot.alive_at = Some(now);
        }
    }

    fn on_connected(&mut self, now: Millis) {
        if self.ended {
            return;
        }
        self.link += 1;
        if !self.busy {
            self.io.set_connection(ConnectionState::Online);
        }
        if self.snapshot.session.is_some() {
            // Notifications follow the client that asks: ask, and learn what was missed.
            self.schedule_lookup(now);
        } else if self.chat_requested {
            // Its answer was lost with the connection: ask again.
            self.chat_requested = false;
        }
        self.advance(now);
    }

    fn on_lost(&mut self, now: Millis) {
        self.sending = None;
        if matches!(self.lookup, Lookup::Sent { .. }) {
            self.lookup = Lookup::Due;
        }
        self.timers.cancel(Timer::LookupTimeout);
        self.timers.cancel(Timer::Confirm);
        if self.ending {
            self.end_locally(now);
        }
    }

    fn on_message(&mut self, msg: &Value, now: Millis) {
        if msg.get("channel").and_then(Value::as_str) != Some(self.channel.as_str()) {
            let channel = msg.get("channel").and_then(Value::as_str).unwrap_or("?");
            return self
                .io
                .protocol_error("bayeux", format!("message on {channel} ignored"));
        }
        match msg.get("data") {
            Some(data) if data.is_object() => self.on_chat_response(msg, data, now),
            Some(_) => self
                .io
                .protocol_error("chat response", "data is not an object"),
            None if msg.get("successful").and_then(Value::as_bool) == Some(false) => {
                // A publish refused by the Bayeux layer: nothing of it happened.
                let error = msg.get("error").and_then(Value::as_str).unwrap_or_default();
                self.io
                    .protocol_error("publish", format!("refused: {error}"));
                if error.starts_with("402:") || error.starts_with("401:") {
                    self.bayeux.drop_connection(&mut self.io, now);
                } else {
                    self.retry_later(now);
                }
            }
            None => {} // A publish acknowledgement.
        }
    }

    fn on_chat_response(&mut self, msg: &Value, data: &Value, now: Millis) {
        let field = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
        if let (Some(session), Some(chat_id)) = (&self.snapshot.session, field("chatId")) {
            if !chat_id.is_empty() && chat_id != session.chat_id {
                return self.not_our_chat(data, chat_id);
            }
        }
        let status = match data.get("statusCode") {
            None => 0,
            Some(Value::String(s)) => s.trim().parse().unwrap_or(-1),
            Some(v) => v.as_i64().unwrap_or(-1),
        };
        match status {
            0 => {}
            1 => {
                let detail = wire::error_detail(data, status);
                self.io
                    .protocol_error("chat server", format!("try again later: {detail}"));
                return self.retry_later(now);
            }
            _ => {
                // 2 (or anything unknown): repeating will not help; the chat is over.
                let detail = wire::error_detail(data, status);
                self.io.emit(ChatEvent::Error(ChatError::Server(detail)));
                return self.end_locally(now);
            }
        }
        self.retry.reset();
        if self.snapshot.session.is_none() {
            if field("secureKey").is_none() {
                return; // Not an answer to requestChat; nothing to apply it to.
            }
            self.chat_requested = false;
            self.timers.cancel(Timer::ChatRequest);
        }
        self.update_session(data);
        let events: Vec<Value> = data
            .get("messages")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let answers_lookup = self.answers_lookup(msg, &events);
        let ready = self.order.accept(&events, now);
        self.apply(ready, now);
        if answers_lookup {
            self.lookup_answered(data, &events, now);
        }
        if data.get("chatEnded").and_then(Value::as_bool) == Some(true) {
            return self.end_locally(now);
        }
        self.watch_gap();
        self.advance(now);
    }

    /// Whether this response is the answer to the lookup in flight: it echoes its id, or it
    /// reaches back to the lookup position (live notifications carry only new events; they
    /// may come first when the server acted on the lookup and its answer is slow).
    fn answers_lookup(&self, msg: &Value, events: &[Value]) -> bool {
        let Lookup::Sent { id, link, .. } = &self.lookup else {
            return false;
        };
        if *link != self.link {
            return false;
        }
        if let Some(echo) = msg.get("id").and_then(Value::as_str) {
            return echo == id;
        }
        self.order.answers_lookup(events)
    }

    /// The transcript after the lookup position is known: gaps it does not fill do not exist,
    /// and a message it lacks was never stored.
    fn lookup_answered(&mut self, data: &Value, events: &[Value], now: Millis) {
        let Lookup::Sent { sent_at, .. } = self.lookup else {
            return;
        };
        self.lookup = Lookup::Idle;
        self.timers.cancel(Timer::LookupTimeout);
        let through = events
            .iter()
            .filter_map(order::index_of)
            .max()
            .unwrap_or(0)
            .max(
                data.get("nextPosition")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
                    .saturating_sub(1),
            );
        let ready = self.order.close_gaps_through(through, now);
        self.apply(ready, now);
        let Some(head) = self.snapshot.outbox.head().cloned() else {
            return;
        };
        let Some(last_attempt) = head.last_attempt else {
            return;
        };
        if self.sending.is_some() {
            return; // On its way on this connection: its event or the confirm timer decides.
        }
        if sent_at < last_attempt + LOOKUP_GRACE {
            // Too early to tell: it may still have been on its way. Look again later.
            return self.schedule_lookup(now);
        }
        self.snapshot.absent_attempts += 1;
        if self.snapshot.absent_attempts >= MAX_ATTEMPTS {
            self.snapshot.absent_attempts = 0;
            self.snapshot.outbox.give_up(&head.client_id);
            self.io.protocol_error(
                "sendMessage",
                "the server never stored this message; giving up",
            );
            self.io
                .emit(ChatEvent::Error(ChatError::SendFailed(head.client_id)));
            return;
        }
        // Provably absent: it goes again as a fresh attempt.
        self.snapshot.outbox.forget_attempts();
    }

    fn apply(&mut self, events: Vec<Value>, now: Millis) {
        let chat_id = self
            .snapshot
            .session
            .as_ref()
            .map(|s| s.chat_id.clone())
            .unwrap_or_default();
        for event in events {
            if self.ended {
                return;
            }
            match wire::decode(&event, &chat_id, now) {
                Decoded::OwnMessage(mut message) => {
                    if let Some(client_id) = self.confirms(message.seq) {
                        self.snapshot.outbox.confirm(&client_id);
                        self.snapshot.absent_attempts = 0;
                        if self.sending.as_deref() == Some(client_id.as_str()) {
                            self.sending = None;
                            self.timers.cancel(Timer::Confirm);
                        }
                        message.client_id = Some(client_id);
                        self.io.emit(ChatEvent::MessageUpdated(*message));
                    } else {
                        self.io.emit(ChatEvent::MessageAdded(*message));
                    }
                }
                Decoded::Show(events) => {
                    for e in events {
                        self.io.emit(e);
                    }
                }
                Decoded::Closed => self.end_locally(now),
                Decoded::Nothing => {}
                Decoded::Unknown(kind) => self
                    .io
                    .protocol_error("transcript event", format!("type \"{kind}\" ignored")),
            }
        }
    }

    /// The outbox message a `Client` message at `index` confirms: the oldest, if it was sent
    /// before that position.
    fn confirms(&self, index: Option<u64>) -> Option<String> {
        let head = self.snapshot.outbox.head()?;
        let after = head.sent_after?;
        (index? > after).then(|| head.client_id.clone())
    }

    /// An event waiting for a gap makes the widget ask for the transcript after [`GAP_WAIT`].
    fn watch_gap(&mut self) {
        match self.order.gap_since() {
            Some(since) => self.timers.set(Timer::Gap, since + GAP_WAIT),
            None => self.timers.cancel(Timer::Gap),
        }
    }

    /// A response about another chat: the answer to a `requestChat` sent twice when the first
    /// answer was lost. That chat is nobody's; it is ended so no agent waits on it.
    fn not_our_chat(&mut self, data: &Value, chat_id: String) {
        let field = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
        if let Some(secure_key) = field("secureKey") {
            let mut p = Map::new();
            p.insert("operation".into(), "disconnect".into());
            p.insert("secureKey".into(), secure_key.into());
            p.insert("userId".into(), field("userId").unwrap_or_default().into());
            p.insert("alias".into(), field("alias").unwrap_or_default().into());
            let mut message = Map::new();
            message.insert("channel".into(), self.channel.clone().into());
            message.insert("data".into(), Value::Object(p));
            self.bayeux.publish(&mut self.io, Value::Object(message));
        }
        self.io.protocol_error(
            "chat response",
            format!("for chat {chat_id}, not ours: ignored"),
        );
    }

    /// `statusCode` 1 (or a refused publish): the chat server is unavailable for now. What
    /// was on its way may not have been done; after a backoff, look before sending again.
    fn retry_later(&mut self, now: Millis) {
        self.busy = true;
        self.sending = None;
        self.timers.cancel(Timer::Confirm);
        if matches!(self.lookup, Lookup::Sent { .. }) {
            self.lookup = Lookup::Due;
        }
        self.timers.cancel(Timer::LookupTimeout);
        if self.snapshot.session.is_none() {
            self.chat_requested = false;
        }
        let delay = self.retry.next_delay();
        self.timers.set(Timer::Retry, now + delay);
        self.io.set_connection(ConnectionState::Reconnecting {
            attempt: self.retry.attempt(),
            next_attempt_at: now + delay,
        });
    }

    fn update_session(&mut self, data: &Value) {
        let field = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
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
            if session.chat_id.is_empty() {
                session.chat_id = v;
            }
        }
        if session.secure_key.is_empty() {
            self.snapshot.session = None;
        }
    }

    /// The chat is over: unsent messages are reported not sent (their text stays, with Retry,
    /// for a new chat), and the snapshot forgets the dead session.
    fn end_locally(&mut self, now: Millis) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.ending = false;
        self.bayeux.disconnect(&mut self.io, now);
        self.timers.clear();
        let mut outbox = std::mem::take(&mut self.snapshot).outbox;
        self.io.fail_pending(&mut outbox);
        self.snapshot.outbox = outbox.into_not_sent();
        self.io.conversation_ended();
    }
}

impl ChatBackend for GmsBackend {
    fn start(&mut self, now: Millis) {
        self.io.announce_pending(&self.snapshot.outbox, now);
        if self.snapshot.session.is_some() {
            let stale = self
                .snapshot
                .alive_at
                .is_some_and(|t| now.saturating_sub(t) > self.restore_timeout);
            if stale {
                // Like Genesys Widgets past restoreTimeout: start afresh. What was waiting
                // belonged to the old chat; it stays visible as not sent, to resend.
                self.io.protocol_error(
                    "restore",
                    "the chat was not heard from for too long; starting a new one",
                );
                let mut outbox = std::mem::take(&mut self.snapshot).outbox;
                self.io.fail_pending(&mut outbox);
                self.snapshot.outbox = outbox.into_not_sent();
            }
        }
        self.io.emit(ChatEvent::ConversationStatusChanged(
            ConversationStatus::Open,
        ));
        self.io.set_connection(ConnectionState::Connecting);
        self.bayeux.start(&mut self.io, now);
        self.drain_bayeux(now);
    }

    fn handle_open(&mut self, now: Millis) {
        self.bayeux.handle_open(&mut self.io, now);
        self.drain_bayeux(now);
    }

    fn handle_text(&mut self, frame: &str, now: Millis) {
        self.bayeux.handle_text(&mut self.io, frame, now);
        self.drain_bayeux(now);
    }

    fn handle_close(&mut self, _code: u16, _reason: &str, now: Millis) {
        self.bayeux.handle_close(&mut self.io, now);
        self.drain_bayeux(now);
    }

    fn handle_http_response(&mut self, id: RequestId, status: u16, body: &str, now: Millis) {
        self.bayeux.handle_http(&mut self.io, id, status, body, now);
        self.drain_bayeux(now);
    }

    fn handle_timeout(&mut self, now: Millis) {
        self.bayeux.handle_timeout(&mut self.io, now);
        for timer in self.timers.take_due(now) {
            match timer {
                Timer::Retry => {
                    self.busy = false;
                    if self.bayeux.is_connected() {
                        self.io.set_connection(ConnectionState::Online);
                    }
                    if self.snapshot.session.is_some() {
                        self.schedule_lookup(now);
                    }
                }
                Timer::Lookup => {}
                Timer::LookupTimeout => {
                    if matches!(self.lookup, Lookup::Sent { .. }) {
                        self.lookup = Lookup::Due;
                    }
                }
                Timer::Gap => {
                    if self.order.gap_since().is_some() && self.snapshot.session.is_some() {
                        self.schedule_lookup(now);
                    }
                }
                Timer::Confirm => {
                    if self.sending.take().is_some() {
                        self.schedule_lookup(now);
                    }
                }
                Timer::EndFallback => self.end_locally(now),
                Timer::ChatRequest => {
                    if self.snapshot.session.is_none() && self.chat_requested {
                        self.io
                            .protocol_error("requestChat", "no answer; asking again");
                        self.chat_requested = false;
                    }
                }
            }
        }
        self.drain_bayeux(now);
        self.advance(now);
    }

    fn handle_network_hint(&mut self, online: bool, now: Millis) {
        self.bayeux.handle_network_hint(online, &mut self.io, now);
        self.drain_bayeux(now);
    }

    fn send_message(&mut self, client_id: &str, text: &str, now: Millis) {
        if self.ended {
            self.io
                .emit(ChatEvent::Error(ChatError::SendFailed(client_id.into())));
            return;
        }
        self.snapshot.outbox.push(client_id, text);
        self.advance(now);
    }

    fn set_typing(&mut self, typing: bool, _now: Millis) {
        // Not while a lookup is out: its answer is told from other responses by content.
        if self.can_operate() && self.snapshot.session.is_some() && self.lookup == Lookup::Idle {
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
        if renamed
            && self.can_operate()
            && self.snapshot.session.is_some()
            && self.lookup == Lookup::Idle
        {
            let mut p = Map::new();
            p.insert(
                "nickname".into(),
                self.visitor.name.clone().unwrap_or_default().into(),
            );
            self.operation("updateNickname", p);
        }
    }

    fn end_chat(&mut self, now: Millis) {
        if self.ended {
            return;
        }
        if self.bayeux.is_connected() && self.snapshot.session.is_some() {
            // The answer carries chatEnded: true, which ends it here too.
            self.operation("disconnect", Map::new());
            self.ending = true;
            self.timers.set(Timer::EndFallback, now + END_FALLBACK);
        } else {
            self.end_locally(now);
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
        [self.timers.next(), self.bayeux.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    fn snapshot(&self) -> String {
        serde_json::to_string(&self.snapshot).unwrap_or_default()
    }
}
