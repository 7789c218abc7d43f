//! What a backend tells the rest of the widget.

use super::message::{Author, ChatMessage};
use super::Millis;
use serde::{Deserialize, Serialize};

/// Agent availability as the visitor sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// An agent is there.
    Online,
    /// An agent is assigned but busy or away.
    Away,
    /// Nobody is there.
    Offline,
}

/// The transport as the visitor sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// First connection attempt under way.
    Connecting,
    /// Connected and subscribed: messages flow.
    Online,
    /// Lost; the next attempt happens at `next_attempt_at` (caller's clock).
    Reconnecting {
        /// How many attempts have failed in a row.
        attempt: u32,
        /// When the next attempt starts.
        next_attempt_at: Millis,
    },
    /// Not connected and not trying (browser offline, or gave up).
    Offline,
    /// The conversation is over; no connection is needed.
    Ended,
}

/// The conversation's status on the backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationStatus {
    /// Waiting for or talking to an agent.
    Open,
    /// Queued / pending / snoozed.
    Pending,
    /// Resolved by the agent; the visitor may still write (it reopens).
    Resolved,
    /// Over for good.
    Ended,
}

/// Errors a backend reports. Typed, so the UI can choose a message without matching strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatError {
    /// A required setting is missing or malformed (names the setting).
    Config(String),
    /// The server refused the session (bad token, unknown inbox, rejected subscription).
    Unauthorized(String),
    /// The server answered with an error status or an error payload.
    Server(String),
    /// A frame or body could not be decoded; it was ignored.
    Protocol(String),
    /// A visitor message could not be sent (names its client id).
    SendFailed(String),
    /// The server refused the visitor's answer to a message's rich content (names the
    /// message id); the control is offered again.
    AnswerFailed(String),
}

impl ChatError {
    /// The error's kind as the host page reads it in `chatwidget:error` (`config`, `server`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            ChatError::Config(_) => "config",
            ChatError::Unauthorized(_) => "unauthorized",
            ChatError::Server(_) => "server",
            ChatError::Protocol(_) => "protocol",
            ChatError::SendFailed(_) => "send_failed",
            ChatError::AnswerFailed(_) => "answer_failed",
        }
    }

    /// What the error is about (the setting, the status, the client id, …).
    pub fn detail(&self) -> &str {
        match self {
            ChatError::Config(d)
            | ChatError::Unauthorized(d)
            | ChatError::Server(d)
            | ChatError::Protocol(d)
            | ChatError::SendFailed(d)
            | ChatError::AnswerFailed(d) => d,
        }
    }
}

impl std::fmt::Display for ChatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatError::Config(d) => write!(f, "configuration: {d}"),
            ChatError::Unauthorized(d) => write!(f, "unauthorized: {d}"),
            ChatError::Server(d) => write!(f, "server error: {d}"),
            ChatError::Protocol(d) => write!(f, "protocol error: {d}"),
            ChatError::SendFailed(d) => write!(f, "message not sent: {d}"),
            ChatError::AnswerFailed(d) => write!(f, "answer to message {d} not accepted"),
        }
    }
}

/// Everything a backend can tell the widget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatEvent {
    /// A message to show (new, or the server's copy of one the visitor sent).
    MessageAdded(ChatMessage),
    /// A message changed (text edited, status advanced). Matched by `id` or `client_id`.
    MessageUpdated(ChatMessage),
    /// A message the visitor was already shown before a page reload, fetched again: shown in
    /// its place, never counted as unread and never announced again.
    MessageRestored(ChatMessage),
    /// A message was deleted on the server: it disappears (matched by `id` or `client_id`).
    MessageRemoved(String),
    /// Someone started typing.
    TypingStarted(Author),
    /// Someone stopped typing.
    TypingStopped(Author),
    /// The agent looking after the conversation changed (assignment, join).
    AgentChanged(Option<Author>),
    /// Agent availability changed.
    PresenceChanged(Presence),
    /// Transport state changed.
    ConnectionChanged(ConnectionState),
    /// Conversation status changed.
    ConversationStatusChanged(ConversationStatus),
    /// Something went wrong; the widget keeps running.
    Error(ChatError),
}
