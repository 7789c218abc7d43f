//! A Bayeux 1.0 client session as CometD's JavaScript client runs it: `/meta/handshake`, the
//! `/meta/connect` loop under the server's advice, unknown-client recovery and CometD's linear
//! backoff, over either of CometD's transports — one WebSocket carrying message arrays in text
//! frames, or HTTP long-polling (the same arrays POSTed to the same URL, `/meta/connect` held
//! by the server for `advice.timeout`). The Chat V2 session above sees only
//! [`BayeuxEvent`]s and never which transport carried them.

use super::super::backend::{HttpMethod, RequestId};
use super::super::backoff::{BackoffPolicy, ReconnectBackoff};
use super::super::io::{parse_json, Io, Timers};
use super::super::url::{to_http, to_websocket};
use super::super::Millis;
use crate::config::GmsTransport;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};

/// CometD's client backoff: +1 s per failure up to 60 s, with a little jitter added.
pub const DEFAULT_BACKOFF: BackoffPolicy = BackoffPolicy::Linear {
    increment: 1_000,
    max: 60_000,
    jitter: 0.1,
};
/// CometD's maxNetworkDelay: how long any reply may take beyond the server's hold time.
pub const MAX_NETWORK_DELAY: Millis = 10_000;
/// The server's connect hold time until its advice says otherwise (CometD's server default).
pub const DEFAULT_CONNECT_TIMEOUT: Millis = 30_000;
/// How long a `/meta/disconnect` may wait for its reply before the socket is closed anyway.
const DISCONNECT_GRACE: Millis = 1_000;

/// What the Chat V2 session learns from the Bayeux layer.
#[derive(Clone, Debug, PartialEq)]
pub enum BayeuxEvent {
    /// Handshaken and connected (first time, or again after [`BayeuxEvent::Lost`]): messages
    /// published now reach the server. Anything the server pushed while the connection was
    /// down may be lost.
    Connected,
    /// The connection is down; it is being re-established by itself.
    Lost,
    /// The server refused the session for good (`advice.reconnect: "none"`).
    Refused(String),
    /// A message on an application channel: chat data or a publish acknowledgement. Carried by
    /// a connection that was current when it was sent, or by the answer to one of this page's
    /// long-polling requests (a late answer is still the server's word).
    Message(Value),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// Send the next `/meta/connect`.
    NextConnect,
    /// No reply to a handshake or connect in time (WebSocket; HTTP requests time out alone).
    ReplyTimeout,
    /// Connect again (new socket, or a new long-polling handshake).
    Reconnect,
    /// Handshake again on the current connection.
    Rehandshake,
    /// The `/meta/disconnect` reply did not come: close now.
    CloseAfterDisconnect,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Opening,
    Handshaking,
    Connected,
    WaitingToReconnect,
    Disconnecting,
    Closed,
}

/// Which transport carries the session now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wire {
    WebSocket,
    LongPolling,
}

/// What an outstanding long-polling request carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Carried {
    /// `/meta/handshake` (of handshake number `epoch`).
    Handshake,
    /// `/meta/connect`.
    Connect,
    /// Anything else (publishes, disconnect).
    Other,
}

/// One Bayeux client session over WebSocket or long-polling.
#[derive(Debug)]
pub struct Bayeux {
    ws_url: String,
    http_url: String,
    choice: GmsTransport,
    wire: Wire,
    /// A handshake succeeded over the WebSocket on this page: CometD's stickyReconnect keeps
    /// using it after failures instead of falling back.
    websocket_worked: bool,
    phase: Phase,
    client_id: Option<String>,
    next_id: u64,
    connect_timeout: Millis,
    connect_interval: Millis,
    backoff: ReconnectBackoff,
    timers: Timers<Timer>,
    /// Long-polling requests this connection is waiting for, with what they carried.
    requests: HashMap<RequestId, (Carried, u32)>,
    /// Counts handshakes: replies to an older handshake's connects are ignored.
    epoch: u32,
    /// `Lost` was reported and `Connected` not yet.
    down: bool,
    events: VecDeque<BayeuxEvent>,
}

