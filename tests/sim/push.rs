//! A sans-IO model of the Push server of the SocketCluster era, from the sources the Push
//! issue cites:
//! - socketcluster-server v9: `#handshake` answered `{id, pingTimeout, isAuthenticated}`; a
//!   ping `#1` every `pingInterval` (8 s); `#subscribe` answered and effective at once; a
//!   publish goes to the sockets subscribed at that moment and to no one else (no mailbox, no
//!   history); an emit nobody listens to is never answered; frames of one socket are handled
//!   in order; `setAuthToken` sends `#setAuthToken`.
//! - Push (push-webchat <= 1.8.0): `registerUser` answers `{"urn": …}` as a JSON string in the
//!   error slot; `sendMessageToChannel {text, userUrn}` is never acknowledged and has no id.
//! - courier's External channel: agent messages are `{id, text, to, to_no_plus, from,
//!   from_no_plus, channel, metadata, quick_replies}`, split at the channel's max length into
//!   parts sharing one `id`, quick replies on the last part.
//! - Unknown, drawn per seed ([`Config`]): acknowledgements (a later server), `#subscribe`
//!   unanswered (a re-implementation), both delivery paths, `getHistory` answered (later
//!   servers), `#setAuthToken` on registration, the split length.

use super::{ConnId, Outbound, Rng, ServerModel, ServerOut};
use chat_widget::core::{HttpRequest, Millis};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

/// The host the simulated widget is configured with.
pub const HOST: &str = "https://push.sim";
/// socketcluster-server's defaults.
const PING_INTERVAL: Millis = 8_000;
const PING_TIMEOUT: Millis = 20_000;

/// The server's unknown behaviours, drawn per seed.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// `sendMessageToChannel` with a callback is answered.
    pub ack: bool,
    /// `#subscribe` is answered (socketcluster does; a re-implementation does not).
    pub subscribe_answer: bool,
    /// Each body is also emitted as `receivedMessageFromChannel`.
    pub both_paths: bool,
    /// `getHistory {urn}` is answered with every body published to the urn.
    pub history: bool,
    /// `registerUser` also sets an auth token.
    pub set_auth_token: bool,
    /// Courier's split length.
    pub split_length: usize,
}

/// One published part, and who could receive it.
#[derive(Clone, Debug)]
pub struct Published {
    /// Courier message id (shared by the parts of one message).
    pub id: u64,
    /// The urn it was for.
    pub urn: String,
    /// Its text.
    pub text: String,
    /// When it was published.
    pub at: Millis,
    /// Sockets subscribed to the urn then.
    pub subscribers: usize,
    /// The body.
    pub payload: Value,
}

#[derive(Debug, Default)]
struct Conn {
    subscribed: BTreeSet<String>,
    next_ping: Millis,
}

/// The model.
pub struct Push {
    rng: Rng,
    /// Drawn behaviours.
    pub cfg: Config,
    conns: HashMap<ConnId, Conn>,
    next_urn: u64,
    next_message: u64,
    /// The urn the agent talks to (the last registered).
    pub urn: Option<String>,
    /// What visitors sent, in arrival order: (urn, text, time).
    pub received: Vec<(String, String, Millis)>,
    /// Every part published.
    pub published: Vec<Published>,
    /// Auth tokens the server still honours.
    tokens: BTreeSet<String>,
    /// Handshakes that presented a token the server knew.
    pub authenticated_handshakes: u32,
    pending: Outbound,
}

impl Push {
    /// A server with drawn behaviours.
    pub fn new(seed: u64, cfg: Config) -> Self {
        Push {
            rng: Rng::new(seed.rotate_left(29) ^ 0x5c),
            cfg,
            conns: HashMap::new(),
            next_urn: 0,
            next_message: 0,
            urn: None,
            received: Vec::new(),
            published: Vec::new(),
            tokens: BTreeSet::new(),
            authenticated_handshakes: 0,
            pending: Outbound::default(),
        }
    }

    fn later(&mut self, at: Millis, out: ServerOut) {
        self.pending.push(at, out);
    }

    fn send(&mut self, conn: ConnId, packet: Value, now: Millis) {
        self.later(now, ServerOut::Frame(conn, packet.to_string()));
    }

    /// A restart: every socket goes (the harness drops them); `forget` also invalidates the
    /// auth tokens it gave.
    pub fn restart(&mut self, forget: bool) {
        self.conns.clear();
        self.pending.clear();
        if forget {
            self.tokens.clear();
        }
    }

    /// Courier's split: at the last whitespace before `max` characters, else hard.
    fn split(&self, text: &str) -> Vec<String> {
        let max = self.cfg.split_length.max(10);
        let mut parts = Vec::new();
        let mut rest: Vec<char> = text.chars().collect();
        while rest.len() > max {
            let cut = rest[..max]
                .iter()
                .rposition(|c| c.is_whitespace())
                .filter(|&i| i > 0)
                .unwrap_or(max);
            let part: String = rest[..cut].iter().collect();
            parts.push(part.trim().to_string());
            rest = rest[cut..].to_vec();
            while rest.first().is_some_and(|c| c.is_whitespace()) {
                rest.remove(0);
            }
        }
        parts.push(rest.iter().collect::<String>().trim().to_string());
        parts.retain(|p| !p.is_empty());
        parts
    }

