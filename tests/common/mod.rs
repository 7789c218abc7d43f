//! A sans-IO test peer: feeds frames and responses to a backend, jumps a virtual clock from
//! deadline to deadline, and records exactly what came out.
#![allow(dead_code)]

use chat_widget::core::{
    ChatBackend, ChatEvent, ConnectionState, HttpRequest, Millis, SocketCommand,
};

/// A backend under test with everything it produced so far.
pub struct Peer<B: ChatBackend> {
    pub backend: B,
    pub now: Millis,
    pub frames: Vec<String>,
    pub opens: Vec<String>,
    pub closes: Vec<u16>,
    pub http: Vec<HttpRequest>,
    pub events: Vec<ChatEvent>,
}

impl<B: ChatBackend> Peer<B> {
    pub fn new(backend: B) -> Self {
        Peer {
            backend,
            now: 1_000_000,
            frames: vec![],
            opens: vec![],
            closes: vec![],
            http: vec![],
            events: vec![],
        }
    }

    /// Drains every output queue, in the driver's order.
    pub fn drain(&mut self) {
        while let Some(cmd) = self.backend.poll_socket() {
            match cmd {
                SocketCommand::Open { url, .. } => self.opens.push(url),
                SocketCommand::Send(f) => self.frames.push(f),
                SocketCommand::Close { code, .. } => self.closes.push(code),
            }
        }
        while let Some(r) = self.backend.poll_http() {
            self.http.push(r);
        }
        while let Some(e) = self.backend.poll_event() {
            self.events.push(e);
        }
    }

    pub fn start(&mut self) {
        self.backend.start(self.now);
        self.drain();
    }

    pub fn open(&mut self) {
        self.backend.handle_open(self.now);
        self.drain();
    }

    pub fn recv(&mut self, frame: &str) {
        self.backend.handle_text(frame, self.now);
        self.drain();
    }

    pub fn close(&mut self, code: u16) {
        self.backend.handle_close(code, "", self.now);
        self.drain();
    }

    pub fn respond(&mut self, id: u64, status: u16, body: &str) {
        self.backend
            .handle_http_response(id, status, body, self.now);
        self.drain();
    }

    /// Advances the clock by `ms`, firing every deadline on the way.
    pub fn advance(&mut self, ms: Millis) {
        let until = self.now + ms;
        while let Some(t) = self.backend.poll_timeout().filter(|t| *t <= until) {
            self.now = self.now.max(t);
            self.backend.handle_timeout(self.now);
            self.drain();
        }
        self.now = until;
    }

    /// Advances to the next deadline, whatever it is.
    pub fn advance_to_next_deadline(&mut self) {
        let t = self.backend.poll_timeout().expect("a deadline");
        self.advance(t.saturating_sub(self.now));
    }

    pub fn take_frames(&mut self) -> Vec<String> {
        std::mem::take(&mut self.frames)
    }

    pub fn take_events(&mut self) -> Vec<ChatEvent> {
        std::mem::take(&mut self.events)
    }

    pub fn take_http(&mut self) -> Vec<HttpRequest> {
        std::mem::take(&mut self.http)
    }

    /// Texts of every message added or updated, in order.
    pub fn message_texts(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                ChatEvent::MessageAdded(m) => Some(m.text.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn last_connection(&self) -> Option<ConnectionState> {
        self.events.iter().rev().find_map(|e| match e {
            ChatEvent::ConnectionChanged(c) => Some(*c),
            _ => None,
        })
    }

    /// How long until the next reconnect attempt; panics unless the backend is reconnecting.
    pub fn reconnect_delay(&self) -> u64 {
        match self.last_connection() {
            Some(ConnectionState::Reconnecting {
                next_attempt_at, ..
            }) => next_attempt_at - self.now,
            other => panic!("expected reconnecting, got {other:?}"),
        }
    }
}

/// Parses a frame for comparisons that ignore key order.
pub fn json(frame: &str) -> serde_json::Value {
    serde_json::from_str(frame).unwrap_or_else(|e| panic!("not JSON: {frame}: {e}"))
}
