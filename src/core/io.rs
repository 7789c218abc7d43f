//! Output queues every backend drains through `poll_*`, plus guarded JSON decoding.

use super::backend::{HttpMethod, HttpRequest, RequestId, SocketCommand};
use super::event::{ChatError, ChatEvent, ConnectionState, ConversationStatus};
use super::message::{ChatMessage, DeliveryStatus};
use super::outbox::Outbox;
use std::collections::VecDeque;

/// How long an HTTP request may take before the driver aborts it (reported as status 0).
pub const HTTP_TIMEOUT: u64 = 15_000;

/// Frames and bodies larger than this are rejected without parsing. Room for a 1 MB message
/// with its envelope and escaping (Chatwoot itself caps content at 150,000 characters).
pub const MAX_INPUT_BYTES: usize = 4 << 20;

/// Why an input could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Larger than [`MAX_INPUT_BYTES`].
    TooLarge(usize),
    /// Not JSON.
    NotJson(String),
    /// JSON, but not the expected shape.
    Shape(&'static str),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::TooLarge(n) => write!(
                f,
                "input of {n} bytes exceeds the {MAX_INPUT_BYTES}-byte limit"
            ),
            DecodeError::NotJson(e) => write!(f, "not JSON: {e}"),
            DecodeError::Shape(what) => write!(f, "unexpected shape: {what}"),
        }
    }
}

/// Parses JSON after checking the size limit.
pub fn parse_json(input: &str) -> Result<serde_json::Value, DecodeError> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(DecodeError::TooLarge(input.len()));
    }
    serde_json::from_str(input).map_err(|e| DecodeError::NotJson(e.to_string()))
}

/// The queues behind `poll_socket`, `poll_http` and `poll_event`.
#[derive(Debug, Default)]
pub struct Io {
    socket: VecDeque<SocketCommand>,
    http: VecDeque<HttpRequest>,
    events: VecDeque<ChatEvent>,
    next_request_id: RequestId,
    connection: Option<ConnectionState>,
}

impl Io {
    /// Asks for a socket to `url`.
    pub fn open(&mut self, url: String, protocols: &[&str]) {
        self.socket.push_back(SocketCommand::Open {
            url,
            protocols: protocols.iter().map(|p| p.to_string()).collect(),
        });
    }

    /// Queues a text frame.
    pub fn send(&mut self, frame: String) {
        self.socket.push_back(SocketCommand::Send(frame));
    }

    /// Asks for the socket to close.
    pub fn close(&mut self, code: u16, reason: &str) {
        self.socket.push_back(SocketCommand::Close {
            code,
            reason: reason.into(),
        });
    }

    /// Queues an HTTP request; returns its id.
    pub fn request(&mut self, method: HttpMethod, url: String, body: Option<String>) -> RequestId {
        self.next_request_id += 1;
        let id = self.next_request_id;
        self.http.push_back(HttpRequest {
            id,
            method,
            url,
            body,
            timeout: HTTP_TIMEOUT,
            with_credentials: false,
        });
        id
    }

    /// Queues a POST with a JSON body that may take up to `timeout` ms (a long poll), sent
    /// with the browser's cookies for that server (see [`HttpRequest::with_credentials`]);
    /// returns its id.
    pub fn request_with_timeout(
        &mut self,
        method: HttpMethod,
        url: String,
        body: String,
        timeout: u64,
    ) -> RequestId {
        let id = self.request(method, url, Some(body));
        if let Some(last) = self.http.back_mut() {
            last.timeout = timeout;
            last.with_credentials = true;
        }
        id
    }

    /// Queues an event.
    pub fn emit(&mut self, event: ChatEvent) {
        self.events.push_back(event);
    }

    /// Reports a decoding problem; the input is dropped and the backend carries on.
    pub fn protocol_error(&mut self, what: &str, err: impl std::fmt::Display) {
        self.emit(ChatEvent::Error(ChatError::Protocol(format!(
            "{what}: {err}"
        ))));
    }

    /// Emits a connection change, once per actual change.
    pub fn set_connection(&mut self, state: ConnectionState) {
        if self.connection != Some(state) {
            self.connection = Some(state);
            self.emit(ChatEvent::ConnectionChanged(state));
        }
    }

