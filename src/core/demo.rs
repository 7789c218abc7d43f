//! A scripted local conversation (`data-backend="demo"`): no network, an agent called Ana who
//! greets, types, answers and can go away or end the chat. It is a real [`ChatBackend`] driven
//! by the same loop as the network backends, so the UI is exercised the same way.
//!
//! It also shows every kind of rich content when the visitor asks: "menu" (options), "cards",
//! "form", "email", "articles" and "rate" (resolves the conversation, then a satisfaction
//! survey; "rate stars" for stars). Answers are accepted after a short delay like a server's,
//! except a form whose email is at a `.invalid` domain, which is refused (as Chatwoot answers
//! 422), so the refused path can be seen and tested too.

use super::backend::{ChatBackend, HttpRequest, RequestId, SocketCommand, VisitorProfile};
use super::event::{ChatError, ChatEvent, ConnectionState, ConversationStatus, Presence};
use super::message::{
    ArticleLink, Author, Card, CardAction, ChatMessage, Choice, DeliveryStatus, FieldKind,
    FormField, RichAnswer, RichContent, Role,
};
use super::Millis;
use std::collections::{BTreeMap, VecDeque};

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
    Ack {
        client_id: String,
    },
    MarkRead {
        client_id: String,
    },
    Typing(bool),
    Say(String),
    /// A message with rich content; `bot` for the survey, which no person sends.
    SayRich {
        text: String,
        rich: RichContent,
        bot: bool,
    },
    Status(ConversationStatus),
    /// The answer to message `id` is stored: the message shows it.
    Accept {
        id: String,
        answer: RichAnswer,
    },
    /// The answer to message `id` is refused.
    Refuse(String),
    Presence(Presence),
    End,
}

/// What Ana answers to a visitor message.
struct Reply {
    text: String,
    rich: Option<RichContent>,
    /// Steps after the reply (presence change, end, resolve).
    then: Vec<Step>,
}

impl Reply {
    fn text(text: impl Into<String>) -> Self {
        Reply {
            text: text.into(),
            rich: None,
            then: Vec::new(),
        }
    }

    fn rich(text: impl Into<String>, rich: RichContent) -> Self {
        Reply {
            text: text.into(),
            rich: Some(rich),
            then: Vec::new(),
        }
    }

    fn then(mut self, step: Step) -> Self {
        self.then.push(step);
        self
    }
}

const HINT: &str = "Try \"menu\", \"cards\", \"form\", \"email\", \"articles\" or \"rate\".";

fn choice(title: &str, value: &str) -> Choice {
    Choice {
        title: title.into(),
        value: value.into(),
    }
}

fn field(name: &str, label: &str, kind: FieldKind, placeholder: &str, required: bool) -> FormField {
    FormField {
        name: name.into(),
        label: label.into(),
        kind,
        placeholder: placeholder.into(),
        required,
    }
}

fn menu() -> RichContent {
    RichContent::Choices {
        options: vec![
            choice("Pricing", "pricing"),
            choice("Technical support", "support"),
            choice("Talk to sales", "sales"),
        ],
        chosen: None,
    }
}

fn plans() -> RichContent {
    let plan = |title: &str, description: &str, slug: &str| Card {
        media_url: None,
        title: title.into(),
        description: description.into(),
        actions: vec![
            CardAction::Postback {
                text: format!("Choose {title}"),
                payload: slug.into(),
            },
            CardAction::Link {
                text: "Details".into(),
                url: format!("https://example.com/pricing#{slug}"),
            },
        ],
    };
    RichContent::Cards {
        cards: vec![
            plan("Starter", "$9/month · 1 seat · email support", "starter"),
            plan(
                "Team",
                "$29/month · 5 seats · chat and email support",
                "team",
            ),
        ],
    }
}

fn contact_form() -> RichContent {
    RichContent::Form {
        fields: vec![
            field("name", "Name", FieldKind::Text, "Your name", true),
            field("email", "Email", FieldKind::Email, "you@example.com", true),
            field(
                "message",
                "Message",
                FieldKind::TextArea,
                "How can we help?",
                false,
            ),
        ],
        submitted: None,
    }
}

fn email_form() -> RichContent {
    RichContent::Form {
        fields: vec![field(
            "email",
            "Email",
            FieldKind::Email,
            "you@example.com",
            true,
        )],
        submitted: None,
    }
}