impl Bayeux {
    /// A session to `url` (http(s) or ws(s); each transport derives its own scheme).
    pub fn new(url: &str, choice: GmsTransport, policy: BackoffPolicy, seed: u64) -> Self {
        Bayeux {
            ws_url: to_websocket(url),
            http_url: to_http(url),
            choice,
            wire: match choice {
                GmsTransport::LongPolling => Wire::LongPolling,
                _ => Wire::WebSocket,
            },
            websocket_worked: false,
            phase: Phase::Idle,
            client_id: None,
            next_id: 0,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            connect_interval: 0,
            backoff: ReconnectBackoff::new(policy, seed),
            timers: Timers::default(),
            requests: HashMap::new(),
            epoch: 0,
            down: false,
            events: VecDeque::new(),
        }
    }

    /// Whether application messages can be published now.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    /// Whether long-polling carries the session.
    pub fn is_long_polling(&self) -> bool {
        self.wire == Wire::LongPolling
    }

    /// Failed connection attempts in a row and when the next one is due, while reconnecting.
    pub fn reconnecting(&self) -> Option<(u32, Millis)> {
        if self.phase != Phase::WaitingToReconnect {
            return None;
        }
        let at = self.timers.next()?;
        Some((self.backoff.attempt(), at))
    }

    /// Next thing the session must know.
    pub fn poll_event(&mut self) -> Option<BayeuxEvent> {
        self.events.pop_front()
    }

