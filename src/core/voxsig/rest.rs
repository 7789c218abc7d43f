//! The public client API calls the Voxsig session makes, and how their answers are classed.
//! Paths follow Chatwoot's `config/routes.rb` (`public/api/v1/inboxes/:inbox_id/contacts/
//! :contact_id/conversations/:conversation_id/messages`).

use crate::core::message::RichAnswer;
use serde_json::{json, Value};

/// What an outstanding request was for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// `POST /contacts`.
    CreateContact,
    /// `GET /contacts/{source_id}`: does the contact still exist (after a 404 or silence)?
    CheckContact,
    /// `POST …/conversations`.
    CreateConversation,
    /// `POST …/messages` for this client id.
    SendMessage(String),
    /// `GET …/messages[?before=]`, one page of a catch-up.
    Page,
    /// `POST …/toggle_typing`.
    Typing,
    /// `POST …/update_last_seen`.
    LastSeen,
    /// `PATCH /contacts/{source_id}`.
    UpdateContact,
    /// `POST …/toggle_status`.
    Resolve,
    /// `PATCH …/messages/{id}` with the visitor's answer to a bot message.
    Answer {
        /// The bot message answered.
        message_id: u64,
        /// The body, kept to send it again after a transient failure.
        body: String,
    },
}

impl Call {
    /// The call as named in error texts (the API's own endpoint names).
    pub fn name(&self) -> &'static str {
        match self {
            Call::CreateContact => "create contact",
            Call::CheckContact => "check contact",
            Call::CreateConversation => "create conversation",
            Call::SendMessage(_) => "send message",
            Call::Page => "messages page",
            Call::Typing => "toggle_typing",
            Call::LastSeen => "update_last_seen",
            Call::UpdateContact => "update contact",
            Call::Resolve => "toggle_status",
            Call::Answer { .. } => "answer",
        }
    }
}

/// How an HTTP answer is to be taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx.
    Ok,
    /// 404: the contact, conversation or inbox is gone.
    NotFound,
    /// No answer, a timeout, rate limiting or a server error: the request may or may not have
    /// taken effect, and trying again later may work.
    Transient,
    /// Any other 4xx: the server refused it and will refuse it again.
    Refused,
}

/// Classes an HTTP status (0 = no answer).
pub fn outcome(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Ok,
        404 => Outcome::NotFound,
        0 | 408 | 425 | 429 | 500..=599 => Outcome::Transient,
        _ => Outcome::Refused,
    }
}

/// Builds the API paths of one inbox.
#[derive(Clone, Debug)]
pub struct Paths {
    /// `<voxsigUrl>/public/api/v1/inboxes/<inbox>`.
    pub base: String,
}

impl Paths {
    /// `…/contacts`.
    pub fn contacts(&self) -> String {
        format!("{}/contacts", self.base)
    }

    /// `…/contacts/{source_id}`.
    pub fn contact(&self, source_id: &str) -> String {
        format!(
            "{}/contacts/{}",
            self.base,
            crate::core::url::encode_component(source_id)
        )
    }

    /// `…/contacts/{source_id}/conversations`.
    pub fn conversations(&self, source_id: &str) -> String {
        format!("{}/conversations", self.contact(source_id))
    }

    /// `…/conversations/{id}`.
    pub fn conversation(&self, source_id: &str, id: u64) -> String {
        format!("{}/{id}", self.conversations(source_id))
    }

    /// `…/conversations/{id}/messages`, the latest page or the page before a message.
    pub fn messages(&self, source_id: &str, id: u64, before: Option<u64>) -> String {
        let base = format!("{}/messages", self.conversation(source_id, id));
        match before {
            Some(b) => format!("{base}?before={b}"),
            None => base,
        }
    }

    /// `…/conversations/{id}/messages/{message_id}`.
    pub fn message(&self, source_id: &str, id: u64, message_id: u64) -> String {
        format!("{}/messages/{message_id}", self.conversation(source_id, id))
    }
}

/// The `PATCH …/messages/{id}` body for an answer. Options and forms use the public API's
/// `submitted_values: [{name, title, value}]` (`message_update_params` in Chatwoot's
/// `public/api/v1/inboxes/messages_controller.rb`); a CSAT rating uses
/// `submitted_values.csat_survey_response {rating, feedback_message}` as Chatwoot's widget does.
pub fn answer_body(answer: &RichAnswer) -> Value {
    match answer {
        RichAnswer::Choice(c) => {
            json!({"submitted_values": [{"title": c.title, "value": c.value}]})
        }
        RichAnswer::Form { values } => json!({
            "submitted_values": values
                .iter()
                .map(|(name, value)| json!({"name": name, "title": name, "value": value}))
                .collect::<Vec<_>>()
        }),
        RichAnswer::Rating(r) => json!({
            "submitted_values": {"csat_survey_response": {
                "rating": r.rating.clamp(1, 5),
                "feedback_message": r.feedback,
            }}
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classed_by_what_a_retry_can_do() {
        assert_eq!(outcome(201), Outcome::Ok);
        assert_eq!(outcome(0), Outcome::Transient);
        assert_eq!(outcome(503), Outcome::Transient);
        assert_eq!(outcome(429), Outcome::Transient);
        assert_eq!(outcome(404), Outcome::NotFound);
        assert_eq!(outcome(422), Outcome::Refused);
    }

    #[test]
    fn paths_page_backwards_only() {
        let p = Paths {
            base: "https://c.test/public/api/v1/inboxes/i".into(),
        };
        assert_eq!(
            p.messages("s/1", 4, Some(90)),
            "https://c.test/public/api/v1/inboxes/i/contacts/s%2F1/conversations/4/messages?before=90"
        );
    }
}
