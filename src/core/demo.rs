//! A scripted local conversation (`data-backend="demo"`): no network, an agent called Ana who
//! greets, types, answers and can go away or end the chat. It is a real [`ChatBackend`] driven
//! by the same loop as the network backends, so the UI is exercised the same way.

use super::backend::{ChatBackend, HttpRequest, RequestId, SocketCommand, VisitorProfile};
use super::event::{ChatEvent, ConnectionState, ConversationStatus, Presence};
use super::message::{Author, ChatMessage, DeliveryStatus, Role};
use super::Millis;
use std::collections::VecDeque;

const CONNECT_DELAY: Millis = 400;
const ACK_DELAY: Millis = 250;
const THINK_DELAY: Millis = 700;
const TYPING_PER_CHAR: Millis = 25;
const TYPING_MIN: Millis = 800;
const TYPING_MAX: Millis = 2500;

/// Something the demo agent will do at a given time.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Connect,
    Ack { client_id: String },
    MarkRead { client_id: String },
    Typing(bool),
    Say(String),
    Presence(Presence),
    End,
}

/// The demo backend.
#[derive(Debug, Default)]
pub struct DemoBackend {
    now_unix_offset: i64,
    agenda: Vec<(Millis, Step)>,
    events: VecDeque<ChatEvent>,
    next_server_id: u64,
    visitor_name: Option<String>,
    ended: bool,
}

fn ana() -> Author {
    Author::named(Role::Agent, "Ana")
}

impl DemoBackend {
    /// A demo backend; `unix_ms_at_zero` maps the caller's clock to wall time for timestamps.
    pub fn new(unix_ms_at_zero: i64) -> Self {
        DemoBackend {
            now_unix_offset: unix_ms_at_zero,
            ..Default::default()
        }
    }

    fn schedule(&mut self, at: Millis, step: Step) {
        let i = self.agenda.partition_point(|(t, _)| *t <= at);
        self.agenda.insert(i, (at, step));
    }

    fn reply_to(&self, text: &str) -> (Vec<Step>, String) {
        let lower = text.to_lowercase();
        let greeting = match &self.visitor_name {
            Some(name) => format!("Thanks {name}!"),
            None => "Thanks!".to_string(),
        };
        if lower.contains("bye") || lower.contains("end") {
            return (
                vec![Step::End],
                "Thanks for chatting with us. Goodbye!".into(),
            );
        }
        if lower.contains("away") {
            return (
                vec![Step::Presence(Presence::Away)],
                "I'll step away for a moment.".into(),
            );
        }
        if lower.contains("back") {
            return (vec![Step::Presence(Presence::Online)], "I'm back!".into());
        }
        if lower.contains("price") || lower.contains("cost") {
            return (
                vec![],
                "Plans start at $9/month. See https://example.com/pricing".into(),
            );
        }
        (
            vec![],
            format!(
                "{greeting} You wrote: \"{}\". Try \"away\", \"back\" or \"bye\".",
                text.trim()
            ),
        )
    }

    fn typing_time(text: &str) -> Millis {
        (text.chars().count() as Millis * TYPING_PER_CHAR).clamp(TYPING_MIN, TYPING_MAX)
    }

    fn agent_says(&mut self, at: Millis, text: String) -> Millis {
        let typing_done = at + Self::typing_time(&text);
        self.schedule(at, Step::Typing(true));
        self.schedule(typing_done, Step::Say(text));
        typing_done
    }

    fn run(&mut self, step: Step, now: Millis) {
        let wall = self.now_unix_offset + now as i64;
        match step {
            Step::Connect => {
                self.events
                    .push_back(ChatEvent::ConnectionChanged(ConnectionState::Online));
                self.events.push_back(ChatEvent::AgentChanged(Some(ana())));
                self.events
                    .push_back(ChatEvent::PresenceChanged(Presence::Online));
                self.agent_says(
                    now + THINK_DELAY,
                    "Hi! I'm Ana. How can I help you today?".into(),
                );
            }
            Step::Ack { client_id } => {
                self.next_server_id += 1;
                let mut update = ChatMessage::visitor(&client_id, "", wall, DeliveryStatus::Sent);
                update.id = format!("demo-{}", self.next_server_id);
                update.status = DeliveryStatus::Sent;
                self.events.push_back(ChatEvent::MessageUpdated(update));
            }
            Step::MarkRead { client_id } => {
                let mut update = ChatMessage::visitor(&client_id, "", wall, DeliveryStatus::Sent);
                update.id = String::new();
                update.status = DeliveryStatus::Read;
                self.events.push_back(ChatEvent::MessageUpdated(update));
            }
            Step::Typing(true) => self.events.push_back(ChatEvent::TypingStarted(ana())),
            Step::Typing(false) => self.events.push_back(ChatEvent::TypingStopped(ana())),
            Step::Say(text) => {
                self.next_server_id += 1;
                self.events.push_back(ChatEvent::TypingStopped(ana()));
                self.events.push_back(ChatEvent::MessageAdded(ChatMessage {
                    id: format!("demo-{}", self.next_server_id),
                    client_id: None,
                    author: ana(),
                    text,
                    sent_at: wall,
                    status: DeliveryStatus::Sent,
                    quick_replies: Vec::new(),
                    attachments: Vec::new(),
                    rich: None,
                    seq: None,
                }));
            }
            Step::Presence(p) => self.events.push_back(ChatEvent::PresenceChanged(p)),
            Step::End => self.finish(),
        }
    }

