//! Everything the UI shows, as plain data, and how each [`ChatEvent`] changes it. The reactive
//! store wraps this in a signal; keeping the transitions here makes them testable natively.

use crate::core::transcript::Applied;
use crate::core::{
    Author, ChatError, ChatEvent, ChatMessage, ConnectionState, ConversationStatus, DeliveryStatus,
    Millis, Presence, RichAnswer, RichContent, Role, Transcript,
};
use std::collections::BTreeMap;

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

/// Where the visitor's answer to a message's rich content is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerProgress {
    /// On its way: shown optimistically, the control is locked against a second submit.
    Sending(RichAnswer),
    /// The server refused it: the control is offered again, with a note.
    Refused,
}

/// Whether rich content already carries the visitor's answer. Cards and articles take none
/// (a card's postback is an ordinary message).
pub fn is_answered(rich: &RichContent) -> bool {
    match rich {
        RichContent::Choices { chosen, .. } => chosen.is_some(),
        RichContent::Form { submitted, .. } => submitted.is_some(),
        RichContent::Rating { submitted, .. } => submitted.is_some(),
        RichContent::Cards { .. }
        | RichContent::Articles { .. }
        | RichContent::MissedWhileOffline { .. } => true,
    }
}

/// Whether `answer` is the kind of answer `rich` asks for.
fn answer_fits(rich: &RichContent, answer: &RichAnswer) -> bool {
    match (rich, answer) {
        (RichContent::Choices { options, .. }, RichAnswer::Choice(c)) => options.contains(c),
        (RichContent::Form { .. }, RichAnswer::Form { .. }) => true,
        (RichContent::Rating { .. }, RichAnswer::Rating(r)) => (1..=5).contains(&r.rating),
        _ => false,
    }
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
    /// Answers to rich content that are on their way or were refused, by message id. Kept
    /// next to the transcript rather than in the messages: the server's copy of a message
    /// only changes when the server says so.
    pub answers: BTreeMap<String, AnswerProgress>,
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
            answers: BTreeMap::new(),
        }
    }
}

impl ChatState {
    /// Applies one backend event at `now`; returns what the outside world should hear.
    pub fn apply(&mut self, event: ChatEvent, now: Millis) -> Option<Notice> {
        let notice = self.apply_event(event, now);
        self.settle_answers();
        notice
    }

