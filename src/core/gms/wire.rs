//! Chat V2 transcript events as the visitor sees them. Event types and fields: the seed sample,
//! Genesys' GMSLibrary (`ChatV2Message`) and the Chat V2 response format (`messages[]` of
//! `{index, type, from{nickname, participantId, type}, text, utcTime}`).

use super::super::event::ChatEvent;
use super::super::message::{safe_url, Author, ChatMessage, DeliveryStatus, Role};
use super::super::Millis;
use super::order::index_of;
use serde_json::Value;

/// What one transcript event means for the widget.
#[derive(Debug, PartialEq)]
pub enum Decoded {
    /// A `Message` from the `Client` party: the visitor's own, confirming a sent message by
    /// its position, or one sent before this page.
    OwnMessage(Box<ChatMessage>),
    /// Things to show.
    Show(Vec<ChatEvent>),
    /// The server closed the chat (`IdleClose`).
    Closed,
    /// Nothing the visitor sees (their own typing echo, file limits notices).
    Nothing,
    /// A type this widget does not know: ignored, with this name logged.
    Unknown(String),
}

/// Decodes one transcript event of chat `chat_id`; `now` stands in for a missing `utcTime`.
pub fn decode(m: &Value, chat_id: &str, now: Millis) -> Decoded {
    let from = m.get("from");
    let party = from
        .and_then(|f| f.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("Agent");
    let is_client = party == "Client";
    let author = Author {
        role: match party {
            "Client" => Role::Visitor,
            "External" => Role::Bot,
            _ => Role::Agent,
        },
        name: from
            .and_then(|f| f.get("nickname"))
            .and_then(Value::as_str)
            .map(str::to_string),
        avatar_url: None,
    };
    let text = m
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let index = index_of(m);
    let message = |text: String, author: Author| ChatMessage {
        id: match index {
            Some(i) => format!("gms-{chat_id}-{i}"),
            None => format!("gms-{chat_id}-t{now}"),
        },
        client_id: None,
        author,
        text,
        sent_at: m
            .get("utcTime")
            .and_then(Value::as_i64)
            .unwrap_or(now as i64),
        status: DeliveryStatus::Sent,
        quick_replies: Vec::new(),
        attachments: Vec::new(),
        rich: None,
        seq: index,
    };
    let show = |e: ChatEvent| Decoded::Show(vec![e]);
    match m.get("type").and_then(Value::as_str).unwrap_or_default() {
        "Message" if is_client => Decoded::OwnMessage(Box::new(message(text, author))),
        "Message" | "PushUrl" => {
            let text = if text.is_empty() {
                m.get("url")
                    .and_then(Value::as_str)
                    .and_then(safe_url)
                    .unwrap_or_default()
            } else {
                text
            };
            if text.is_empty() {
                Decoded::Nothing
            } else {
                show(ChatEvent::MessageAdded(message(text, author)))
            }
        }
        "ParticipantJoined" if !is_client => Decoded::Show(vec![
            ChatEvent::AgentChanged(Some(author)),
            ChatEvent::PresenceChanged(super::super::event::Presence::Online),
        ]),
        "ParticipantLeft" if !is_client => Decoded::Show(vec![
            ChatEvent::TypingStopped(author),
            ChatEvent::PresenceChanged(super::super::event::Presence::Offline),
        ]),
        "NicknameUpdated" if !is_client => show(ChatEvent::AgentChanged(Some(author))),
        "TypingStarted" if !is_client => show(ChatEvent::TypingStarted(author)),
        "TypingStopped" if !is_client => show(ChatEvent::TypingStopped(author)),
        "Notice" | "CustomNotice" | "IdleAlert" => {
            // "file-client-cfg-get" notices carry file limits, not words for the visitor.
            if text.is_empty() || text == "file-client-cfg-get" {
                Decoded::Nothing
            } else {
                show(ChatEvent::MessageAdded(message(
                    text,
                    Author::new(Role::System),
                )))
            }
        }
        "FileUploaded" if !is_client => {
            let name = m
                .get("userData")
                .and_then(|u| u.get("file-name"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or(text);
            if name.is_empty() {
                Decoded::Nothing
            } else {
                show(ChatEvent::MessageAdded(message(
                    format!("📎 {name}"),
                    author,
                )))
            }
        }
        "IdleClose" => Decoded::Closed,
        // The visitor's own joins/leaves/typing echoes, and deleted files, show nothing.
        "ParticipantJoined" | "ParticipantLeft" | "NicknameUpdated" | "TypingStarted"
        | "TypingStopped" | "FileUploaded" | "FileDeleted" => Decoded::Nothing,
        other => Decoded::Unknown(other.to_string()),
    }
}

/// The `advice` texts of a Chat V2 error answer, or its status code when it has none.
pub fn error_detail(data: &Value, status: i64) -> String {
    let advice: Vec<&str> = data
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e.get("advice").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if advice.is_empty() {
        format!("statusCode {status}")
    } else {
        advice.join("; ")
    }
}