fn help_articles() -> RichContent {
    let article = |title: &str, description: &str, slug: &str| ArticleLink {
        title: title.into(),
        description: description.into(),
        url: format!("https://example.com/help/{slug}"),
    };
    RichContent::Articles {
        articles: vec![
            article(
                "Getting started",
                "Set up your account in five minutes.",
                "getting-started",
            ),
            article(
                "Billing and invoices",
                "Change plans, download invoices.",
                "billing",
            ),
            article(
                "Reset your password",
                "When you cannot sign in.",
                "password",
            ),
        ],
    }
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
    resolved: bool,
    /// Messages with rich content Ana sent, by id, so an answer can be stored on them.
    asked: BTreeMap<String, ChatMessage>,
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

    fn reply_to(&self, text: &str) -> Reply {
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let said = |options: &[&str]| words.iter().any(|w| options.contains(w));
        let greeting = match &self.visitor_name {
            Some(name) => format!("Thanks {name}!"),
            None => "Thanks!".to_string(),
        };
        if said(&["menu", "options"]) {
            return Reply::rich("What can I help you with?", menu());
        }
        if said(&["cards", "plans"]) {
            return Reply::rich("Here are our plans:", plans());
        }
        if said(&["form"]) {
            return Reply::rich(
                "Leave us your details and we'll get back to you.",
                contact_form(),
            );
        }
        if said(&["email"]) {
            return Reply::rich("What's your email address?", email_form());
        }
        if said(&["articles", "docs"]) {
            return Reply::rich("These articles might help:", help_articles());
        }
        if said(&["rate", "rating", "csat", "survey"]) {
            return Reply::text("Glad I could help! I'm marking this conversation as resolved.")
                .then(Step::Status(ConversationStatus::Resolved))
                .then(Step::SayRich {
                    text: "Please rate this conversation.".into(),
                    rich: RichContent::Rating {
                        stars: said(&["stars", "star"]),
                        submitted: None,
                    },
                    bot: true,
                });
        }
        if said(&["bye", "goodbye", "end"]) {
            return Reply::text("Thanks for chatting with us. Goodbye!").then(Step::End);
        }
        if said(&["away"]) {
            return Reply::text("I'll step away for a moment.")
                .then(Step::Presence(Presence::Away));
        }
        if said(&["back"]) {
            return Reply::text("I'm back!").then(Step::Presence(Presence::Online));
        }
        if said(&["price", "pricing", "cost"]) {
            return Reply::text("Plans start at $9/month. See https://example.com/pricing");
        }
        Reply::text(format!(
            "{greeting} You wrote: \"{}\". {HINT} Or \"away\", \"back\", \"bye\".",
            text.trim()
        ))
    }

    /// What Ana says once an answer is stored.
    fn follow_up(&self, answer: &RichAnswer) -> Option<String> {
        match answer {
            RichAnswer::Choice(c) => Some(match c.value.as_str() {
                "pricing" => "Plans start at $9/month. Type \"cards\" to compare them.".into(),
                "support" => "Sure. What seems to be the problem?".into(),
                _ => format!(
                    "Great, let's talk about \"{}\". What would you like to know?",
                    c.title
                ),
            }),
            RichAnswer::Form { values } => {
                let get = |k: &str| {
                    values
                        .iter()
                        .find(|(name, _)| name == k)
                        .map(|(_, v)| v.as_str())
                };
                let email = get("email").unwrap_or("your address");
                Some(match get("name").filter(|n| !n.is_empty()) {
                    Some(name) => format!("Thanks {name}! We'll write to {email} within a day."),
                    None => format!("Thanks! We'll write to {email} within a day."),
                })
            }
            RichAnswer::Rating(_) => None,
        }
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
                    format!("Hi! I'm Ana. How can I help you today? {HINT}"),
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
            Step::Say(text) => self.say(text, None, ana(), wall),
            Step::SayRich { text, rich, bot } => {
                let author = if bot { Author::new(Role::Bot) } else { ana() };
                self.say(text, Some(rich), author, wall);
            }
            Step::Status(status) => {
                self.resolved = status == ConversationStatus::Resolved;
                self.events
                    .push_back(ChatEvent::ConversationStatusChanged(status));
            }
            Step::Accept { id, answer } => {
                let Some(message) = self.asked.get_mut(&id) else {
                    return;
                };
                match (&mut message.rich, answer) {
                    (Some(RichContent::Choices { chosen, .. }), RichAnswer::Choice(c)) => {
                        *chosen = Some(c)
                    }
                    (Some(RichContent::Form { submitted, .. }), RichAnswer::Form { values }) => {
                        *submitted = Some(values)
                    }
                    (Some(RichContent::Rating { submitted, .. }), RichAnswer::Rating(r)) => {
                        *submitted = Some(r)
                    }
                    _ => return,
                }
                self.events
                    .push_back(ChatEvent::MessageUpdated(message.clone()));
            }
            Step::Refuse(id) => self
                .events
                .push_back(ChatEvent::Error(ChatError::AnswerFailed(id))),
            Step::Presence(p) => self.events.push_back(ChatEvent::PresenceChanged(p)),
            Step::End => self.finish(),
        }
    }

    fn say(&mut self, text: String, rich: Option<RichContent>, author: Author, wall: i64) {
        self.next_server_id += 1;
        let message = ChatMessage {
            id: format!("demo-{}", self.next_server_id),
            client_id: None,
            author,
            text,
            sent_at: wall,
            status: DeliveryStatus::Sent,
            quick_replies: Vec::new(),
            attachments: Vec::new(),
            rich,
            seq: None,
        };
        if message.rich.is_some() {
            self.asked.insert(message.id.clone(), message.clone());
        }
        self.events.push_back(ChatEvent::TypingStopped(ana()));
        self.events.push_back(ChatEvent::MessageAdded(message));
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
        self.resolved = false;
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
        if self.resolved {
            // Writing in a resolved conversation reopens it, as Chatwoot does.
            self.resolved = false;
            self.events.push_back(ChatEvent::ConversationStatusChanged(
                ConversationStatus::Open,
            ));
        }
        let reply = self.reply_to(text);
        let start = now + THINK_DELAY;
        self.schedule(
            start,
            Step::MarkRead {
                client_id: client_id.into(),
            },
        );
        let said_at = match reply.rich {
            Some(rich) => {
                let done = start + Self::typing_time(&reply.text);
                self.schedule(start, Step::Typing(true));
                self.schedule(
                    done,
                    Step::SayRich {
                        text: reply.text,
                        rich,
                        bot: false,
                    },
                );
                done
            }
            None => self.agent_says(start, reply.text),
        };
        for (i, step) in reply.then.into_iter().enumerate() {
            self.schedule(said_at + 1 + i as Millis * THINK_DELAY, step);
        }
    }

    fn submit_answer(&mut self, message_id: &str, answer: RichAnswer, now: Millis) {
        let refused = self.ended
            || !self.asked.contains_key(message_id)
            || matches!(&answer, RichAnswer::Form { values }
                if values.iter().any(|(_, v)| v.trim_end().ends_with(".invalid")));
        if refused {
            self.schedule(now + ACK_DELAY, Step::Refuse(message_id.into()));
            return;
        }
        let follow_up = self.follow_up(&answer);
        self.schedule(
            now + ACK_DELAY,
            Step::Accept {
                id: message_id.into(),
                answer,
            },
        );
        if let Some(text) = follow_up {
            self.agent_says(now + THINK_DELAY, text);
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

    fn asked(events: &[ChatEvent]) -> ChatMessage {
        events
            .iter()
            .find_map(|e| match e {
                ChatEvent::MessageAdded(m) if m.rich.is_some() => Some(m.clone()),
                _ => None,
            })
            .expect("a message with rich content")
    }

    #[test]
    fn menu_offers_options_and_an_answer_is_stored_then_followed_up() {
        let mut b = DemoBackend::new(0);
        b.start(0);
        run_until(&mut b, 10_000);
        b.send_message("c1", "show me the menu", 10_000);
        let menu = asked(&run_until(&mut b, 20_000));
        let Some(RichContent::Choices {
            options,
            chosen: None,
        }) = &menu.rich
        else {
            panic!("options expected: {menu:?}");
        };
        b.submit_answer(&menu.id, RichAnswer::Choice(options[1].clone()), 20_000);
        let events = run_until(&mut b, 30_000);
        let updated = events
            .iter()
            .find_map(|e| match e {
                ChatEvent::MessageUpdated(m) if m.id == menu.id => Some(m),
                _ => None,
            })
            .expect("the message shows the answer");
        assert!(matches!(
            &updated.rich,
            Some(RichContent::Choices { chosen: Some(c), .. }) if *c == options[1]
        ));
        assert!(events
            .iter()
            .any(|e| matches!(e, ChatEvent::MessageAdded(m) if m.text.contains("problem"))));
    }

    #[test]
    fn a_form_with_an_invalid_domain_is_refused() {
        let mut b = DemoBackend::new(0);
        b.start(0);
        run_until(&mut b, 10_000);
        b.send_message("c1", "email", 10_000);
        let form = asked(&run_until(&mut b, 20_000));
        let values = vec![("email".to_string(), "lee@example.invalid".to_string())];
        b.submit_answer(&form.id, RichAnswer::Form { values }, 20_000);
        assert_eq!(
            run_until(&mut b, 30_000),
            [ChatEvent::Error(ChatError::AnswerFailed(form.id))]
        );
    }

    #[test]
    fn rate_resolves_then_asks_and_writing_reopens() {
        let mut b = DemoBackend::new(0);
        b.start(0);
        run_until(&mut b, 10_000);
        b.send_message("c1", "rate with stars", 10_000);
        let events = run_until(&mut b, 20_000);
        let resolved = events
            .iter()
            .position(|e| *e == ChatEvent::ConversationStatusChanged(ConversationStatus::Resolved))
            .expect("resolved");
        let survey = asked(&events[resolved..]);
        assert_eq!(survey.author.role, Role::Bot);
        assert_eq!(
            survey.rich,
            Some(RichContent::Rating {
                stars: true,
                submitted: None
            })
        );
        b.send_message("c2", "one more thing", 20_000);
        assert!(
            drain(&mut b).contains(&ChatEvent::ConversationStatusChanged(
                ConversationStatus::Open
            ))
        );
    }

    #[test]
    fn words_not_substrings_end_the_chat() {
        let b = DemoBackend::new(0);
        assert!(b.reply_to("send me a form").rich.is_some());
        assert!(b.reply_to("weekend?").then.is_empty());
        assert_eq!(b.reply_to("bye").then, [Step::End]);
    }
}