    /// Earliest deadline.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.timers.next()
    }

    /// Starts connecting.
    pub fn start(&mut self, io: &mut Io, now: Millis) {
        self.connect_transport(io, now);
    }

    /// Publishes `message` (its channel and data set by the caller); returns its Bayeux id.
    pub fn publish(&mut self, io: &mut Io, message: Value) -> String {
        self.send(io, message, Carried::Other, MAX_NETWORK_DELAY)
    }

    /// Ends the session politely: `/meta/disconnect`, then the socket closes once it is
    /// answered (or after a short grace).
    pub fn disconnect(&mut self, io: &mut Io, now: Millis) {
        if matches!(self.phase, Phase::Closed | Phase::Disconnecting) {
            return;
        }
        self.timers.clear();
        let connected = self.client_id.is_some() && self.phase == Phase::Connected;
        if connected {
            self.send(
                io,
                json!({"channel": "/meta/disconnect"}),
                Carried::Other,
                MAX_NETWORK_DELAY,
            );
        }
        if connected && self.wire == Wire::WebSocket {
            self.phase = Phase::Disconnecting;
            self.timers
                .set(Timer::CloseAfterDisconnect, now + DISCONNECT_GRACE);
        } else {
            self.close(io);
        }
    }

    fn close(&mut self, io: &mut Io) {
        if self.wire == Wire::WebSocket && self.phase != Phase::Idle {
            io.close(1000, "");
        }
        self.phase = Phase::Closed;
        self.timers.clear();
        self.requests.clear();
        self.client_id = None;
    }

    fn message_id(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }

    /// Sends one message on the current transport; returns its id.
    fn send(
        &mut self,
        io: &mut Io,
        mut message: Value,
        carried: Carried,
        timeout: Millis,
    ) -> String {
        let id = self.message_id();
        if let Some(obj) = message.as_object_mut() {
            obj.insert("id".into(), id.clone().into());
            if let Some(cid) = &self.client_id {
                obj.insert("clientId".into(), cid.clone().into());
            }
        }
        let body = Value::Array(vec![message]).to_string();
        match self.wire {
            Wire::WebSocket => io.send(body),
            Wire::LongPolling => {
                let request =
                    io.request_with_timeout(HttpMethod::Post, self.http_url.clone(), body, timeout);
                self.requests.insert(request, (carried, self.epoch));
            }
        }
        id
    }

    fn connection_type(&self) -> &'static str {
        match self.wire {
            Wire::WebSocket => "websocket",
            Wire::LongPolling => "long-polling",
        }
    }

    fn connect_transport(&mut self, io: &mut Io, now: Millis) {
        self.timers.clear();
        self.requests.clear();
        self.client_id = None;
        match self.wire {
            Wire::WebSocket => {
                self.phase = Phase::Opening;
                io.open(self.ws_url.clone(), &[]);
                self.timers
                    .set(Timer::ReplyTimeout, now + MAX_NETWORK_DELAY);
            }
            Wire::LongPolling => self.handshake(io, now),
        }
    }

    fn handshake(&mut self, io: &mut Io, now: Millis) {
        self.phase = Phase::Handshaking;
        self.client_id = None;
        self.epoch += 1;
        let types: &[&str] = match (self.wire, self.choice) {
            (Wire::WebSocket, GmsTransport::Auto) => &["websocket", "long-polling"],
            (Wire::WebSocket, _) => &["websocket"],
            (Wire::LongPolling, _) => &["long-polling"],
        };
        self.send(
            io,
            json!({
                "version": "1.0",
                "minimumVersion": "1.0",
                "channel": "/meta/handshake",
                "supportedConnectionTypes": types,
                "advice": {"timeout": 60000, "interval": 0}
            }),
            Carried::Handshake,
            MAX_NETWORK_DELAY,
        );
        if self.wire == Wire::WebSocket {
            self.timers
                .set(Timer::ReplyTimeout, now + MAX_NETWORK_DELAY);
        }
    }

    fn meta_connect(&mut self, first: bool, io: &mut Io, now: Millis) {
        let mut msg = json!({"channel": "/meta/connect", "connectionType": self.connection_type()});
        if first {
            // Ask the server to answer at once so the connection is confirmed quickly.
            msg["advice"] = json!({"timeout": 0});
        }
        let hold = if first { 0 } else { self.connect_timeout };
        self.send(io, msg, Carried::Connect, hold + MAX_NETWORK_DELAY);
        if self.wire == Wire::WebSocket {
            self.timers
                .set(Timer::ReplyTimeout, now + hold + MAX_NETWORK_DELAY);
        }
    }

    /// The WebSocket opened.
    pub fn handle_open(&mut self, io: &mut Io, now: Millis) {
        if self.phase == Phase::Opening && self.wire == Wire::WebSocket {
            self.handshake(io, now);
        }
    }

    /// A WebSocket text frame.
    pub fn handle_text(&mut self, io: &mut Io, frame: &str, now: Millis) {
        if self.wire != Wire::WebSocket
            || matches!(
                self.phase,
                Phase::Idle | Phase::Closed | Phase::WaitingToReconnect | Phase::Opening
            )
        {
            return;
        }
        self.handle_body(io, frame, None, now);
    }

    /// The WebSocket closed (or failed to open).
    pub fn handle_close(&mut self, io: &mut Io, now: Millis) {
        match self.phase {
            Phase::Disconnecting => {
                self.phase = Phase::Closed;
                self.timers.clear();
            }
            Phase::Idle | Phase::Closed | Phase::WaitingToReconnect => {}
            _ if self.wire == Wire::WebSocket => self.lost(io, now),
            _ => {}
        }
    }

    /// The answer to a long-polling request; returns false when it was not one of ours.
    pub fn handle_http(
        &mut self,
        io: &mut Io,
        id: RequestId,
        status: u16,
        body: &str,
        now: Millis,
    ) -> bool {
        let Some((carried, epoch)) = self.requests.remove(&id) else {
            return false;
        };
        if matches!(self.phase, Phase::Closed | Phase::Disconnecting) {
            return true;
        }
        if !(200..300).contains(&status) {
            // Whatever it carried may or may not have arrived: the connection counts as lost,
            // unless an older handshake's request failed after a newer one took over.
            if epoch == self.epoch {
                self.lost(io, now);
            }
            return true;
        }
        let current = epoch == self.epoch;
        match carried {
            Carried::Handshake | Carried::Connect if !current => {
                // A superseded handshake: only its application data still counts.
                self.handle_body(io, body, Some(false), now);
            }
            _ => self.handle_body(io, body, Some(true), now),
        }
        true
    }

    /// `meta`: None for a WebSocket frame; for HTTP, whether its meta replies are current.
    fn handle_body(&mut self, io: &mut Io, body: &str, meta: Option<bool>, now: Millis) {
        let messages = match parse_json(body) {
            Ok(Value::Array(list)) => list,
            Ok(obj @ Value::Object(_)) => vec![obj],
            Ok(_) => return io.protocol_error("bayeux message", "neither an array nor an object"),
            Err(e) => return io.protocol_error("bayeux message", e),
        };
        for msg in messages {
            let channel = msg.get("channel").and_then(Value::as_str).unwrap_or("");
            let meta_current = meta.unwrap_or(true);
            match channel {
                "/meta/handshake" if meta_current => self.on_handshake(io, &msg, now),
                "/meta/connect" if meta_current => self.on_connect(io, &msg, now),
                "/meta/disconnect" => {
                    if self.phase == Phase::Disconnecting {
                        self.close(io);
                    }
                }
                "/meta/handshake" | "/meta/connect" => {}
                "" => io.protocol_error("bayeux", "message without a channel"),
                c if c.starts_with("/meta/") => {
                    io.protocol_error("bayeux", format!("reply on {c} ignored"))
                }
                _ => {
                    if !matches!(self.phase, Phase::Closed | Phase::Disconnecting) {
                        self.events.push_back(BayeuxEvent::Message(msg));
                    }
                }
            }
        }
    }

    fn on_handshake(&mut self, io: &mut Io, msg: &Value, now: Millis) {
        if self.phase != Phase::Handshaking {
            return;
        }
        self.timers.cancel(Timer::ReplyTimeout);
        self.read_advice(msg);
        if msg.get("successful").and_then(Value::as_bool) != Some(true) {
            if advice_reconnect(msg) == Some("none") {
                return self.refuse(io, msg);
            }
            let delay = self.backoff.next_delay();
            self.timers.set(Timer::Rehandshake, now + delay);
            return;
        }
        let Some(client_id) = msg.get("clientId").and_then(Value::as_str) else {
            io.protocol_error("/meta/handshake", "successful without a clientId");
            return self.lost(io, now);
        };
        let offers_websocket = msg
            .get("supportedConnectionTypes")
            .and_then(Value::as_array)
            .is_none_or(|types| types.iter().any(|t| t.as_str() == Some("websocket")));
        if self.wire == Wire::WebSocket && self.choice == GmsTransport::Auto && !offers_websocket {
            // The server does not offer WebSocket here: handshake again over HTTP, as CometD
            // negotiates (the client id just given is abandoned).
            io.close(1000, "");
            self.wire = Wire::LongPolling;
            return self.handshake(io, now);
        }
        if self.wire == Wire::WebSocket {
            self.websocket_worked = true;
        }
        self.client_id = Some(client_id.to_string());
        self.phase = Phase::Connected;
        self.backoff.reset();
        self.meta_connect(true, io, now);
        self.down = false;
        self.events.push_back(BayeuxEvent::Connected);
    }

    fn on_connect(&mut self, io: &mut Io, msg: &Value, now: Millis) {
        if self.phase != Phase::Connected {
            return;
        }
        self.timers.cancel(Timer::ReplyTimeout);
        self.read_advice(msg);
        if msg.get("successful").and_then(Value::as_bool) == Some(true) {
            self.backoff.reset();
            if self.down {
                self.down = false;
                self.events.push_back(BayeuxEvent::Connected);
            }
            self.timers
                .set(Timer::NextConnect, now + self.connect_interval);
            return;
        }
        let error = msg.get("error").and_then(Value::as_str).unwrap_or_default();
        // CometD says `402::Unknown client`, faye `401:<id>:Unknown client`; both advise a
        // handshake, which is what is keyed on; the codes only cover a missing advice.
        let unknown_client = error.starts_with("402:") || error.starts_with("401:");
        match advice_reconnect(msg) {
            Some("none") => self.refuse(io, msg),
            Some("handshake") => self.rehandshake_after(self.connect_interval, now),
            _ if unknown_client => self.rehandshake_after(0, now),
            _ => {
                let delay = self.connect_interval + self.backoff.next_delay();
                self.timers.set(Timer::NextConnect, now + delay);
            }
        }
    }

    /// The server forgot this client: whatever it pushed since may be lost.
    fn rehandshake_after(&mut self, delay: Millis, now: Millis) {
        self.client_id = None;
        self.phase = Phase::Handshaking;
        self.report_lost();
        self.timers.set(Timer::Rehandshake, now + delay);
    }

    fn read_advice(&mut self, msg: &Value) {
        if let Some(advice) = msg.get("advice") {
            if let Some(t) = advice.get("timeout").and_then(Value::as_u64) {
                self.connect_timeout = t.min(600_000);
            }
            // A reply's advice replaces the previous one: a missing interval means 0.
            self.connect_interval = advice
                .get("interval")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                .clamp(0, 600_000) as Millis;
        }
    }

    fn refuse(&mut self, io: &mut Io, msg: &Value) {
        let reason = msg
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("the server refused the session")
            .to_string();
        self.close(io);
        self.events.push_back(BayeuxEvent::Refused(reason));
    }

    fn report_lost(&mut self) {
        if !self.down {
            self.down = true;
            self.events.push_back(BayeuxEvent::Lost);
        }
    }

    /// The connection failed: report it, and reconnect after the backoff (or at once on
    /// long-polling, when the WebSocket never worked and `auto` allows falling back).
    fn lost(&mut self, io: &mut Io, now: Millis) {
        if self.wire == Wire::WebSocket && self.phase != Phase::Idle {
            io.close(4000, "");
        }
        self.timers.clear();
        self.requests.clear();
        self.client_id = None;
        self.report_lost();
        if self.wire == Wire::WebSocket
            && self.choice == GmsTransport::Auto
            && !self.websocket_worked
        {
            self.wire = Wire::LongPolling;
            self.phase = Phase::WaitingToReconnect;
            self.timers.set(Timer::Reconnect, now);
            return;
        }
        let delay = self.backoff.next_delay();
        self.phase = Phase::WaitingToReconnect;
        self.timers.set(Timer::Reconnect, now + delay);
    }

    /// A deadline passed.
    pub fn handle_timeout(&mut self, io: &mut Io, now: Millis) {
        for timer in self.timers.take_due(now) {
            match timer {
                Timer::NextConnect if self.phase == Phase::Connected => {
                    self.meta_connect(false, io, now)
                }
                Timer::NextConnect => {}
                Timer::ReplyTimeout => self.lost(io, now),
                Timer::Reconnect => self.connect_transport(io, now),
                Timer::Rehandshake => self.handshake(io, now),
                Timer::CloseAfterDisconnect => self.close(io),
            }
        }
    }

    /// The browser is back online: reconnect now rather than after the backoff.
    pub fn handle_network_hint(&mut self, online: bool, io: &mut Io, now: Millis) {
        if online && self.phase == Phase::WaitingToReconnect {
            self.connect_transport(io, now);
        }
    }

    /// Drops the connection on purpose (a reply never came): reconnect as after a failure.
    pub fn drop_connection(&mut self, io: &mut Io, now: Millis) {
        if !matches!(
            self.phase,
            Phase::Idle | Phase::Closed | Phase::Disconnecting
        ) {
            self.lost(io, now);
        }
    }
}

fn advice_reconnect(msg: &Value) -> Option<&str> {
    msg.get("advice")
        .and_then(|a| a.get("reconnect"))
        .and_then(Value::as_str)
}
