//! What Voxsig (Chatwoot) sends: message, user and conversation payloads, from the socket and
//! from REST alike, decoded into the widget's vocabulary. Payload shapes follow Chatwoot's
//! `Message#push_event_data` / `_message.json.jbuilder` and its bot `content_type`s
//! (`app/models/message.rb`, `content_attributes`).

use crate::core::event::ConversationStatus;
use crate::core::message::{
    safe_url, ArticleLink, Attachment, AttachmentKind, Author, Card, CardAction, ChatMessage,
    Choice, DeliveryStatus, FieldKind, FormField, RatingAnswer, RichContent, Role,
};
use serde_json::Value;

/// `message_type` of a message the contact wrote.
pub const INCOMING: u64 = 0;
/// `message_type` of an activity message ("Conversation was resolved by …").
pub const ACTIVITY: u64 = 2;
/// `message_type` of a template/bot message (CSAT survey, greeting).
pub const TEMPLATE: u64 = 3;

/// A message payload as far as the session logic needs it before decoding the rest.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageHead {
    /// Server id (account-wide, increasing).
    pub id: u64,
    /// The conversation it belongs to, when the payload says.
    pub conversation_id: Option<u64>,
    /// Written by the contact (the visitor).
    pub incoming: bool,
    /// The client id the widget sent it with (only in `message.created` broadcasts).
    pub echo_id: Option<String>,
    /// Deleted on the server (`content_attributes.deleted`).
    pub deleted: bool,
    /// Private notes and activity messages are not part of the visitor's transcript.
    pub hidden: bool,
}

/// Reads what decides how a message payload is handled; `None` without an id.
pub fn message_head(v: &Value) -> Option<MessageHead> {
    let id = v.get("id").and_then(Value::as_u64)?;
    let message_type = v.get("message_type").and_then(Value::as_u64);
    Some(MessageHead {
        id,
        conversation_id: v.get("conversation_id").and_then(Value::as_u64),
        incoming: message_type == Some(INCOMING),
        echo_id: v
            .get("echo_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        deleted: attr(v, "deleted").and_then(Value::as_bool) == Some(true),
        hidden: v.get("private").and_then(Value::as_bool) == Some(true)
            || message_type == Some(ACTIVITY),
    })
}

fn attr<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get("content_attributes").and_then(|c| c.get(key))
}

fn text_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The message's content, trimmed the way it is compared with what the visitor typed.
pub fn content(v: &Value) -> String {
    text_of(v, "content").trim().to_string()
}

