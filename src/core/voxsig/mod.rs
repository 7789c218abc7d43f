//! Voxsig (a Chatwoot-style helpdesk): ActionCable over WebSocket for events, the public
//! client REST API (`/public/api/v1/inboxes/{inbox}/…`, open to cross-origin calls) for
//! everything the visitor does.
//!
//! Socket: `actioncable-v1-json`; `welcome`, then `subscribe` to `RoomChannel` with the
//! contact's `pubsub_token` (one identifier string, byte-identical every time); `ping` every
//! 3 s with a stale connection after 6 s of silence; a subscription neither confirmed nor
//! rejected within a few seconds is a failure (the server stays silent on a bad token, so the
//! contact is checked over REST); `disconnect` with `reconnect`; `update_presence` on a timer.
//!
//! What real Chatwoot does and this session is built for: `after=` is ignored (the messages
//! endpoint pages backwards only, see [`catch_up`]); `echo_id` is never stored, so a POST sent
//! twice is two messages — a send whose outcome is unknown is first looked for in the server's
//! transcript and only sent again if it is provably not there; broadcasts come from a worker
//! pool, in any order and before or after the REST answer, so messages are ordered by id.

mod catch_up;
mod rest;
mod wire;

use super::backend::{
    ChatBackend, HttpMethod, HttpRequest, RequestId, SocketCommand, VisitorProfile,
};
use super::backoff::{BackoffPolicy, ReconnectBackoff};
use super::event::{ChatError, ChatEvent, ConnectionState, ConversationStatus, Presence};
use super::io::{parse_json, Io, Timers};
use super::message::{Author, ChatMessage, DeliveryStatus, RichAnswer, Role};
use super::outbox::Outbox;
use super::url::to_websocket;
use super::Millis;
use crate::config::VoxsigConfig;
use catch_up::{AfterPage, CatchUp, Floor, Want};
use rest::{answer_body, outcome, Call, Outcome, Paths};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use wire::{conversation_status, decode_message, decode_user, message_head, MessageHead};

/// ActionCable-like reconnects: 3 s (+15 % jitter), ×1.5, at most 30 s.
pub const DEFAULT_BACKOFF: BackoffPolicy = BackoffPolicy::Exponential {
    initial: 3_000,
    randomness: 450,
    multiplier: 1.5,
    max: 30_000,
};
/// The first attempt after a subscribed connection drops starts within this long (from a
/// quarter of it). Rails' own client waits for its 6 s stale check instead (`ConnectionMonitor`
/// in @rails/actioncable); a widget that shows "reconnecting" for that long looks broken.
pub const DROP_RETRY_WITHIN: Millis = 1_000;
/// Retries of failed REST calls: 1 s, ×2, at most 30 s.
pub const HTTP_RETRY_BACKOFF: BackoffPolicy = BackoffPolicy::Exponential {
    initial: 1_000,
    randomness: 500,
    multiplier: 2.0,
    max: 30_000,
};
/// No frame for this long (two missed pings) means the connection is stale.
pub const STALE_THRESHOLD: Millis = 6_000;
/// How long after an attempt whose outcome is unknown the message is looked for: a request
/// still travelling (sent by the page before a reload) must have reached the server first.
pub const LOOKUP_GRACE: Millis = 3_000;
/// Broadcast jobs delivered later than this after an earlier one are not expected: when the
/// socket drops, messages received this long before are taken to have everything older
/// than them delivered too (broadcasts come from a job queue, in any order, within seconds).
pub const BROADCAST_SETTLE: Millis = 60_000;
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
    PageRetry,
    /// The next `update_last_seen` may go ([`LAST_SEEN_GAP`]).
    LastSeen,
}

/// At least this long between two `update_last_seen` calls. Chatwoot answers each by marking
/// every message of the conversation read and broadcasting `message.updated` for each
/// (Conversations::UpdateMessageStatusJob): a burst of agent messages read as they come makes
/// one call per gap, not one per message (on a fast link, one per round trip).
const LAST_SEEN_GAP: Millis = 2_000;

/// Why the contact is looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ContactCheck {
    /// A conversation call answered 404.
    NotFound,
    /// The subscription was neither confirmed nor rejected.
    Silent,
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
    /// The newest message id the visitor has been shown: after a reload, older messages are
    /// restored quietly instead of counting as unread and being announced again.
    #[serde(default)]
    pub shown_up_to: Option<u64>,
}