    fn finish(&mut self) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.agenda.clear();
        self.events.push_back(ChatEvent::ConversationStatusChanged(
            ConversationStatus::Ended,
        ));
        self.events
            .push_back(ChatEvent::ConnectionChanged(ConnectionState::Ended));
    }
}

impl ChatBackend for DemoBackend {
    fn start(&mut self, now: Millis) {
        self.ended = false;
        self.events
            .push_back(ChatEvent::ConnectionChanged(ConnectionState::Connecting));
        self.events.push_back(ChatEvent::ConversationStatusChanged(
            ConversationStatus::Open,
        ));
        self.schedule(now + CONNECT_DELAY, Step::Connect);
    }

    fn handle_open(&mut self, _now: Millis) {}
    fn handle_text(&mut self, _frame: &str, _now: Millis) {}
    fn handle_close(&mut self, _code: u16, _reason: &str, _now: Millis) {}
    fn handle_http_response(&mut self, _id: RequestId, _status: u16, _body: &str, _now: Millis) {}

    fn handle_timeout(&mut self, now: Millis) {
        while self.agenda.first().is_some_and(|(t, _)| *t <= now) {
            let (_, step) = self.agenda.remove(0);
            self.run(step, now);
        }
    }

    fn handle_network_hint(&mut self, _online: bool, _now: Millis) {}

    fn send_message(&mut self, client_id: &str, text: &str, now: Millis) {
        if self.ended {
            self.events
                .push_back(ChatEvent::Error(super::ChatError::SendFailed(
                    client_id.into(),
                )));
            return;
        }
        self.schedule(
            now + ACK_DELAY,
            Step::Ack {
                client_id: client_id.into(),
            },
        );
        let (extra, reply) = self.reply_to(text);
        let start = now + THINK_DELAY;
        self.schedule(
            start,
            Step::MarkRead {
                client_id: client_id.into(),
            },
        );
        let said_at = self.agent_says(start, reply);
        for step in extra {
            self.schedule(said_at + 1, step);
        }
    }

    fn set_typing(&mut self, _typing: bool, _now: Millis) {}
    fn mark_read(&mut self, _now: Millis) {}

    fn set_visitor(&mut self, profile: VisitorProfile, _now: Millis) {
        if profile.name.is_some() {
            self.visitor_name = profile.name;
        }
    }

    fn end_chat(&mut self, _now: Millis) {
        self.finish();
    }

    fn poll_socket(&mut self) -> Option<SocketCommand> {
        None
    }

    fn poll_http(&mut self) -> Option<HttpRequest> {
        None
    }

    fn poll_event(&mut self) -> Option<ChatEvent> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Millis> {
        self.agenda.first().map(|(t, _)| *t)
    }

    fn snapshot(&self) -> String {
        // The demo conversation is not resumed after a reload.
        "{}".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(b: &mut DemoBackend) -> Vec<ChatEvent> {
        std::iter::from_fn(|| b.poll_event()).collect()
    }

    /// Jumps the virtual clock from deadline to deadline, collecting events.
    fn run_until(b: &mut DemoBackend, until: Millis) -> Vec<ChatEvent> {
        let mut out = Vec::new();
        while let Some(t) = b.poll_timeout().filter(|t| *t <= until) {
            b.handle_timeout(t);
            out.extend(drain(b));
        }
        out
    }

    #[test]
    fn greets_after_connecting_with_typing_first() {
        let mut b = DemoBackend::new(0);
        b.start(0);
        assert_eq!(
            drain(&mut b),
            [
                ChatEvent::ConnectionChanged(ConnectionState::Connecting),
                ChatEvent::ConversationStatusChanged(ConversationStatus::Open)
            ]
        );
        let events = run_until(&mut b, 10_000);
        assert_eq!(
            events[0],
            ChatEvent::ConnectionChanged(ConnectionState::Online)
        );
        let typing = events
            .iter()
            .position(|e| matches!(e, ChatEvent::TypingStarted(_)))
            .unwrap();
        let said = events
            .iter()
            .position(|e| matches!(e, ChatEvent::MessageAdded(_)))
            .unwrap();
        assert!(typing < said);
        assert_eq!(b.poll_timeout(), None, "nothing left to do");
    }

    #[test]
    fn acknowledges_then_reads_then_replies() {
        let mut b = DemoBackend::new(0);
        b.start(0);
        run_until(&mut b, 10_000);
        b.send_message("c1", "hello", 10_000);
        let events = run_until(&mut b, 20_000);
        let statuses: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                ChatEvent::MessageUpdated(m) if m.client_id.as_deref() == Some("c1") => {
                    Some(m.status)
                }
                _ => None,
            })
            .collect();
        assert_eq!(statuses, [DeliveryStatus::Sent, DeliveryStatus::Read]);
        assert!(events
            .iter()
            .any(|e| matches!(e, ChatEvent::MessageAdded(m) if m.text.contains("hello"))));
    }

    #[test]
    fn bye_ends_the_conversation_and_later_sends_fail() {
        let mut b = DemoBackend::new(0);
        b.start(0);
        run_until(&mut b, 10_000);
        b.send_message("c1", "bye", 10_000);
        let events = run_until(&mut b, 20_000);
        assert_eq!(
            events.last(),
            Some(&ChatEvent::ConnectionChanged(ConnectionState::Ended))
        );
        b.send_message("c2", "hello?", 20_000);
        assert_eq!(
            drain(&mut b),
            [ChatEvent::Error(crate::core::ChatError::SendFailed(
                "c2".into()
            ))]
        );
    }
}
