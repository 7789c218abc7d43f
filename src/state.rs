//! Everything the UI shows, as plain data, and how each [`ChatEvent`] changes it. The reactive
//! store wraps this in a signal; keeping the transitions here makes them testable natively.

use crate::core::transcript::Applied;
use crate::core::{
    Author, ChatError, ChatEvent, ChatMessage, ConnectionState, ConversationStatus, DeliveryStatus,
    Millis, Presence, Role, Transcript,
};

/// How long an agent typing indicator may stay without a new typing event.
pub const TYPING_TIMEOUT: Millis = 30_000;

/// Something the embed layer should tell the host page or a screen reader about.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // Short-lived, one at a time: boxing buys nothing.
pub enum Notice {
    /// A message from the agent side arrived.
    IncomingMessage(ChatMessage),
    /// An error the host page should hear about.
    Error(ChatError),
}

/// The widget's whole visible state.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatState {
    /// The messages.
    pub transcript: Transcript,
    /// Who is typing, and until when the indicator may stay without news.
    pub typing: Option<(Author, Millis)>,
    /// The agent looking after the conversation.
    pub agent: Option<Author>,
    /// Agent availability; `None` until the backend says (Push never does).
    pub presence: Option<Presence>,
    /// Transport state.
    pub connection: ConnectionState,
    /// Conversation status.
    pub conversation: ConversationStatus,
    /// Agent messages that arrived while the window was closed.
    pub unread: u32,
    /// Whether the chat window is open.
    pub is_open: bool,
    /// A problem that stops the widget from working at all (configuration), shown in place of
    /// the conversation.
    pub fatal: Option<ChatError>,
    /// The last non-fatal error, shown briefly.
    pub last_error: Option<ChatError>,
}

impl Default for ChatState {
    fn default() -> Self {
        ChatState {
            transcript: Transcript::default(),
            typing: None,
            agent: None,
            presence: None,
            connection: ConnectionState::Connecting,
            conversation: ConversationStatus::Open,
            unread: 0,
            is_open: false,
            fatal: None,
            last_error: None,
        }
    }
}

impl ChatState {
    /// Applies one backend event at `now`; returns what the outside world should hear.
    pub fn apply(&mut self, event: ChatEvent, now: Millis) -> Option<Notice> {
        match event {
            ChatEvent::MessageAdded(message) | ChatEvent::MessageUpdated(message) => {
                let incoming = message.author.role != Role::Visitor;
                let role = message.author.role;
                let applied = self.transcript.apply(message.clone());
                if applied == Applied::Inserted
                    && incoming
                    && self
                        .typing
                        .as_ref()
                        .is_some_and(|(who, _)| who.role == role)
                {
                    // The new message is what the typing was for; an update of an older one
                    // (read receipt, edit) is not.
                    self.typing = None;
                }
                if applied == Applied::Inserted && incoming {
                    if !self.is_open {
                        self.unread += 1;
                    }
                    return Some(Notice::IncomingMessage(message));
                }
                None
            }
            ChatEvent::MessageRestored(message) => {
                self.transcript.apply(message);
                None
            }
            ChatEvent::MessageRemoved(id) => {
                self.transcript.remove(&id);
                None
            }
            ChatEvent::TypingStarted(who) => {
                if who.role != Role::Visitor {
                    self.typing = Some((who, now + TYPING_TIMEOUT));
                }
                None
            }
            ChatEvent::TypingStopped(who) => {
                if self
                    .typing
                    .as_ref()
                    .is_some_and(|(w, _)| w.role == who.role)
                {
                    self.typing = None;
                }
                None
            }
            ChatEvent::AgentChanged(agent) => {
                self.agent = agent;
                None
            }
            ChatEvent::PresenceChanged(p) => {
                self.presence = Some(p);
                None
            }
            ChatEvent::ConnectionChanged(c) => {
                self.connection = c;
                if c == ConnectionState::Online {
                    self.last_error = None;
                }
                if c == ConnectionState::Ended {
                    self.typing = None;
                    self.conversation = ConversationStatus::Ended;
                }
                None
            }
            ChatEvent::ConversationStatusChanged(s) => {
                self.conversation = s;
                if s == ConversationStatus::Ended {
                    self.typing = None;
                }
                None
            }
            ChatEvent::Error(e) => {
                match &e {
                    ChatError::Config(_) => self.fatal = Some(e.clone()),
                    ChatError::SendFailed(id) => {
                        self.transcript.set_status(id, DeliveryStatus::Failed);
                    }
                    _ => {}
                }
                self.last_error = Some(e.clone());
                Some(Notice::Error(e))
            }
        }
    }

    /// Clears a typing indicator that outlived [`TYPING_TIMEOUT`].
    pub fn expire(&mut self, now: Millis) {
        if self.typing.as_ref().is_some_and(|(_, until)| *until <= now) {
            self.typing = None;
        }
    }