    /// The agent writes to the visitor: one courier message, split into parts.
    pub fn agent_says(&mut self, text: &str, quick_replies: &[&str], now: Millis) {
        let Some(urn) = self.urn.clone() else {
            return;
        };
        self.next_message += 1;
        let id = self.next_message;
        let parts = self.split(text);
        let n = parts.len();
        for (i, part) in parts.into_iter().enumerate() {
            let qr: Vec<&str> = if i + 1 == n {
                quick_replies.to_vec()
            } else {
                Vec::new()
            };
            let payload = json!({
                "id": id, "text": part, "to": urn, "to_no_plus": urn, "from": "push-channel",
                "from_no_plus": "push-channel", "channel": "cf3d62bc", "metadata": {},
                "quick_replies": qr,
            });
            let subscribers: Vec<ConnId> = self
                .conns
                .iter()
                .filter(|(_, c)| c.subscribed.contains(&urn))
                .map(|(id, _)| *id)
                .collect();
            for conn in &subscribers {
                self.send(
                    *conn,
                    json!({"event": "#publish", "data": {"channel": urn, "data": payload}}),
                    now,
                );
                if self.cfg.both_paths {
                    self.send(
                        *conn,
                        json!({"event": "receivedMessageFromChannel", "data": payload}),
                        now,
                    );
                }
            }
            self.published.push(Published {
                id,
                urn: urn.clone(),
                text: part,
                at: now,
                subscribers: subscribers.len(),
                payload,
            });
        }
    }

    fn packet(&mut self, conn: ConnId, p: &Value, now: Millis) {
        let event = p["event"].as_str().unwrap_or_default();
        let cid = p.get("cid").and_then(Value::as_u64);
        let data = &p["data"];
        match event {
            "#handshake" => {
                // A signed token string in socketcluster; here "tok:<urn>".
                let token = data["authToken"].as_str().map(str::to_string);
                let known = token.as_ref().is_some_and(|t| self.tokens.contains(t));
                if known {
                    self.authenticated_handshakes += 1;
                }
                if let Some(cid) = cid {
                    self.send(
                        conn,
                        json!({"rid": cid, "data": {"id": format!("s{conn}"), "pingTimeout": PING_TIMEOUT, "isAuthenticated": known}}),
                        now,
                    );
                }
            }
            "registerUser" => {
                let urn = match data["id"].as_str() {
                    Some(id) => format!("ext:{id}"),
                    None => {
                        self.next_urn += 1;
                        format!("urn-{}", self.next_urn)
                    }
                };
                self.urn = Some(urn.clone());
                if self.cfg.set_auth_token {
                    let token = format!("tok:{urn}");
                    self.tokens.insert(token.clone());
                    self.send(
                        conn,
                        json!({"event": "#setAuthToken", "data": {"token": token}}),
                        now,
                    );
                }
                if let Some(cid) = cid {
                    let answer = json!({"urn": urn}).to_string();
                    self.send(conn, json!({"rid": cid, "error": answer}), now);
                }
            }
            "#subscribe" => {
                if let Some(channel) = data["channel"].as_str() {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.subscribed.insert(channel.to_string());
                    }
                }
                if let (Some(cid), true) = (cid, self.cfg.subscribe_answer) {
                    self.send(conn, json!({"rid": cid}), now);
                }
            }
            "#unsubscribe" => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.subscribed.remove(data.as_str().unwrap_or_default());
                }
            }
            "sendMessageToChannel" => {
                let urn = data["userUrn"].as_str().unwrap_or_default().to_string();
                let text = data["text"].as_str().unwrap_or_default().to_string();
                self.received.push((urn, text, now));
                if let (Some(cid), true) = (cid, self.cfg.ack) {
                    self.send(conn, json!({"rid": cid, "data": "success"}), now);
                }
            }
            "getHistory" => {
                if let (Some(cid), true) = (cid, self.cfg.history) {
                    let urn = data["urn"].as_str().unwrap_or_default();
                    let bodies: Vec<Value> = self
                        .published
                        .iter()
                        .filter(|p| p.urn == urn)
                        .map(|p| p.payload.clone())
                        .collect();
                    self.send(conn, json!({"rid": cid, "data": bodies}), now);
                }
            }
            // `#disconnect`, answers to our emits, anything else: nothing to do.
            _ => {}
        }
    }
}

impl ServerModel for Push {
    fn connect(&mut self, conn: ConnId, now: Millis) -> bool {
        let jitter = self.rng.range(0, 500);
        self.conns.insert(
            conn,
            Conn {
                subscribed: BTreeSet::new(),
                next_ping: now + PING_INTERVAL + jitter,
            },
        );
        true
    }

    fn frame(&mut self, conn: ConnId, text: &str, now: Millis) {
        if !self.conns.contains_key(&conn) || text == "#2" {
            return;
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(packets)) => {
                for p in packets {
                    self.packet(conn, &p, now);
                }
            }
            Ok(p) => self.packet(conn, &p, now),
            Err(_) => {}
        }
    }

    fn closed(&mut self, conn: ConnId, _now: Millis) {
        self.conns.remove(&conn);
        self.pending.forget_conn(conn);
    }

    fn http(&mut self, _req: &HttpRequest, _now: Millis) -> Option<(u16, String)> {
        Some((404, String::new()))
    }

    fn poll(&mut self, now: Millis) -> Vec<ServerOut> {
        let due: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.next_ping <= now)
            .map(|(id, _)| *id)
            .collect();
        for conn in due {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.next_ping = now + PING_INTERVAL;
            }
            self.later(now, ServerOut::Frame(conn, "#1".into()));
        }
        self.pending.due(now)
    }

    fn next_deadline(&self) -> Option<Millis> {
        let pings = self.conns.values().map(|c| c.next_ping);
        self.pending.next().into_iter().chain(pings).min()
    }
}
