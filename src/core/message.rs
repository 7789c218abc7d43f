//! The message model shared by every backend and the UI.

use serde::{Deserialize, Serialize};

/// Who wrote a message, from the visitor's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person using the widget.
    Visitor,
    /// A human agent.
    Agent,
    /// An automated agent (bot, flow).
    Bot,
    /// Notices from the system: joined, left, ended.
    System,
}

/// The author of a message or of a typing indicator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// What kind of participant this is.
    pub role: Role,
    /// Display name, when the backend gives one.
    pub name: Option<String>,
    /// Avatar image URL, when the backend gives one.
    pub avatar_url: Option<String>,
}

impl Author {
    /// An author with a role and nothing else.
    pub fn new(role: Role) -> Self {
        Author {
            role,
            name: None,
            avatar_url: None,
        }
    }

    /// An author with a role and a display name.
    pub fn named(role: Role, name: impl Into<String>) -> Self {
        Author {
            role,
            name: Some(name.into()),
            avatar_url: None,
        }
    }
}

/// Where a visitor's message is on its way to the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Typed, not yet acknowledged by the server (may sit in the outbox).
    Pending,
    /// The server accepted it.
    Sent,
    /// The server says it reached the agent side.
    Delivered,
    /// The agent has seen it.
    Read,
    /// Sending failed for good; the UI offers a retry.
    Failed,
}

impl DeliveryStatus {
    /// The status as a word (`pending`, `sent`, …), as serialised and as the UI's `data-status`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Whether moving from `self` to `next` is progress; status never goes backwards except to
    /// `Failed` from `Pending`, and a retry moves `Failed` back to `Pending`.
    pub fn can_become(self, next: DeliveryStatus) -> bool {
        use DeliveryStatus::*;
        match (self, next) {
            (Failed, Pending) | (Pending, Failed) => true,
            (Failed, _) | (_, Failed) => false,
            (a, b) => b > a,
        }
    }
}

/// What an attachment is, so the UI picks how to render it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentKind {
    /// Rendered as an `<img>`.
    Image,
    /// Rendered as a link.
    File,
}

/// A media link carried by a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// How to render it.
    pub kind: AttachmentKind,
    /// http(s) URL; anything else is dropped by the decoders.
    pub url: String,
}

/// One message of the conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Stable id: the server's id when known, else the client id.
    pub id: String,
    /// The id the widget generated when the visitor typed it (echo id); `None` for messages
    /// that did not come from this widget.
    pub client_id: Option<String>,
    /// Who wrote it.
    pub author: Author,
    /// Plain text. Never interpreted as HTML.
    pub text: String,
    /// Unix time in milliseconds.
    pub sent_at: i64,
    /// Position in the server's own order (Chatwoot message id, GMS transcript index), when the
    /// backend knows one: the transcript is ordered by it, whatever order messages arrive in
    /// and whatever the device clock says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Delivery status; only meaningful for the visitor's own messages.
    pub status: DeliveryStatus,
    /// Suggested answers the visitor can tap (Push quick replies).
    #[serde(default)]
    pub quick_replies: Vec<String>,
    /// Images and files.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Interactive content (bot options, cards, forms, a satisfaction survey), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rich: Option<RichContent>,
}

impl ChatMessage {
    /// The visitor's own message, known by its client id.
    pub fn visitor(
        client_id: &str,
        text: impl Into<String>,
        sent_at: i64,
        status: DeliveryStatus,
    ) -> Self {
        ChatMessage {
            id: client_id.to_string(),
            client_id: Some(client_id.to_string()),
            author: Author::new(Role::Visitor),
            text: text.into(),
            sent_at,
            seq: None,
            status,
            quick_replies: Vec::new(),
            attachments: Vec::new(),
            rich: None,
        }
    }
}