    /// Opens or closes the window; opening clears the unread count.
    pub fn set_open(&mut self, open: bool) {
        self.is_open = open;
        if open {
            self.unread = 0;
        }
    }

    /// Whether the conversation is over: ended, or resolved by the agent.
    pub fn is_over(&self) -> bool {
        matches!(
            self.conversation,
            ConversationStatus::Ended | ConversationStatus::Resolved
        ) || self.connection == ConnectionState::Ended
    }

    /// Why the visitor cannot type right now, if they cannot. Being disconnected is not a
    /// reason: messages typed then wait in the outbox.
    pub fn composer_blocked(&self) -> Option<ComposerBlock> {
        if self.fatal.is_some() {
            Some(ComposerBlock::Unavailable)
        } else if self.is_over() {
            Some(ComposerBlock::Ended)
        } else {
            None
        }
    }
}

/// Why the composer is disabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComposerBlock {
    /// The widget is misconfigured.
    Unavailable,
    /// The conversation is over.
    Ended,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent_msg(id: &str) -> ChatMessage {
        ChatMessage {
            id: id.into(),
            client_id: None,
            author: Author::named(Role::Agent, "Ana"),
            text: "hi".into(),
            sent_at: 1,
            status: DeliveryStatus::Sent,
            quick_replies: vec![],
            attachments: vec![],
            rich: None,
            seq: None,
        }
    }

    #[test]
    fn unread_counts_only_while_closed_and_resets_on_open() {
        let mut s = ChatState::default();
        assert!(matches!(
            s.apply(ChatEvent::MessageAdded(agent_msg("1")), 0),
            Some(Notice::IncomingMessage(_))
        ));
        s.apply(ChatEvent::MessageAdded(agent_msg("1")), 0);
        assert_eq!(s.unread, 1, "a duplicate is not unread twice");
        s.set_open(true);
        assert_eq!(s.unread, 0);
        s.apply(ChatEvent::MessageAdded(agent_msg("2")), 0);
        assert_eq!(s.unread, 0);
    }

    #[test]
    fn typing_clears_on_message_on_stop_and_on_timeout() {
        let ana = Author::named(Role::Agent, "Ana");
        let mut s = ChatState::default();
        s.apply(ChatEvent::TypingStarted(ana.clone()), 0);
        assert!(s.typing.is_some());
        s.apply(ChatEvent::MessageAdded(agent_msg("1")), 5);
        assert!(s.typing.is_none());

        s.apply(ChatEvent::TypingStarted(ana.clone()), 8);
        s.apply(ChatEvent::MessageUpdated(agent_msg("1")), 9);
        assert!(
            s.typing.is_some(),
            "an update of an older message is not the answer"
        );
        s.apply(ChatEvent::TypingStarted(ana.clone()), 10);
        s.apply(ChatEvent::TypingStopped(ana.clone()), 11);
        assert!(s.typing.is_none());

        s.apply(ChatEvent::TypingStarted(ana), 100);
        s.expire(100 + TYPING_TIMEOUT - 1);
        assert!(s.typing.is_some());
        s.expire(100 + TYPING_TIMEOUT);
        assert!(s.typing.is_none());
    }

    #[test]
    fn presence_is_unknown_until_the_backend_reports_it() {
        let mut s = ChatState::default();
        assert_eq!(s.presence, None);
        s.apply(ChatEvent::PresenceChanged(Presence::Away), 0);
        assert_eq!(s.presence, Some(Presence::Away));
    }

    #[test]
    fn visitor_typing_echo_is_not_shown() {
        let mut s = ChatState::default();
        s.apply(ChatEvent::TypingStarted(Author::new(Role::Visitor)), 0);
        assert!(s.typing.is_none());
    }

    #[test]
    fn send_failure_marks_message_failed_and_config_error_is_fatal() {
        let mut s = ChatState::default();
        s.transcript.add_pending("c1", "hello", 0);
        s.apply(ChatEvent::Error(ChatError::SendFailed("c1".into())), 0);
        assert_eq!(
            s.transcript.find("c1").unwrap().status,
            DeliveryStatus::Failed
        );
        assert_eq!(s.composer_blocked(), None);
        s.apply(ChatEvent::Error(ChatError::Config("backend".into())), 0);
        assert_eq!(s.composer_blocked(), Some(ComposerBlock::Unavailable));
    }

    #[test]
    fn ended_conversation_blocks_composer_but_offline_does_not() {
        let mut s = ChatState::default();
        s.apply(ChatEvent::ConnectionChanged(ConnectionState::Offline), 0);
        assert_eq!(s.composer_blocked(), None);
        s.apply(ChatEvent::ConnectionChanged(ConnectionState::Ended), 0);
        assert_eq!(s.composer_blocked(), Some(ComposerBlock::Ended));
    }
}