    /// Shows messages still waiting from before a reload as pending.
    pub fn announce_pending(&mut self, outbox: &Outbox, now: u64) {
        for n in outbox.not_sent() {
            self.emit(ChatEvent::MessageAdded(ChatMessage::visitor(
                &n.client_id,
                n.text.clone(),
                now as i64,
                DeliveryStatus::Failed,
            )));
        }
        for item in outbox.items() {
            self.emit(ChatEvent::MessageAdded(ChatMessage::visitor(
                &item.client_id,
                item.text.clone(),
                now as i64,
                DeliveryStatus::Pending,
            )));
        }
    }

    /// Reports every message still waiting as not sent (shown with Retry, text kept): the
    /// conversation they were meant for is over, so they must not vanish silently.
    /// They move to the outbox's not-sent list, which the caller keeps in its snapshot.
    pub fn fail_pending(&mut self, outbox: &mut Outbox) {
        for n in outbox.give_up_all() {
            self.emit(ChatEvent::Error(ChatError::SendFailed(n.client_id)));
        }
    }

    /// The conversation is over.
    pub fn conversation_ended(&mut self) {
        self.emit(ChatEvent::ConversationStatusChanged(
            ConversationStatus::Ended,
        ));
        self.set_connection(ConnectionState::Ended);
    }

    /// Next socket command.
    pub fn poll_socket(&mut self) -> Option<SocketCommand> {
        self.socket.pop_front()
    }

    /// Next HTTP request.
    pub fn poll_http(&mut self) -> Option<HttpRequest> {
        self.http.pop_front()
    }

    /// Next event.
    pub fn poll_event(&mut self) -> Option<ChatEvent> {
        self.events.pop_front()
    }
}

/// A small set of named deadlines; the earliest is what `poll_timeout` reports.
#[derive(Debug)]
pub struct Timers<K: Copy + PartialEq> {
    deadlines: Vec<(K, u64)>,
}

impl<K: Copy + PartialEq> Default for Timers<K> {
    fn default() -> Self {
        Timers {
            deadlines: Vec::new(),
        }
    }
}

impl<K: Copy + PartialEq> Timers<K> {
    /// Sets (or moves) timer `key` to fire at `at`.
    pub fn set(&mut self, key: K, at: u64) {
        self.cancel(key);
        self.deadlines.push((key, at));
    }

    /// Cancels timer `key`.
    pub fn cancel(&mut self, key: K) {
        self.deadlines.retain(|(k, _)| *k != key);
    }

    /// Whether `key` is armed.
    pub fn is_set(&self, key: K) -> bool {
        self.deadlines.iter().any(|(k, _)| *k == key)
    }

    /// Cancels everything.
    pub fn clear(&mut self) {
        self.deadlines.clear();
    }

    /// Removes and returns the timers due at `now`, earliest first.
    pub fn take_due(&mut self, now: u64) -> Vec<K> {
        let mut due: Vec<(K, u64)> = self
            .deadlines
            .iter()
            .copied()
            .filter(|(_, t)| *t <= now)
            .collect();
        due.sort_by_key(|(_, t)| *t);
        self.deadlines.retain(|(_, t)| *t > now);
        due.into_iter().map(|(k, _)| k).collect()
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<u64> {
        self.deadlines.iter().map(|(_, t)| *t).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_and_malformed_input_is_a_typed_error() {
        let big = format!("\"{}\"", "x".repeat(MAX_INPUT_BYTES));
        assert!(matches!(parse_json(&big), Err(DecodeError::TooLarge(_))));
        assert!(matches!(parse_json("{"), Err(DecodeError::NotJson(_))));
        assert_eq!(parse_json("[1]").unwrap(), serde_json::json!([1]));
    }

    #[test]
    fn connection_changes_are_emitted_once() {
        let mut io = Io::default();
        io.set_connection(ConnectionState::Online);
        io.set_connection(ConnectionState::Online);
        assert_eq!(
            io.poll_event(),
            Some(ChatEvent::ConnectionChanged(ConnectionState::Online))
        );
        assert_eq!(io.poll_event(), None);
    }

    #[test]
    fn timers_fire_in_deadline_order() {
        let mut t = Timers::default();
        t.set('a', 30);
        t.set('b', 10);
        t.set('a', 20);
        assert_eq!(t.next(), Some(10));
        assert_eq!(t.take_due(25), ['b', 'a']);
        assert_eq!(t.next(), None);
    }
}