/// Interactive content a bot or agent message carries beyond its text (Chatwoot's
/// `content_type`s `input_select`, `cards`, `form`, `input_email`, `article`, `input_csat`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RichContent {
    /// Buttons; the visitor picks one (`input_select`).
    Choices {
        /// The options, in order.
        options: Vec<Choice>,
        /// The option already picked, once answered.
        chosen: Option<Choice>,
    },
    /// Cards with an image, a title, a description and buttons (`cards`).
    Cards {
        /// The cards, in order.
        cards: Vec<Card>,
    },
    /// A small form (`form`; `input_email` is a form with one email field).
    Form {
        /// The fields, in order.
        fields: Vec<FormField>,
        /// The submitted values (field name, value), once answered.
        submitted: Option<Vec<(String, String)>>,
    },
    /// Links to help-centre articles (`article`).
    Articles {
        /// The articles, in order.
        articles: Vec<ArticleLink>,
    },
    /// A customer-satisfaction survey: a 1–5 rating and an optional comment (`input_csat`).
    Rating {
        /// Stars instead of emoji faces.
        stars: bool,
        /// The rating already given, once answered.
        submitted: Option<RatingAnswer>,
    },
    /// A notice from the widget itself: replies sent while it was not connected may be
    /// missing (the server keeps no history to fetch them from).
    MissedWhileOffline {
        /// How long the widget could not receive, in seconds.
        seconds: u64,
    },
}

/// One option of a [`RichContent::Choices`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// What the button says.
    pub title: String,
    /// What goes back to the server.
    pub value: String,
}

/// One card of a [`RichContent::Cards`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// http(s) image URL.
    pub media_url: Option<String>,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Buttons.
    pub actions: Vec<CardAction>,
}

/// A card button.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardAction {
    /// Opens an http(s) URL in a new tab.
    Link {
        /// Button text.
        text: String,
        /// http(s) URL.
        url: String,
    },
    /// Answers the bot: sent as a visitor message with the button text.
    Postback {
        /// Button text (also the message sent).
        text: String,
        /// The bot's payload.
        payload: String,
    },
}

/// The kind of input a form field takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// One line of text.
    Text,
    /// An email address.
    Email,
    /// Several lines.
    TextArea,
}

/// One field of a [`RichContent::Form`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    /// Key sent back with the value.
    pub name: String,
    /// Label shown to the visitor.
    pub label: String,
    /// Input kind.
    pub kind: FieldKind,
    /// Placeholder text.
    pub placeholder: String,
    /// Whether the form can be sent without it.
    pub required: bool,
}

/// One link of a [`RichContent::Articles`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleLink {
    /// Title.
    pub title: String,
    /// Short description.
    pub description: String,
    /// http(s) URL, or empty when the server's was not one (the article is shown unlinked).
    pub url: String,
}

/// A visitor's satisfaction rating.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingAnswer {
    /// 1 (worst) to 5 (best).
    pub rating: u8,
    /// Optional comment.
    pub feedback: String,
}

/// The visitor's answer to a message's [`RichContent`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RichAnswer {
    /// An option of [`RichContent::Choices`].
    Choice(Choice),
    /// The values of a [`RichContent::Form`] (field name, value).
    Form {
        /// Field name and value, in field order.
        values: Vec<(String, String)>,
    },
    /// A [`RichContent::Rating`].
    Rating(RatingAnswer),
}

/// Keeps only http and https URLs: `javascript:` and `data:` links never reach the DOM.
pub fn safe_url(url: &str) -> Option<String> {
    let trimmed = url.trim();
    let lower = trimmed.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then(|| trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_only_moves_forward() {
        use DeliveryStatus::*;
        assert!(Pending.can_become(Sent));
        assert!(Sent.can_become(Read));
        assert!(!Read.can_become(Sent));
        assert!(!Delivered.can_become(Delivered));
        assert!(Pending.can_become(Failed));
        assert!(!Sent.can_become(Failed));
        assert!(Failed.can_become(Pending));
        assert!(!Failed.can_become(Sent));
    }

    #[test]
    fn only_http_urls_are_safe() {
        assert_eq!(
            safe_url(" https://x.test/a.png "),
            Some("https://x.test/a.png".into())
        );
        assert_eq!(safe_url("http://x.test"), Some("http://x.test".into()));
        assert_eq!(safe_url("javascript:alert(1)"), None);
        assert_eq!(safe_url("JAVASCRIPT:alert(1)"), None);
        assert_eq!(safe_url("data:text/html,<b>"), None);
    }
}