/// The Voxsig backend.
#[derive(Debug)]
pub struct VoxsigBackend {
    paths: Paths,
    cable_url: String,
    account_id: Option<u64>,
    user_id: Option<u64>,
    presence_interval: Millis,
    visitor: VisitorProfile,
    io: Io,
    timers: Timers<Timer>,
    backoff: ReconnectBackoff,
    http_backoff: ReconnectBackoff,
    page_backoff: ReconnectBackoff,
    socket: Socket,
    /// Outstanding requests: what each was for, and the conversation current when it was made.
    calls: HashMap<RequestId, (Call, Option<u64>)>,
    session: VoxsigSnapshot,
    identifier: Option<String>,
    /// Every message id handled, with the client id when it is one of the visitor's own.
    known: HashMap<u64, Option<String>>,
    /// Messages deleted on the server: deletion is final, so a `message.created` that a
    /// broadcast job delivers after the deletion's `message.updated` shows nothing.
    deleted: HashSet<u64>,
    /// Every message of the conversation at or below this id is known (a catch-up proved it,
    /// or the socket delivered it long enough ago); a catch-up after a drop goes down to it.
    synced: Option<u64>,
    /// Messages the socket delivered lately: (when, id), for advancing `synced` at a drop.
    delivered: VecDeque<(Millis, u64)>,
    /// The newest id the socket delivered at least [`BROADCAST_SETTLE`] ago.
    delivered_settled: Option<u64>,
    /// Highest id in `known`: where a send's message could be stored after.
    max_known: u64,
    /// Highest agent/bot message id.
    max_incoming: u64,
    /// Highest message id the visitor has seen, and the one `update_last_seen` last covered.
    read_wanted: u64,
    read_marked: u64,
    /// An `update_last_seen` is out: a burst of messages makes one call, not one each.
    marking_read: bool,
    /// When the last `update_last_seen` went out.
    marked_read_at: Option<Millis>,
    catch_up: CatchUp,
    /// The outbox head was looked for in the server's transcript since its last attempt
    /// failed, and is not there: it may be sent again.
    verified_absent: Option<String>,
    /// Accepted with an unreadable body: the server's copy, when it shows up, is ours
    /// (client id, text, sent after).
    confirmed_without_id: Vec<(String, String, u64)>,
    /// A message POST is out; the next waits for it so order is kept.
    sending: Option<String>,
    /// Answers to bot messages to send again after a transient failure.
    answers_to_retry: Vec<(u64, String)>,
    creating_conversation: bool,
    creating_contact: bool,
    /// Why the contact is being (or is to be) looked up.
    contact_check: Option<ContactCheck>,
    checking_contact: bool,
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
            paths: Paths {
                base: format!(
                    "{}/public/api/v1/inboxes/{}",
                    config.base_url,
                    super::url::encode_component(&config.inbox_identifier)
                ),
            },
            cable_url: format!("{}/cable", to_websocket(&config.base_url)),
            account_id: config.account_id,
            user_id: config.user_id,
            presence_interval: config.presence_interval_ms,
            visitor: VisitorProfile::default(),
            io: Io::default(),
            timers: Timers::default(),
            backoff: ReconnectBackoff::new(policy, seed),
            http_backoff: ReconnectBackoff::new(HTTP_RETRY_BACKOFF, seed.rotate_left(17)),
            page_backoff: ReconnectBackoff::new(HTTP_RETRY_BACKOFF, seed.rotate_left(31)),
            socket: Socket::None,
            calls: HashMap::new(),
            session: snapshot
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default(),
            identifier: None,
            known: HashMap::new(),
            deleted: HashSet::new(),
            synced: None,
            delivered: VecDeque::new(),
            delivered_settled: None,
            max_known: 0,
            max_incoming: 0,
            read_wanted: 0,
            read_marked: 0,
            marking_read: false,
            marked_read_at: None,
            catch_up: CatchUp::default(),
            verified_absent: None,
            confirmed_without_id: Vec::new(),
            sending: None,
            answers_to_retry: Vec::new(),
            creating_conversation: false,
            creating_contact: false,
            contact_check: None,
            checking_contact: false,
            assignee_id: None,
            ended: false,
        }
    }

    /// The contact, once created.
    pub fn contact(&self) -> Option<&VoxsigContact> {
        self.session.contact.as_ref()
    }

    fn call(&mut self, method: HttpMethod, url: String, body: Option<Value>, call: Call) {
        let id = self.io.request(method, url, body.map(|b| b.to_string()));
        self.calls.insert(id, (call, self.session.conversation_id));
    }

    /// The contact's source id and the conversation id, once both exist.
    fn conversation(&self) -> Option<(String, u64)> {
        let c = self.session.contact.as_ref()?;
        Some((c.source_id.clone(), self.session.conversation_id?))
    }

    /// POSTs to `<conversation>/<action>`; nothing to do before the conversation exists.
    fn post_to_conversation(&mut self, action: &str, body: Value, call: Call) {
        if let Some((source, id)) = self.conversation() {
            let url = format!("{}/{action}", self.paths.conversation(&source, id));
            self.call(HttpMethod::Post, url, Some(body), call);
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
        let url = self.paths.contacts();
        self.call(HttpMethod::Post, url, Some(body), Call::CreateContact);
    }

    /// Asks whether the contact still exists (after a 404 or an unanswered subscription).
    fn check_contact(&mut self, reason: ContactCheck) {
        // A 404 is the stronger reason: it decides what an existing contact means.
        if self.contact_check != Some(ContactCheck::NotFound) {
            self.contact_check = Some(reason);
        }
        if self.checking_contact {
            return;
        }
        let Some(c) = self.session.contact.clone() else {
            return;
        };
        self.checking_contact = true;
        let url = self.paths.contact(&c.source_id);
        self.call(HttpMethod::Get, url, None, Call::CheckContact);
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
        // Only now can nothing more be missed: fetch what was created while away.
        self.want_catch_up(now);
    }

    /// Asks for every message created while away (all of them after a reload), and for the
    /// latest page of what is shown again: a message deleted or answered while away changes.
    fn want_catch_up(&mut self, now: Millis) {
        if self.session.conversation_id.is_none() {
            return;
        }
        let fresh = self.fresh_floor();
        self.catch_up.want(Want::Newest, fresh);
        self.pump_catch_up(now);
    }

    /// The floor of a catch-up for news: what is known to be complete, and at least the
    /// newest page of what is shown (to see deletions and answers made meanwhile).
    fn fresh_floor(&self) -> Floor {
        let mut ids: Vec<u64> = self.known.keys().copied().collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        let page = ids.get(catch_up::PAGE - 1).or(ids.last()).copied();
        let synced = self.synced?;
        Some(page.map_or(synced, |p| p.min(synced)))
    }

    /// A catch-up ended: if it reached what was complete before, it extends it.
    fn catch_up_done(&mut self, floor: Floor, top: Option<u64>) {
        let contiguous = match (floor, self.synced) {
            (None, _) => true,
            (Some(f), Some(s)) => f <= s,
            (Some(_), None) => false,
        };
        if contiguous {
            let reached = top.or(floor).unwrap_or(0);
            self.synced = Some(self.synced.map_or(reached, |s| s.max(reached)));
        }
    }

    /// The socket delivered message `id`.
    fn note_delivered(&mut self, id: u64, now: Millis) {
        self.delivered.push_back((now, id));
        while let Some(&(t, old)) = self.delivered.front() {
            if t.saturating_add(BROADCAST_SETTLE) > now {
                break;
            }
            self.delivered.pop_front();
            self.delivered_settled = self.delivered_settled.max(Some(old));
        }
    }

    /// The socket is gone: broadcasts still queued for it are lost, but what it delivered long
    /// enough ago has everything older delivered too.
    fn settle_delivered(&mut self, now: Millis) {
        let settled = self
            .delivered
            .iter()
            .filter(|(t, _)| t.saturating_add(BROADCAST_SETTLE) <= now)
            .map(|(_, id)| *id)
            .chain(self.delivered_settled)
            .max();
        if let (Some(s), Some(d)) = (self.synced, settled) {
            self.synced = Some(s.max(d));
        }
        self.delivered.clear();
        self.delivered_settled = None;
    }

    fn pump_catch_up(&mut self, now: Millis) {
        let Some((source, id)) = self.conversation() else {
            self.catch_up.reset();
            return;
        };
        if self.timers.is_set(Timer::PageRetry) {
            return;
        }
        if let Some(before) = self.catch_up.next_request(now) {
            let url = self.paths.messages(&source, id, before);
            self.call(HttpMethod::Get, url, None, Call::Page);
        }
    }

    fn send_presence(&mut self, now: Millis) {
        self.command("message", Some(r#"{"action":"update_presence"}"#));
        self.timers
            .set(Timer::Presence, now + self.presence_interval);
    }

    /// Starts the next message POST if none is out (one at a time keeps the order). A message
    /// whose earlier attempt has an unknown outcome is first looked for on the server.
    fn pump_outbox(&mut self, now: Millis) {
        if self.sending.is_some()
            || self.ended
            || self.timers.is_set(Timer::HttpRetry)
            || self.checking_contact
        {
            return;
        }
        let Some(contact) = self.session.contact.clone() else {
            if !self.session.outbox.is_empty() {
                self.create_contact();
            }
            return;
        };
        let Some(head) = self.session.outbox.head().cloned() else {
            return;
        };
        let Some(conversation) = self.session.conversation_id else {
            if !self.creating_conversation {
                self.creating_conversation = true;
                let url = self.paths.conversations(&contact.source_id);
                self.call(
                    HttpMethod::Post,
                    url,
                    Some(json!({})),
                    Call::CreateConversation,
                );
            }
            return;
        };
        if let Some(after) = head.sent_after {
            if self.verified_absent.as_deref() != Some(head.client_id.as_str()) {
                if head.last_attempt.is_some_and(|t| t > now) {
                    // The device clock was set back: count from now, not from the future.
                    self.session.outbox.rewind_attempt(&head.client_id, now);
                }
                let ready = head.last_attempt.map_or(now, |t| t.min(now) + LOOKUP_GRACE);
                if ready > now {
                    self.timers.set(Timer::HttpRetry, ready);
                    return;
                }
                // Sent before, fate unknown: posting again could make a second copy.
                let fresh = self.fresh_floor();
                self.catch_up.want(Want::Below(after), fresh);
                self.pump_catch_up(now);
                return;
            }
        }
        self.verified_absent = None;
        self.sending = Some(head.client_id.clone());
        // Everything the visitor could have seen is older than what this send stores; after a
        // reload that is the persisted mark, before the history has even loaded.
        let after = self.max_known.max(self.session.shown_up_to.unwrap_or(0));
        self.session.outbox.mark_sent(&head.client_id, after, now);
        let url = self.paths.messages(&contact.source_id, conversation, None);
        self.call(
            HttpMethod::Post,
            url,
            Some(json!({"content": head.text, "echo_id": head.client_id})),
            Call::SendMessage(head.client_id),
        );
    }

    fn retry_later(&mut self, now: Millis) {
        let delay = self.http_backoff.next_delay();
        self.timers.set(Timer::HttpRetry, now + delay);
    }

    fn on_http(&mut self, call: Call, status: u16, body: &str, now: Millis) {
        let result = outcome(status);
        match call {
            Call::CreateContact => self.on_contact_created(result, status, body, now),
            Call::CheckContact => self.on_contact_checked(result, now),
            Call::CreateConversation => {
                self.creating_conversation = false;
                match result {
                    Outcome::Ok => {
                        let v = parse_json(body).unwrap_or(Value::Null);
                        match v.get("id").and_then(Value::as_u64) {
                            Some(id) => {
                                self.http_backoff.reset();
                                self.session.conversation_id = Some(id);
                                // A bot may have written before the subscription took effect
                                // (nothing was caught up without a conversation): look once.
                                self.want_catch_up(now);
                                if let Some(s) = v.get("status").and_then(Value::as_str) {
                                    self.io.emit(ChatEvent::ConversationStatusChanged(
                                        conversation_status(s),
                                    ));
                                }
                            }
                            None => {
                                self.io.protocol_error("conversation", "no id");
                                self.retry_later(now);
                            }
                        }
                    }
                    Outcome::Transient => self.retry_later(now),
                    Outcome::NotFound => self.check_contact(ContactCheck::NotFound),
                    Outcome::Refused => {
                        self.fail_all(format!("creating the conversation failed: HTTP {status}"))
                    }
                }
                self.pump_outbox(now);
            }
            Call::SendMessage(client_id) => {
                self.on_message_posted(client_id, result, status, body, now)
            }
            Call::Page => self.on_page(result, body, now),
            Call::Answer {
                message_id,
                body: sent,
            } => match result {
                Outcome::Ok => {
                    if let Ok(v) = parse_json(body) {
                        if v.get("id").is_some() {
                            self.on_message(&v, false);
                        }
                    }
                }
                Outcome::Transient => {
                    self.answers_to_retry.push((message_id, sent));
                    self.retry_later(now);
                }
                Outcome::NotFound | Outcome::Refused => {
                    // 422 for a CSAT older than 14 days, for instance: that control re-opens.
                    self.io.emit(ChatEvent::Error(ChatError::AnswerFailed(
                        message_id.to_string(),
                    )))
                }
            },
            Call::LastSeen => {
                self.marking_read = false;
                // A lost mark fixes itself with the next one; a newer one waits for this one.
                self.send_last_seen(now);
            }
            // Best effort: a lost typing flag fixes itself with the next one.
            Call::Typing | Call::UpdateContact | Call::Resolve => {
                if result != Outcome::Ok {
                    self.io.emit(ChatEvent::Error(ChatError::Server(format!(
                        "{} failed: HTTP {status}",
                        call.name()
                    ))));
                }
            }
        }
    }

    fn on_contact_created(&mut self, result: Outcome, status: u16, body: &str, now: Millis) {
        self.creating_contact = false;
        match result {
            Outcome::Ok => {
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
                        self.pump_outbox(now);
                    }
                    _ => {
                        self.io.emit(ChatEvent::Error(ChatError::Server(
                            "contact created without source_id/pubsub_token".into(),
                        )));
                        self.retry_contact_later(now);
                    }
                }
            }
            Outcome::Transient => self.retry_contact_later(now),
            Outcome::NotFound => self.io.emit(ChatEvent::Error(ChatError::Config(format!(
                "voxsigInbox: the server does not know this inbox (HTTP {status})"
            )))),
            Outcome::Refused => self
                .io
                .emit(ChatEvent::Error(ChatError::Unauthorized(format!(
                    "creating the contact failed: HTTP {status}"
                )))),
        }
    }

    /// The contact was looked up after a 404 or an unanswered subscription.
    fn on_contact_checked(&mut self, result: Outcome, now: Millis) {
        self.checking_contact = false;
        let reason = self.contact_check.take();
        match result {
            // The contact is there: a 404 was the conversation's, which is gone; an
            // unanswered subscription was something else, and reconnecting goes on.
            Outcome::Ok => {
                if reason == Some(ContactCheck::NotFound) {
                    self.conversation_gone(now);
                } else {
                    // Sends waited for the answer.
                    self.pump_outbox(now);
                }
            }
            Outcome::NotFound => {
                // Deleted on the server: start over as a new contact, keeping what is shown.
                self.session.contact = None;
                self.identifier = None;
                self.forget_conversation();
                if !matches!(self.socket, Socket::None | Socket::Stopped) {
                    self.close_socket(Socket::None);
                }
                self.create_contact();
            }
            Outcome::Transient | Outcome::Refused => {
                self.contact_check = reason;
                self.retry_later(now);
            }
        }
    }

    /// The conversation answered 404 while the contact exists: the next message starts a new
    /// one, and everything unconfirmed goes there.
    fn conversation_gone(&mut self, now: Millis) {
        self.forget_conversation();
        self.pump_outbox(now);
    }

    fn forget_conversation(&mut self) {
        self.session.conversation_id = None;
        self.synced = None;
        self.delivered.clear();
        self.delivered_settled = None;
        self.creating_conversation = false;
        self.catch_up.reset();
        self.timers.cancel(Timer::PageRetry);
        self.session.outbox.forget_attempts();
        self.verified_absent = None;
        self.sending = None;
    }

    fn on_message_posted(
        &mut self,
        client_id: String,
        result: Outcome,
        status: u16,
        body: &str,
        now: Millis,
    ) {
        if self.sending.as_deref() == Some(client_id.as_str()) {
            self.sending = None;
        }
        match result {
            Outcome::Ok => {
                self.http_backoff.reset();
                let parsed = parse_json(body).ok();
                let head = parsed.as_ref().and_then(message_head);
                match (head, parsed.as_ref().and_then(decode_message)) {
                    (Some(head), Some(mut m)) => {
                        self.claim(head.id, &client_id);
                        m.client_id = Some(client_id);
                        m.status = m.status.max(DeliveryStatus::Sent);
                        self.io.emit(ChatEvent::MessageUpdated(m));
                    }
                    _ => {
                        // Accepted without a readable body: its copy, when seen, is ours.
                        if let Some(item) = self.session.outbox.confirm(&client_id) {
                            let after = item.sent_after.unwrap_or(0);
                            self.confirmed_without_id
                                .push((client_id.clone(), item.text, after));
                        }
                        self.io.emit(ChatEvent::MessageUpdated(ChatMessage::visitor(
                            &client_id,
                            "",
                            0,
                            DeliveryStatus::Sent,
                        )));
                    }
                }
            }
            Outcome::Transient => {
                // The server may have stored it: it is looked for before any new attempt.
                self.session.outbox.requeue(&client_id);
                self.retry_later(now);
            }
            Outcome::NotFound => {
                self.session.outbox.requeue(&client_id);
                self.check_contact(ContactCheck::NotFound);
            }
            Outcome::Refused => {
                if self.session.outbox.give_up(&client_id).is_some() {
                    self.io
                        .emit(ChatEvent::Error(ChatError::SendFailed(client_id)));
                }
                self.io.emit(ChatEvent::Error(ChatError::Server(format!(
                    "the message was refused: HTTP {status}"
                ))));
            }
        }
        self.pump_outbox(now);
    }

    fn on_page(&mut self, result: Outcome, body: &str, now: Millis) {
        match result {
            Outcome::Ok => {
                let list = match parse_json(body) {
                    Ok(Value::Array(list)) => list,
                    Ok(v) => v
                        .get("payload")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                    Err(e) => {
                        self.io.protocol_error("messages", e);
                        self.catch_up.page_failed();
                        return self.retry_page_later(now);
                    }
                };
                self.page_backoff.reset();
                let ids: Vec<u64> = list.iter().filter_map(message_head).map(|h| h.id).collect();
                for m in &list {
                    self.on_message(m, false);
                }
                let fresh = self.fresh_floor();
                match self.catch_up.page_received(&ids, || fresh) {
                    AfterPage::Next(_) => self.pump_catch_up(now),
                    AfterPage::Done { floor, since, top } => {
                        self.catch_up_done(floor, top);
                        if let Some(head) = self.session.outbox.head() {
                            // Everything stored after `floor` before `since` is known now: a
                            // message sent after it, arrived by then, and not found is not on
                            // the server.
                            let covered = head
                                .sent_after
                                .is_some_and(|a| floor.is_none_or(|f| f <= a));
                            let arrived =
                                head.last_attempt.is_none_or(|t| since >= t + LOOKUP_GRACE);
                            if covered && arrived && !head.in_flight {
                                self.verified_absent = Some(head.client_id.clone());
                            }
                        }
                        self.pump_catch_up(now);
                        self.pump_outbox(now);
                    }
                }
            }
            Outcome::NotFound => {
                self.catch_up.reset();
                self.check_contact(ContactCheck::NotFound);
            }
            Outcome::Transient | Outcome::Refused => {
                self.catch_up.page_failed();
                self.retry_page_later(now);
            }
        }
    }

    fn retry_page_later(&mut self, now: Millis) {
        let delay = self.page_backoff.next_delay();
        self.timers.set(Timer::PageRetry, now + delay);
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
        self.io.fail_pending(&mut self.session.outbox);
    }

    /// Records server message `id` as the visitor's message `client_id` and confirms it.
    fn claim(&mut self, id: u64, client_id: &str) {
        self.session.outbox.confirm(client_id);
        self.note(id);
        self.known.insert(id, Some(client_id.to_string()));
        self.session.shown_up_to = self.session.shown_up_to.max(Some(id));
    }

    fn note(&mut self, id: u64) {
        self.max_known = self.max_known.max(id);
    }

    /// Whose an incoming (visitor-written) message is: one of ours by its echo id, or — for a
    /// send whose outcome is unknown — the first unclaimed copy with the same text stored
    /// after the send began. REST bodies and pages carry no echo id (Chatwoot never stores it).
    fn owner_of(&mut self, head: &MessageHead, text: &str) -> Option<String> {
        if let Some(Some(client_id)) = self.known.get(&head.id) {
            return Some(client_id.clone());
        }
        if self.known.contains_key(&head.id) {
            return None; // Already shown as someone else's.
        }
        if let Some(echo) = &head.echo_id {
            let ours = self.session.outbox.contains(echo)
                || self.known.values().any(|c| c.as_deref() == Some(echo));
            return ours.then(|| echo.clone());
        }
        let waiting = self
            .session
            .outbox
            .items()
            .iter()
            .find(|i| i.sent_after.is_some_and(|a| head.id > a) && i.text.trim() == text);
        if let Some(item) = waiting {
            return Some(item.client_id.clone());
        }
        let at = self
            .confirmed_without_id
            .iter()
            .position(|(_, t, after)| head.id > *after && t.trim() == text)?;
        Some(self.confirmed_without_id.remove(at).0)
    }

    /// A message from the socket (`message.created/updated`), a page, or a REST answer.
    fn on_message(&mut self, data: &Value, live_update: bool) {
        let Some(head) = message_head(data) else {
            return self.io.protocol_error("message", "no id");
        };
        if head.hidden {
            return; // Private notes and activity messages are for agents.
        }
        if let (Some(ours), Some(theirs)) = (self.session.conversation_id, head.conversation_id) {
            if ours != theirs {
                return;
            }
        }
        if head.deleted || self.deleted.contains(&head.id) {
            // Chatwoot keeps a deleted message with placeholder text; the visitor sees it go.
            let shown = self.known.insert(head.id, None).is_some();
            if self.deleted.insert(head.id) && (shown || live_update) {
                self.io.emit(ChatEvent::MessageRemoved(head.id.to_string()));
            }
            self.note(head.id);
            return;
        }
        let Some(mut m) = decode_message(data) else {
            return;
        };
        if head.incoming {
            if let Some(client_id) = self.owner_of(&head, &wire::content(data)) {
                self.claim(head.id, &client_id);
                m.client_id = Some(client_id);
                m.status = m.status.max(DeliveryStatus::Sent);
                return self.io.emit(ChatEvent::MessageUpdated(m));
            }
        } else {
            self.max_incoming = self.max_incoming.max(head.id);
        }
        let first_time = !self.known.contains_key(&head.id);
        self.known.insert(head.id, None);
        self.note(head.id);
        if self.assignee_id.is_none() && m.author.role == Role::Agent {
            self.io
                .emit(ChatEvent::AgentChanged(Some(m.author.clone())));
        }
        let event = if !first_time {
            ChatEvent::MessageUpdated(m)
        } else if self.session.shown_up_to.is_some_and(|s| head.id <= s) {
            ChatEvent::MessageRestored(m)
        } else {
            ChatEvent::MessageAdded(m)
        };
        self.session.shown_up_to = self.session.shown_up_to.max(Some(head.id));
        self.io.emit(event);
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

    fn on_typing(&mut self, event: &str, data: &Value) {
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

    /// `presence.update` lists every available user of the account seen in the last 20 s
    /// (Chatwoot's `OnlineStatusTracker`), not only this conversation's agents.
    fn on_presence(&mut self, data: &Value) {
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

    fn on_cable_message(&mut self, message: &Value, now: Millis) {
        let event = message
            .get("event")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let data = message.get("data").cloned().unwrap_or(Value::Null);
        match event {
            "message.created" | "message.updated" => {
                if let Some(id) = data.get("id").and_then(Value::as_u64) {
                    self.note_delivered(id, now);
                }
                self.on_message(&data, event == "message.updated");
            }
            "conversation.created"
            | "conversation.status_changed"
            | "conversation.updated"
            | "assignee.changed" => self.on_conversation(&data),
            "conversation.typing_on" | "conversation.typing_off" => self.on_typing(event, &data),
            "presence.update" => self.on_presence(&data),
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
                Some(message) if self.is_ours(v) => self.on_cable_message(message, now),
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

    /// Closes the socket on purpose and forgets its timers; `to` says what happens next.
    fn close_socket(&mut self, to: Socket) {
        self.io.close(1000, "");
        self.socket = to;
        for t in [
            Timer::Open,
            Timer::Stale,
            Timer::Subscribe,
            Timer::Presence,
            Timer::Reconnect,
        ] {
            self.timers.cancel(t);
        }
    }

    fn stop(&mut self, error: ChatError) {
        self.close_socket(Socket::Stopped);
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
        self.settle_delivered(now);
        if matches!(
            self.socket,
            Socket::Stopped | Socket::None | Socket::WaitingToReconnect
        ) {
            return;
        }
        // A subscribed connection that drops (a deploy, a proxy's idle cut, a network blip) is
        // tried again within a second, spread so a restarted server is not hit by every widget
        // at once; only failed attempts wait for the ActionCable-like policy.
        let delay = if self.socket == Socket::Subscribed {
            self.backoff.after_drop(DROP_RETRY_WITHIN)
        } else {
            self.backoff.next_delay()
        };
        self.socket = Socket::WaitingToReconnect;
        self.timers.set(Timer::Reconnect, now + delay);
        self.io.set_connection(ConnectionState::Reconnecting {
            attempt: self.backoff.attempt(),
            next_attempt_at: now + delay,
        });
    }

    /// Repeats whatever REST step failed transiently.
    fn retry_http(&mut self, now: Millis) {
        if self.session.contact.is_none() {
            return self.create_contact();
        }
        if let (Some(reason), false) = (self.contact_check, self.checking_contact) {
            self.check_contact(reason);
        }
        for (message_id, body) in std::mem::take(&mut self.answers_to_retry) {
            self.send_answer(message_id, body);
        }
        self.pump_outbox(now);
    }

    /// Tells the server what the visitor has seen: only when something new was seen (the
    /// driver asks on every arrival), one call at a time, [`LAST_SEEN_GAP`] apart.
    fn send_last_seen(&mut self, now: Millis) {
        if self.marking_read
            || self.read_wanted <= self.read_marked
            || self.conversation().is_none()
        {
            return;
        }
        // (A clock set back does not hold the mark until it catches up.)
        if let Some(at) = self
            .marked_read_at
            .filter(|at| (*at..at + LAST_SEEN_GAP).contains(&now))
        {
            self.timers.set(Timer::LastSeen, at + LAST_SEEN_GAP);
            return;
        }
        self.marked_read_at = Some(now);
        self.marking_read = true;
        self.read_marked = self.read_wanted;
        self.post_to_conversation("update_last_seen", json!({}), Call::LastSeen);
    }

    fn send_answer(&mut self, message_id: u64, body: String) {
        let Some((source, id)) = self.conversation() else {
            return self.io.emit(ChatEvent::Error(ChatError::AnswerFailed(
                message_id.to_string(),
            )));
        };
        let url = self.paths.message(&source, id, message_id);
        let value = serde_json::from_str(&body).ok();
        self.call(
            HttpMethod::Patch,
            url,
            value,
            Call::Answer { message_id, body },
        );
    }
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
            // Show the conversation without waiting for the socket.
            self.want_catch_up(now);
            self.pump_outbox(now);
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
        let Some((call, conversation)) = self.calls.remove(&id) else {
            return;
        };
        if conversation.is_some() && conversation != self.session.conversation_id {
            // Made for a conversation that is gone (answered 404 meanwhile): only a message it
            // did store still counts, as delivered there; anything else would act on the new one.
            if let (Call::SendMessage(client_id), Outcome::Ok) = (&call, outcome(status)) {
                if self.session.outbox.confirm(client_id).is_some() {
                    self.io.emit(ChatEvent::MessageUpdated(ChatMessage::visitor(
                        client_id,
                        "",
                        0,
                        DeliveryStatus::Sent,
                    )));
                }
            }
            return;
        }
        self.on_http(call, status, body, now);
    }

    fn handle_timeout(&mut self, now: Millis) {
        for timer in self.timers.take_due(now) {
            match timer {
                Timer::Open | Timer::Stale => self.drop_socket(now),
                Timer::Subscribe => {
                    // Silence is how the server says the token is bad; a retry on the same
                    // socket would be ignored, so start over on a new one — and ask whether
                    // the contact still exists at all.
                    self.io.emit(ChatEvent::Error(ChatError::Unauthorized(
                        "the subscription was neither confirmed nor rejected".into(),
                    )));
                    self.drop_socket(now);
                    self.check_contact(ContactCheck::Silent);
                }
                Timer::Presence if self.socket == Socket::Subscribed => self.send_presence(now),
                Timer::Presence => {}
                Timer::Reconnect => self.open_socket(now),
                Timer::HttpRetry => self.retry_http(now),
                Timer::PageRetry => self.pump_catch_up(now),
                Timer::LastSeen => self.send_last_seen(now),
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
            self.retry_http(now);
        }
        if self.timers.is_set(Timer::PageRetry) {
            self.timers.cancel(Timer::PageRetry);
            self.pump_catch_up(now);
        }
    }

    fn send_message(&mut self, client_id: &str, text: &str, now: Millis) {
        if self.ended {
            self.io
                .emit(ChatEvent::Error(ChatError::SendFailed(client_id.into())));
            return;
        }
        self.session.outbox.push(client_id, text);
        self.pump_outbox(now);
    }

    fn set_typing(&mut self, typing: bool, _now: Millis) {
        let status = if typing { "on" } else { "off" };
        self.post_to_conversation(
            "toggle_typing",
            json!({"typing_status": status}),
            Call::Typing,
        );
    }

    fn mark_read(&mut self, now: Millis) {
        self.read_wanted = self.max_incoming;
        self.send_last_seen(now);
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
            let url = self.paths.contact(&c.source_id);
            self.call(HttpMethod::Patch, url, Some(body), Call::UpdateContact);
        }
    }

    fn submit_answer(&mut self, message_id: &str, answer: RichAnswer, now: Millis) {
        let Ok(id) = message_id.parse::<u64>() else {
            return self.io.emit(ChatEvent::Error(ChatError::AnswerFailed(
                message_id.to_string(),
            )));
        };
        // Chatwoot's widget also saves an email typed into a bot form on the contact.
        if let RichAnswer::Form { values } = &answer {
            if let Some((_, email)) = values.iter().find(|(k, v)| k == "email" && v.contains('@')) {
                let profile = VisitorProfile {
                    name: None,
                    email: Some(email.clone()),
                };
                self.set_visitor(profile, now);
            }
        }
        self.send_answer(id, answer_body(&answer).to_string());
    }

    fn end_chat(&mut self, _now: Millis) {
        self.post_to_conversation("toggle_status", json!({}), Call::Resolve);
        // The contact stays; the next conversation is a new one.
        self.session.conversation_id = None;
        self.session.shown_up_to = None;
        self.synced = None;
        self.catch_up.reset();
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
