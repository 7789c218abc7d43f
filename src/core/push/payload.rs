//! Agent messages as Push publishes them: RapidPro/courier "External" channel bodies
//! (`nyaruka/courier` `handlers/external/handler.go`) —
//! `{id, text, to, to_no_plus, from, from_no_plus, channel, metadata, quick_replies}`.
//! Courier splits a long text into several bodies that share one `id` (`SplitMsgByChannel`),
//! appends attachment URLs to the text (`"My pic!\nhttps://foo.bar/image.jpg"`), and puts quick
//! replies (strings) on the last part only.

use super::super::message::{
    safe_url, Attachment, AttachmentKind, Author, ChatMessage, DeliveryStatus, Role,
};
use super::super::Millis;
use serde_json::Value;

/// One published body, read.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// The server's message id (shared by the parts of one split message), if any.
    pub id: Option<String>,
    /// The text without the attachment URLs courier appended.
    pub text: String,
    /// Attachments: the `attachments` field, or URL lines at the end of the text.
    pub attachments: Vec<Attachment>,
    /// Quick replies: strings, `{title}` objects, or `metadata.quick_replies`.
    pub quick_replies: Vec<String>,
    /// Sender name, when the server gives one.
    pub from_name: Option<String>,
}

impl Part {
    /// Reads a body addressed to `urn`; `None` when it is for someone else or carries nothing.
    pub fn read(payload: &Value, urn: &str) -> Option<Part> {
        if payload.get("to").and_then(Value::as_str) != Some(urn) {
            return None; // Push's own widget keeps only `data.to === urn`.
        }
        let raw = payload
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (text, mut attachments) = split_trailing_urls(raw);
        attachments.extend(listed_attachments(payload));
        let mut quick_replies = quick_replies_of(payload.get("quick_replies"));
        if quick_replies.is_empty() {
            quick_replies = quick_replies_of(payload.pointer("/metadata/quick_replies"));
        }
        if text.is_empty() && attachments.is_empty() && quick_replies.is_empty() {
            return None;
        }
        let id = payload.get("id").and_then(|v| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        Some(Part {
            id,
            text,
            attachments,
            quick_replies,
            from_name: payload
                .get("from_name")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    /// What identifies this part among the parts of its message: its text (the parts of one
    /// split text differ) — a short stable hash.
    pub fn fingerprint(&self) -> String {
        // FNV-1a: tiny, stable across builds and platforms.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.text.bytes().chain(
            self.attachments
                .iter()
                .flat_map(|a| a.url.bytes().collect::<Vec<_>>()),
        ) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{:x}", h & 0xffff_ffff_ffff)
    }

    /// The message to show, under the transcript id `id`.
    pub fn into_message(self, id: String, now: Millis) -> ChatMessage {
        ChatMessage {
            id,
            client_id: None,
            author: Author {
                role: Role::Agent,
                name: self.from_name,
                avatar_url: None,
            },
            text: self.text,
            // Push bodies carry no time: arrival is the best there is.
            sent_at: now as i64,
            status: DeliveryStatus::Sent,
            quick_replies: self.quick_replies,
            attachments: self.attachments,
            rich: None,
            seq: None,
        }
    }
}

/// Courier appends each attachment URL on a line of its own after the text.
fn split_trailing_urls(raw: &str) -> (String, Vec<Attachment>) {
    let mut lines: Vec<&str> = raw.lines().collect();
    let mut urls = Vec::new();
    while let Some(last) = lines.last() {
        let t = last.trim();
        if t.is_empty() && !urls.is_empty() {
            lines.pop();
            continue;
        }
        match safe_url(t).filter(|u| !u.contains(char::is_whitespace)) {
            Some(url) if lines.len() > 1 || !urls.is_empty() || raw.trim() == t => {
                urls.push(url);
                lines.pop();
            }
            _ => break,
        }
    }
    urls.reverse();
    let text = lines.join("\n").trim_end().to_string();
    // A text that is nothing but one URL stays text (a link), not an attachment, unless it is
    // an image.
    if text.is_empty() && urls.len() == 1 && !crate::text::is_image_url(&urls[0]) {
        return (urls.remove(0), Vec::new());
    }
    (text, urls.into_iter().map(attachment).collect())
}

fn attachment(url: String) -> Attachment {
    Attachment {
        kind: if crate::text::is_image_url(&url) {
            AttachmentKind::Image
        } else {
            AttachmentKind::File
        },
        url,
    }
}

/// `attachments: ["image/jpeg:https://…", …]` (courier's content-type prefix), or the older
/// `image` / `media_url` fields.
fn listed_attachments(payload: &Value) -> Vec<Attachment> {
    let listed = payload
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|a| match a.find("http") {
            Some(i) => &a[i..],
            None => a,
        });
    let single = ["image", "media_url"]
        .into_iter()
        .filter_map(|k| payload.get(k).and_then(Value::as_str));
    listed
        .chain(single)
        .filter_map(safe_url)
        .take(10)
        .map(attachment)
        .collect()
}

fn quick_replies_of(list: Option<&Value>) -> Vec<String> {
    let Some(list) = list.and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|r| {
            r.as_str()
                .map(str::to_string)
                .or_else(|| r.get("title").and_then(Value::as_str).map(str::to_string))
        })
        .filter(|r| !r.trim().is_empty())
        .take(20)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn courier_bodies_are_read_with_attachments_and_quick_replies() {
        let p = Part::read(
            &json!({"id": 10, "text": "My pic!\nhttps://foo.bar/image.jpg", "to": "u", "from": "x",
                    "quick_replies": ["Yes", {"title": "No"}]}),
            "u",
        )
        .unwrap();
        assert_eq!(p.id.as_deref(), Some("10"));
        assert_eq!(p.text, "My pic!");
        assert_eq!(p.attachments.len(), 1);
        assert_eq!(p.attachments[0].kind, AttachmentKind::Image);
        assert_eq!(p.quick_replies, ["Yes", "No"]);
        assert!(Part::read(&json!({"text": "hi", "to": "other"}), "u").is_none());
    }

    #[test]
    fn a_link_alone_stays_text_and_metadata_quick_replies_count() {
        let p = Part::read(
            &json!({"text": "https://shop.test/help", "to": "u",
                    "metadata": {"quick_replies": [{"title": "Thanks"}]}}),
            "u",
        )
        .unwrap();
        assert_eq!(p.text, "https://shop.test/help");
        assert!(p.attachments.is_empty());
        assert_eq!(p.quick_replies, ["Thanks"]);
    }

    #[test]
    fn parts_with_different_text_have_different_fingerprints() {
        let a = Part::read(&json!({"id": 1, "text": "part one", "to": "u"}), "u").unwrap();
        let b = Part::read(&json!({"id": 1, "text": "part two", "to": "u"}), "u").unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), a.clone().fingerprint());
    }
}
