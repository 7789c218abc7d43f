//! The one interface every backend implements, shaped like quinn-proto and str0m: inputs are
//! `handle_*`, application commands are plain methods, outputs are drained with `poll_*`.
//!
//! After every input or command the driver drains, in this order, `poll_socket`, `poll_http`,
//! `poll_event`, then asks `poll_timeout` for the next deadline.

use super::event::ChatEvent;
use super::message::RichAnswer;
use super::Millis;
use serde::{Deserialize, Serialize};

/// Identifies an HTTP request so its response can be handed back.
pub type RequestId = u64;

/// What the core asks the driver to do with the (single) WebSocket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocketCommand {
    /// Open a socket to `url`, offering these sub-protocols.
    Open {
        /// ws:// or wss:// URL.
        url: String,
        /// Sub-protocols to offer (ActionCable needs `actioncable-v1-json`).
        protocols: Vec<String>,
    },
    /// Send one text frame on the open socket.
    Send(String),
    /// Close the socket. The core already treats it as closed: the driver reports no
    /// `handle_close` for a socket the core closed itself, and drops anything a socket
    /// replaced by a newer `Open` still delivers.
    Close {
        /// WebSocket close code.
        code: u16,
        /// Close reason.
        reason: String,
    },
}

/// HTTP method of a request the core wants made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMethod {
    /// GET
    Get,
    /// POST
    Post,
    /// PATCH
    Patch,
}

/// An HTTP request the core wants made; the answer comes back through `handle_http_response`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// Echoed back with the response.
    pub id: RequestId,
    /// Method.
    pub method: HttpMethod,
    /// Absolute URL.
    pub url: String,
    /// JSON body, if any.
    pub body: Option<String>,
    /// The driver gives up after this long and reports status 0, so one hung request cannot
    /// hold up everything queued behind it.
    pub timeout: Millis,
    /// Send cookies cross-origin (`credentials: "include"`), as CometD's long-polling does:
    /// CometD ≥ 3.0.6 finds a long-polling session by its `BAYEUX_BROWSER` cookie.
    pub with_credentials: bool,
}

/// Who the visitor is, as far as the host page told us.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorProfile {
    /// Display name.
    pub name: Option<String>,
    /// Email address.
    pub email: Option<String>,
}

/// A chat backend: one protocol's whole state machine.
pub trait ChatBackend {
    /// Start (or resume from the snapshot the backend was built with).
    fn start(&mut self, now: Millis);
    /// The socket the core asked for is open.
    fn handle_open(&mut self, now: Millis);
    /// A text frame arrived.
    fn handle_text(&mut self, frame: &str, now: Millis);
    /// The socket closed (by either side, or failed to open: code 1006).
    fn handle_close(&mut self, code: u16, reason: &str, now: Millis);
    /// An HTTP request the core asked for finished (status 0 = network error).
    fn handle_http_response(&mut self, id: RequestId, status: u16, body: &str, now: Millis);
    /// The deadline from `poll_timeout` has passed.
    fn handle_timeout(&mut self, now: Millis);
    /// The browser went offline/online or the tab became visible: reconnect now if down.
    fn handle_network_hint(&mut self, online: bool, now: Millis);

    /// Send a visitor message; `client_id` is unique per message and makes retries idempotent.
    fn send_message(&mut self, client_id: &str, text: &str, now: Millis);
    /// The visitor started or stopped typing.
    fn set_typing(&mut self, typing: bool, now: Millis);
    /// The visitor has seen everything shown so far.
    fn mark_read(&mut self, now: Millis);
    /// Update the visitor's name/email.
    fn set_visitor(&mut self, profile: VisitorProfile, now: Millis);
    /// The visitor ends the conversation.
    fn end_chat(&mut self, now: Millis);
    /// The visitor answered the rich content (options, form, rating) of message `message_id`.
    /// Only backends that produce [`crate::core::RichContent`] receive this; the others have
    /// nothing to answer and ignore it.
    fn submit_answer(&mut self, message_id: &str, answer: RichAnswer, now: Millis) {
        let _ = (message_id, answer, now);
    }

    /// Next socket command, if any.
    fn poll_socket(&mut self) -> Option<SocketCommand>;
    /// Next HTTP request, if any.
    fn poll_http(&mut self) -> Option<HttpRequest>;
    /// Next event, if any.
    fn poll_event(&mut self) -> Option<ChatEvent>;
    /// Earliest deadline at which `handle_timeout` must be called.
    fn poll_timeout(&self) -> Option<Millis>;

    /// Serialized session state to persist, so a page reload resumes the same conversation.
    fn snapshot(&self) -> String;
}