/// Decodes a user payload (agent, bot or contact).
pub fn decode_user(v: &Value) -> Option<Author> {
    if !v.is_object() {
        return None;
    }
    let role = match v.get("type").and_then(Value::as_str) {
        Some("contact") => Role::Visitor,
        Some("agent_bot") => Role::Bot,
        _ => Role::Agent,
    };
    let name = ["available_name", "name"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
        .map(str::to_string);
    let avatar_url = ["avatar_url", "thumbnail"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
        .and_then(safe_url);
    Some(Author {
        role,
        name,
        avatar_url,
    })
}

/// Decodes a message payload (socket or REST); `None` without an id.
pub fn decode_message(v: &Value) -> Option<ChatMessage> {
    let head = message_head(v)?;
    let message_type = v.get("message_type").and_then(Value::as_u64);
    let author = if head.incoming {
        Author::new(Role::Visitor)
    } else {
        let fallback = if message_type == Some(TEMPLATE) {
            Role::Bot
        } else {
            Role::Agent
        };
        v.get("sender")
            .and_then(decode_user)
            .filter(|a| a.role != Role::Visitor)
            .unwrap_or_else(|| Author::new(fallback))
    };
    let status = match v.get("status").and_then(Value::as_str) {
        Some("read") => DeliveryStatus::Read,
        Some("delivered") => DeliveryStatus::Delivered,
        _ => DeliveryStatus::Sent,
    };
    // created_at is unix seconds (an ISO string in some REST versions: then unknown).
    let sent_at = v
        .get("created_at")
        .and_then(Value::as_i64)
        .map(|s| s.saturating_mul(1000))
        .unwrap_or(0);
    Some(ChatMessage {
        id: head.id.to_string(),
        client_id: None,
        author,
        text: text_of(v, "content"),
        sent_at,
        seq: Some(head.id),
        status,
        quick_replies: Vec::new(),
        attachments: decode_attachments(v),
        rich: decode_rich(v),
    })
}

fn decode_attachments(v: &Value) -> Vec<Attachment> {
    let Some(list) = v.get("attachments").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|a| {
            let url = a
                .get("data_url")
                .and_then(Value::as_str)
                .and_then(safe_url)?;
            // file_type is a string in payloads ("image") and an enum index in some versions.
            let image = a.get("file_type").and_then(Value::as_str) == Some("image")
                || a.get("file_type").and_then(Value::as_u64) == Some(0);
            Some(Attachment {
                kind: if image {
                    AttachmentKind::Image
                } else {
                    AttachmentKind::File
                },
                url,
            })
        })
        .collect()
}

fn items(v: &Value) -> impl Iterator<Item = &Value> {
    attr(v, "items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Chatwoot's `submitted_values`: an array of `{name?, title?, value}` (options, forms).
fn submitted_list(v: &Value) -> Option<Vec<&Value>> {
    let list = attr(v, "submitted_values")?.as_array()?;
    (!list.is_empty()).then(|| list.iter().collect())
}

fn decode_rich(v: &Value) -> Option<RichContent> {
    let kind = v.get("content_type").and_then(Value::as_str)?;
    match kind {
        "input_select" => {
            let options: Vec<Choice> = items(v).filter_map(decode_choice).collect();
            let chosen = submitted_list(v).and_then(|l| l.first().and_then(|c| decode_choice(c)));
            (!options.is_empty()).then_some(RichContent::Choices { options, chosen })
        }
        "cards" => {
            let cards: Vec<Card> = items(v).map(decode_card).collect();
            (!cards.is_empty()).then_some(RichContent::Cards { cards })
        }
        "form" => {
            let fields: Vec<FormField> = items(v).filter_map(decode_field).collect();
            let submitted = submitted_list(v).map(|l| {
                l.iter()
                    .map(|s| (text_of(s, "name"), text_of(s, "value")))
                    .collect()
            });
            (!fields.is_empty()).then_some(RichContent::Form { fields, submitted })
        }
        "input_email" => {
            // Answered through the widget API as `submitted_email`, through the public API as
            // `submitted_values`; either shows the form as answered.
            let email = attr(v, "submitted_email")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| submitted_list(v).and_then(|l| l.first().map(|s| text_of(s, "value"))));
            Some(RichContent::Form {
                fields: vec![FormField {
                    name: "email".into(),
                    label: "Email".into(),
                    kind: FieldKind::Email,
                    placeholder: "you@example.com".into(),
                    required: true,
                }],
                submitted: email.map(|e| vec![("email".into(), e)]),
            })
        }
        "article" => {
            let articles: Vec<ArticleLink> = items(v)
                // An unsafe link loses the link, not the article: its title still says what the
                // bot meant, as text.
                .map(|a| ArticleLink {
                    title: text_of(a, "title"),
                    description: text_of(a, "description"),
                    url: a
                        .get("link")
                        .and_then(Value::as_str)
                        .and_then(safe_url)
                        .unwrap_or_default(),
                })
                .filter(|a| !a.title.is_empty() || !a.url.is_empty())
                .collect();
            (!articles.is_empty()).then_some(RichContent::Articles { articles })
        }
        "input_csat" => {
            let stars = attr(v, "display_type").and_then(Value::as_str) == Some("star");
            let submitted = attr(v, "submitted_values")
                .and_then(|s| s.get("csat_survey_response"))
                .and_then(|r| {
                    let rating = r.get("rating").and_then(Value::as_u64)?;
                    Some(RatingAnswer {
                        rating: rating.clamp(1, 5) as u8,
                        feedback: text_of(r, "feedback_message"),
                    })
                });
            Some(RichContent::Rating { stars, submitted })
        }
        _ => None,
    }
}

fn decode_choice(v: &Value) -> Option<Choice> {
    let title = text_of(v, "title");
    let value = v
        .get("value")
        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
        .unwrap_or_else(|| title.clone());
    (!title.is_empty()).then_some(Choice { title, value })
}

fn decode_card(v: &Value) -> Card {
    let actions = v
        .get("actions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let text = text_of(a, "text");
            match a.get("type").and_then(Value::as_str) {
                Some("link") => Some(CardAction::Link {
                    text,
                    url: a.get("uri").and_then(Value::as_str).and_then(safe_url)?,
                }),
                Some("postback") => Some(CardAction::Postback {
                    payload: text_of(a, "payload"),
                    text,
                }),
                _ => None,
            }
        })
        .collect();
    Card {
        media_url: v
            .get("media_url")
            .and_then(Value::as_str)
            .and_then(safe_url),
        title: text_of(v, "title"),
        description: text_of(v, "description"),
        actions,
    }
}

fn decode_field(v: &Value) -> Option<FormField> {
    let name = text_of(v, "name");
    if name.is_empty() {
        return None;
    }
    let kind = match v.get("type").and_then(Value::as_str) {
        Some("email") => FieldKind::Email,
        Some("text_area" | "textarea") => FieldKind::TextArea,
        _ => FieldKind::Text,
    };
    let label = text_of(v, "label");
    Some(FormField {
        label: if label.is_empty() {
            name.clone()
        } else {
            label
        },
        name,
        kind,
        placeholder: text_of(v, "placeholder"),
        required: v.get("required").and_then(Value::as_bool) == Some(true),
    })
}

/// A conversation `status` as the visitor sees it.
pub fn conversation_status(s: &str) -> ConversationStatus {
    match s {
        "resolved" => ConversationStatus::Resolved,
        "pending" | "snoozed" => ConversationStatus::Pending,
        _ => ConversationStatus::Open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bot_content_types_decode_into_rich_content() {
        let select = json!({"id": 5, "message_type": 1, "content": "Pick", "content_type": "input_select",
            "content_attributes": {"items": [{"title": "Sales", "value": "sales"}, {"title": "Help", "value": "help"}],
                                   "submitted_values": [{"title": "Help", "value": "help"}]}});
        let m = decode_message(&select).unwrap();
        assert_eq!(m.seq, Some(5));
        let Some(RichContent::Choices { options, chosen }) = m.rich else {
            panic!("choices")
        };
        assert_eq!(options.len(), 2);
        assert_eq!(chosen.unwrap().value, "help");

        let cards = json!({"id": 6, "message_type": 1, "content_type": "cards", "content_attributes": {"items": [
            {"media_url": "javascript:alert(1)", "title": "Boots", "description": "Warm",
             "actions": [{"type": "link", "text": "View", "uri": "https://shop.test/b"},
                         {"type": "link", "text": "Bad", "uri": "javascript:x"},
                         {"type": "postback", "text": "Buy", "payload": "BUY_1"}]}]}});
        let Some(RichContent::Cards { cards }) = decode_message(&cards).unwrap().rich else {
            panic!("cards")
        };
        assert_eq!(cards[0].media_url, None, "only http(s) images");
        assert_eq!(cards[0].actions.len(), 2, "only http(s) links");

        let articles = json!({"id": 8, "message_type": 1, "content_type": "article", "content_attributes": {"items": [
            {"title": "Reset", "description": "How", "link": "https://help.test/reset"},
            {"title": "Tricked", "link": "javascript:alert(1)"},
            {"title": "", "link": "vbscript:x"}]}});
        let Some(RichContent::Articles { articles }) = decode_message(&articles).unwrap().rich
        else {
            panic!("articles")
        };
        let shown: Vec<_> = articles
            .iter()
            .map(|a| (a.title.as_str(), a.url.as_str()))
            .collect();
        assert_eq!(
            shown,
            [("Reset", "https://help.test/reset"), ("Tricked", "")],
            "an unsafe link is dropped, its title kept"
        );

        let csat = json!({"id": 7, "message_type": 3, "content_type": "input_csat",
            "content_attributes": {"display_type": "star", "submitted_values": {"csat_survey_response": {"rating": 4, "feedback_message": "ok"}}}});
        let m = decode_message(&csat).unwrap();
        assert_eq!(
            m.author.role,
            Role::Bot,
            "a template without sender is the bot"
        );
        assert_eq!(
            m.rich,
            Some(RichContent::Rating {
                stars: true,
                submitted: Some(RatingAnswer {
                    rating: 4,
                    feedback: "ok".into()
                })
            })
        );
    }

    #[test]
    fn heads_tell_echo_deleted_and_hidden() {
        let h = message_head(
            &json!({"id": 9, "message_type": 0, "echo_id": "cw-1", "conversation_id": 3,
            "content_attributes": {"deleted": true}}),
        )
        .unwrap();
        assert!(h.incoming && h.deleted && !h.hidden);
        assert_eq!(h.echo_id.as_deref(), Some("cw-1"));
        assert!(
            message_head(&json!({"id": 1, "message_type": 2}))
                .unwrap()
                .hidden
        );
        assert!(
            message_head(&json!({"id": 1, "private": true}))
                .unwrap()
                .hidden
        );
        assert!(message_head(&json!({"message_type": 1})).is_none());
    }
}