    fn apply_event(&mut self, event: ChatEvent, now: Millis) -> Option<Notice> {
        match event {
            ChatEvent::MessageAdded(message) => {
                let incoming = message.author.role != Role::Visitor;
                let applied = self.show(message.clone());
                // Only a message that is new to the visitor is unread and announced.
                if applied == Applied::Inserted && incoming {
                    if !self.is_open {
                        self.unread += 1;
                    }
                    return Some(Notice::IncomingMessage(message));
                }
                None
            }
            ChatEvent::MessageUpdated(message) => {
                self.show(message);
                None
            }
            ChatEvent::MessageRestored(message) => {
                // Seen before a reload: shown in its place, never unread, never announced.
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
                    ChatError::AnswerFailed(id) => self.refuse_answer(id),
                    // A backend that cannot say which answer the server refused: offer every
                    // answer on its way again (answers are idempotent, a second one is harmless).
                    ChatError::Server(_) => {
                        let sending: Vec<String> = self.answers.keys().cloned().collect();
                        for id in sending {
                            self.refuse_answer(&id);
                        }
                    }
                    _ => {}
                }
                self.last_error = Some(e.clone());
                Some(Notice::Error(e))
            }
        }
    }

    /// Puts a new or changed message in the transcript; a new agent message ends their typing.
    fn show(&mut self, message: ChatMessage) -> Applied {
        let incoming = message.author.role != Role::Visitor;
        let role = message.author.role;
        let applied = self.transcript.apply(message);
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
        applied
    }

    fn refuse_answer(&mut self, message_id: &str) {
        if let Some(progress) = self.answers.get_mut(message_id) {
            *progress = AnswerProgress::Refused;
        }
    }

    /// Forgets answers whose message is gone or now carries the server's answer.
    fn settle_answers(&mut self) {
        let transcript = &self.transcript;
        self.answers.retain(|id, _| {
            transcript
                .find(id)
                .and_then(|m| m.rich.as_ref())
                .is_some_and(|r| !is_answered(r))
        });
    }

    /// Records the visitor's answer to message `message_id` as on its way. False (and nothing
    /// changes) when it cannot be sent: no such message, nothing to answer, already answered
    /// or on its way, the wrong kind of answer, or the conversation is over.
    pub fn begin_answer(&mut self, message_id: &str, answer: RichAnswer) -> bool {
        if self.composer_blocked().is_some()
            || matches!(
                self.answers.get(message_id),
                Some(AnswerProgress::Sending(_))
            )
        {
            return false;
        }
        let Some(message) = self.transcript.find(message_id) else {
            return false;
        };
        let Some(rich) = message.rich.as_ref() else {
            return false;
        };
        if is_answered(rich) || !answer_fits(rich, &answer) {
            return false;
        }
        let id = message.id.clone();
        self.answers.insert(id, AnswerProgress::Sending(answer));
        true
    }

    /// The answer to message `message_id` on its way, if there is one.
    pub fn answer_sending(&self, message_id: &str) -> Option<&RichAnswer> {
        match self.answers.get(message_id) {
            Some(AnswerProgress::Sending(a)) => Some(a),
            _ => None,
        }
    }

    /// Whether the server refused the last answer to message `message_id`.
    pub fn answer_refused(&self, message_id: &str) -> bool {
        self.answers.get(message_id) == Some(&AnswerProgress::Refused)
    }

    /// Clears a typing indicator that outlived [`TYPING_TIMEOUT`].
    pub fn expire(&mut self, now: Millis) {
        if self.typing.as_ref().is_some_and(|(_, until)| *until <= now) {
            self.typing = None;
        }
    }

    /// The state a new conversation starts from once this one ended: empty, except that the
    /// window stays as it is and the visitor's messages that were never sent stay, not sent,
    /// with Retry — to resend in the new conversation, never silently dropped.
    pub fn for_new_conversation(&self) -> ChatState {
        let mut next = ChatState::default();
        next.set_open(self.is_open);
        for entry in self.transcript.entries() {
            let m = &entry.message;
            if m.status == DeliveryStatus::Failed && m.author.role == Role::Visitor {
                next.transcript.apply(m.clone());
            }
        }
        next
    }

    /// Opens or closes the window; opening clears the unread count.
    pub fn set_open(&mut self, open: bool) {
        self.is_open = open;
        if open {
            self.unread = 0;
        }
    }

    /// Whether the conversation is over for good. A conversation the agent resolved is not:
    /// the visitor may still write, which reopens it.
    pub fn is_over(&self) -> bool {
        self.conversation == ConversationStatus::Ended || self.connection == ConnectionState::Ended
    }

    /// Whether the agent resolved the conversation (and it is not over for good).
    pub fn is_resolved(&self) -> bool {
        self.conversation == ConversationStatus::Resolved && !self.is_over()
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
    use crate::core::{Choice, RatingAnswer};

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
    fn with_rich(id: &str, rich: RichContent) -> ChatMessage {
        let mut m = agent_msg(id);
        m.author = Author::new(Role::Bot);
        m.rich = Some(rich);
        m
    }

    fn choices(chosen: Option<Choice>) -> RichContent {
        RichContent::Choices {
            options: vec![choice("Sales"), choice("Support")],
            chosen,
        }
    }

    fn choice(title: &str) -> Choice {
        Choice {
            title: title.into(),
            value: title.to_lowercase(),
        }
    }

    #[test]
    fn only_message_added_counts_as_unread_and_is_announced() {
        let mut s = ChatState::default();
        assert_eq!(
            s.apply(ChatEvent::MessageRestored(agent_msg("1")), 0),
            None,
            "a restored message is not announced"
        );
        assert_eq!(s.transcript.len(), 1, "but it is shown");
        assert_eq!(
            s.apply(ChatEvent::MessageUpdated(agent_msg("2")), 0),
            None,
            "an update is not a new message"
        );
        assert_eq!(s.unread, 0);
        // The same message arriving again as "added" is not new either.
        assert_eq!(s.apply(ChatEvent::MessageAdded(agent_msg("1")), 0), None);
        assert_eq!(s.unread, 0);
        s.apply(ChatEvent::MessageAdded(agent_msg("3")), 0);
        assert_eq!(s.unread, 1);
    }

    #[test]
    fn a_restored_message_merges_into_the_one_shown() {
        let mut s = ChatState::default();
        s.apply(ChatEvent::MessageAdded(agent_msg("1")), 0);
        let mut edited = agent_msg("1");
        edited.text = "edited".into();
        s.apply(ChatEvent::MessageRestored(edited), 0);
        assert_eq!(s.transcript.len(), 1);
        assert_eq!(s.transcript.find("1").unwrap().text, "edited");
        assert_eq!(s.unread, 1, "counted once, when it was added");
    }

    #[test]
    fn a_removed_message_disappears_by_id_or_client_id() {
        let mut s = ChatState::default();
        s.apply(ChatEvent::MessageAdded(agent_msg("1")), 0);
        s.transcript.add_pending("c1", "mine", 5);
        s.apply(ChatEvent::MessageRemoved("1".into()), 0);
        assert!(s.transcript.find("1").is_none());
        s.apply(ChatEvent::MessageRemoved("c1".into()), 0);
        assert!(s.transcript.is_empty());
        assert_eq!(s.apply(ChatEvent::MessageRemoved("nope".into()), 0), None);
    }

    #[test]
    fn resolved_keeps_the_composer_open_and_only_ended_blocks_it() {
        let mut s = ChatState::default();
        s.apply(
            ChatEvent::ConversationStatusChanged(ConversationStatus::Resolved),
            0,
        );
        assert!(s.is_resolved());
        assert!(!s.is_over());
        assert_eq!(s.composer_blocked(), None);
        s.apply(
            ChatEvent::ConversationStatusChanged(ConversationStatus::Open),
            0,
        );
        assert!(!s.is_resolved(), "writing reopened it");
        s.apply(
            ChatEvent::ConversationStatusChanged(ConversationStatus::Ended),
            0,
        );
        assert_eq!(s.composer_blocked(), Some(ComposerBlock::Ended));
        assert!(!s.is_resolved());
    }

    #[test]
    fn an_answer_is_sending_once_then_settles_with_the_servers_copy() {
        let mut s = ChatState::default();
        s.apply(ChatEvent::MessageAdded(with_rich("7", choices(None))), 0);
        assert!(s.begin_answer("7", RichAnswer::Choice(choice("Sales"))));
        assert_eq!(
            s.answer_sending("7"),
            Some(&RichAnswer::Choice(choice("Sales")))
        );
        assert!(
            !s.begin_answer("7", RichAnswer::Choice(choice("Support"))),
            "no double submit"
        );
        // Unrelated events keep it sending.
        s.apply(ChatEvent::MessageAdded(agent_msg("8")), 0);
        assert!(s.answer_sending("7").is_some());
        s.apply(
            ChatEvent::MessageUpdated(with_rich("7", choices(Some(choice("Sales"))))),
            0,
        );
        assert_eq!(
            s.answer_sending("7"),
            None,
            "the server's copy shows it now"
        );
        assert!(s.answers.is_empty());
        assert!(
            !s.begin_answer("7", RichAnswer::Choice(choice("Support"))),
            "answered"
        );
    }

    #[test]
    fn a_refused_answer_is_offered_again() {
        let mut s = ChatState::default();
        s.apply(ChatEvent::MessageAdded(with_rich("7", choices(None))), 0);
        s.apply(
            ChatEvent::MessageAdded(with_rich(
                "9",
                RichContent::Rating {
                    stars: false,
                    submitted: None,
                },
            )),
            0,
        );
        let rating = RichAnswer::Rating(RatingAnswer {
            rating: 4,
            feedback: String::new(),
        });
        assert!(s.begin_answer("7", RichAnswer::Choice(choice("Sales"))));
        assert!(s.begin_answer("9", rating.clone()));
        s.apply(ChatEvent::Error(ChatError::AnswerFailed("7".into())), 0);
        assert!(s.answer_refused("7"));
        assert!(s.answer_sending("9").is_some(), "only the named one");
        // A backend that cannot name the message: every answer on its way is offered again.
        s.apply(ChatEvent::Error(ChatError::Server("HTTP 422".into())), 0);
        assert!(s.answer_refused("9"));
        assert!(s.begin_answer("9", rating), "can be sent again");
        assert!(!s.answer_refused("9"));
    }

    #[test]
    fn answers_must_fit_the_question_and_the_conversation() {
        let mut s = ChatState::default();
        s.apply(ChatEvent::MessageAdded(with_rich("7", choices(None))), 0);
        s.apply(ChatEvent::MessageAdded(agent_msg("8")), 0);
        assert!(!s.begin_answer("7", RichAnswer::Choice(choice("Other"))));
        assert!(!s.begin_answer("7", RichAnswer::Form { values: vec![] }));
        assert!(!s.begin_answer("8", RichAnswer::Choice(choice("Sales"))));
        assert!(!s.begin_answer("404", RichAnswer::Choice(choice("Sales"))));
        s.apply(
            ChatEvent::MessageAdded(with_rich(
                "9",
                RichContent::Rating {
                    stars: true,
                    submitted: None,
                },
            )),
            0,
        );
        let bad = RichAnswer::Rating(RatingAnswer {
            rating: 6,
            feedback: String::new(),
        });
        assert!(!s.begin_answer("9", bad));
        s.apply(ChatEvent::ConnectionChanged(ConnectionState::Ended), 0);
        assert!(!s.begin_answer("7", RichAnswer::Choice(choice("Sales"))));
        assert!(s.answers.is_empty());
    }

    #[test]
    fn a_removed_message_takes_its_answer_along() {
        let mut s = ChatState::default();
        s.apply(ChatEvent::MessageAdded(with_rich("7", choices(None))), 0);
        assert!(s.begin_answer("7", RichAnswer::Choice(choice("Sales"))));
        s.apply(ChatEvent::MessageRemoved("7".into()), 0);
        assert!(s.answers.is_empty());
    }
}
