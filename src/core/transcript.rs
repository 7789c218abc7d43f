//! The conversation as the visitor sees it: an ordered, de-duplicated list of messages.
//!
//! Backends may deliver the same message more than once (the echo of a sent message, a
//! re-fetch after reconnect, a replayed transcript); this is the one place that decides
//! whether a message is new, an update of one already shown, or a duplicate.

use super::message::{ChatMessage, DeliveryStatus};
use std::collections::HashSet;

/// A message older than the newest by more than this is history and is placed by its time.
pub const HISTORY_SLACK_MS: i64 = 60_000;

/// A message and a revision counter that changes whenever the message does, so keyed list
/// rendering knows to redraw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranscriptEntry {
    /// The message.
    pub message: ChatMessage,
    /// Bumped on every change.
    pub revision: u32,
}

/// What applying a message did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// A message not seen before was inserted.
    Inserted,
    /// An existing message changed.
    Updated,
    /// Nothing changed (a duplicate).
    Unchanged,
}

/// Ordered list of messages, unique by id and by client id.
#[derive(Clone, Debug, Default)]
pub struct Transcript {
    entries: Vec<TranscriptEntry>,
    /// Every id and client id any entry has had (removed ones too). A message whose ids are
    /// not here is new without looking through the list, so a message arriving in a long
    /// conversation costs the same as in a short one.
    seen_ids: HashSet<String>,
}

/// Two transcripts are equal when they show the same; which ids were seen is bookkeeping.
impl PartialEq for Transcript {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Eq for Transcript {}

impl Transcript {
    /// All entries in display order.
    pub fn entries(&self) -> &[TranscriptEntry] {
        &self.entries
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no messages.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Finds a message by server id or client id.
    pub fn find(&self, id: &str) -> Option<&ChatMessage> {
        self.position(id, None).map(|i| &self.entries[i].message)
    }

    /// Adds the visitor's own message before any server has seen it.
    pub fn add_pending(&mut self, client_id: &str, text: &str, sent_at: i64) -> Applied {
        self.apply(ChatMessage::visitor(
            client_id,
            text,
            sent_at,
            DeliveryStatus::Pending,
        ))
    }

    /// Sets the delivery status of a message if that is progress (see [`DeliveryStatus::can_become`]).
    pub fn set_status(&mut self, id: &str, status: DeliveryStatus) -> Applied {
        let Some(i) = self.position(id, None) else {
            return Applied::Unchanged;
        };
        let entry = &mut self.entries[i];
        if !entry.message.status.can_become(status) {
            return Applied::Unchanged;
        }
        entry.message.status = status;
        entry.revision += 1;
        Applied::Updated
    }

    /// Inserts a new message or merges it into the one with the same id or client id.
    pub fn apply(&mut self, incoming: ChatMessage) -> Applied {
        match self.position(&incoming.id, incoming.client_id.as_deref()) {
            Some(i) => {
                self.remember_ids(&incoming);
                let applied = self.merge(i, incoming);
                if applied == Applied::Updated {
                    self.reposition(i);
                }
                applied
            }
            None => {
                self.remember_ids(&incoming);
                let at = self.insert_position(&incoming);
                self.entries.insert(
                    at,
                    TranscriptEntry {
                        message: incoming,
                        revision: 0,
                    },
                );
                Applied::Inserted
            }
        }
    }

    /// Where a message not yet in the list belongs.
    fn insert_position(&self, incoming: &ChatMessage) -> usize {
        if let Some(seq) = incoming.seq {
            // The server's order wins. Messages without a position yet (the visitor's pending
            // ones) stay right after what the visitor saw when sending them, so a reply that
            // overtakes their confirmation lands below them, not above.
            let Some(before) = self
                .entries
                .iter()
                .rposition(|e| e.message.seq.is_some_and(|s| s < seq))
            else {
                return self
                    .entries
                    .iter()
                    .position(|e| e.message.seq.is_some())
                    .unwrap_or(self.entries.len());
            };
            let mut at = before + 1;
            while self
                .entries
                .get(at)
                .is_some_and(|e| e.message.seq.is_none())
            {
                at += 1;
            }
            return at;
        }
        // Backends without a server order deliver in order and some clocks have only second
        // resolution, so arrival order wins; only a clearly older message (history) is placed
        // by time.
        let last = self.entries.last().map_or(i64::MIN, |e| e.message.sent_at);
        if incoming.sent_at >= last.saturating_sub(HISTORY_SLACK_MS) {
            self.entries.len()
        } else {
            self.entries
                .partition_point(|e| e.message.sent_at <= incoming.sent_at)
        }
    }

    /// Moves entry `i` to where its server position says, if it learnt one that disagrees
    /// with where it stands (a pending message confirmed after later messages arrived).
    fn reposition(&mut self, i: usize) {
        let Some(seq) = self.entries[i].message.seq else {
            return;
        };
        let seq_of = |e: &TranscriptEntry| e.message.seq;
        let prev_ok = self.entries[..i]
            .iter()
            .rev()
            .find_map(seq_of)
            .is_none_or(|s| s < seq);
        let next_ok = self.entries[i + 1..]
            .iter()
            .find_map(seq_of)
            .is_none_or(|s| s > seq);
        if prev_ok && next_ok {
            return;
        }
        let entry = self.entries.remove(i);
        let at = self.insert_position(&entry.message);
        self.entries.insert(at, entry);
    }

    /// Removes a message (deleted on the server), by id or client id.
    pub fn remove(&mut self, id: &str) -> Applied {
        match self.position(id, None) {
            Some(i) => {
                self.entries.remove(i);
                Applied::Updated
            }
            None => Applied::Unchanged,
        }
    }

    fn merge(&mut self, i: usize, incoming: ChatMessage) -> Applied {
        let entry = &mut self.entries[i];
        let current = &entry.message;
        let status = if current.status.can_become(incoming.status) {
            incoming.status
        } else {
            current.status
        };
        let merged = ChatMessage {
            // The server's id replaces the client id once known.
            id: if incoming.id.is_empty() {
                current.id.clone()
            } else {
                incoming.id
            },
            client_id: incoming.client_id.or_else(|| current.client_id.clone()),
            author: incoming.author,
            text: if incoming.text.is_empty() {
                current.text.clone()
            } else {
                incoming.text
            },
            // Keep the first-seen time so a message never jumps around the list.
            sent_at: current.sent_at,
            seq: incoming.seq.or(current.seq),
            status,
            quick_replies: incoming.quick_replies,
            attachments: incoming.attachments,
            rich: incoming.rich.or_else(|| current.rich.clone()),
        };
        if merged == entry.message {
            return Applied::Unchanged;
        }
        entry.message = merged;
        entry.revision += 1;
        Applied::Updated
    }

    fn remember_ids(&mut self, m: &ChatMessage) {
        if !self.seen_ids.contains(&m.id) {
            self.seen_ids.insert(m.id.clone());
        }
        if let Some(c) = m
            .client_id
            .as_deref()
            .filter(|c| !self.seen_ids.contains(*c))
        {
            self.seen_ids.insert(c.to_string());
        }
    }

    fn position(&self, id: &str, client_id: Option<&str>) -> Option<usize> {
        let maybe_here =
            self.seen_ids.contains(id) || client_id.is_some_and(|c| self.seen_ids.contains(c));
        if !maybe_here {
            return None;
        }
        self.entries.iter().position(|e| {
            let m = &e.message;
            m.id == id
                || m.client_id.as_deref() == Some(id)
                || (client_id.is_some() && m.client_id.as_deref() == client_id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::message::{Author, Role};

    fn agent(id: &str, text: &str, at: i64) -> ChatMessage {
        ChatMessage {
            id: id.into(),
            client_id: None,
            author: Author::named(Role::Agent, "Ana"),
            text: text.into(),
            sent_at: at,
            status: DeliveryStatus::Sent,
            quick_replies: vec![],
            attachments: vec![],
            rich: None,
            seq: None,
        }
    }

    #[test]
    fn server_echo_replaces_pending_message_instead_of_duplicating() {
        let mut t = Transcript::default();
        t.add_pending("c1", "hello", 1000);
        let mut echo = agent("42", "hello", 1500);
        echo.author = Author::new(Role::Visitor);
        echo.client_id = Some("c1".into());
        assert_eq!(t.apply(echo), Applied::Updated);
        assert_eq!(t.len(), 1);
        let m = t.find("42").expect("found by server id");
        assert_eq!(m.status, DeliveryStatus::Sent);
        assert_eq!(m.sent_at, 1000, "keeps its place");
        assert!(t.find("c1").is_some(), "still found by client id");
    }

    #[test]
    fn duplicate_delivery_is_unchanged() {
        let mut t = Transcript::default();
        assert_eq!(t.apply(agent("1", "hi", 10)), Applied::Inserted);
        assert_eq!(t.apply(agent("1", "hi", 10)), Applied::Unchanged);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn history_is_placed_by_time_but_near_times_keep_arrival_order() {
        let mut t = Transcript::default();
        t.apply(agent("1", "a", 0));
        t.apply(agent("3", "c", 600_000));
        t.apply(agent("2", "b", 300_000));
        // Second-resolution clocks: a reply stamped a little "before" the question stays after it.
        t.apply(agent("4", "d", 599_500));
        let texts: Vec<_> = t
            .entries()
            .iter()
            .map(|e| e.message.text.as_str())
            .collect();
        assert_eq!(texts, ["a", "b", "c", "d"]);
    }

    fn seq(id: u64) -> ChatMessage {
        let mut m = agent(&id.to_string(), &format!("m{id}"), 0);
        m.seq = Some(id);
        m
    }

    fn texts(t: &Transcript) -> Vec<String> {
        t.entries().iter().map(|e| e.message.text.clone()).collect()
    }

    #[test]
    fn server_order_wins_over_arrival_order_and_device_clock() {
        let mut t = Transcript::default();
        for id in [30, 10, 20] {
            t.apply(seq(id));
        }
        assert_eq!(texts(&t), ["m10", "m20", "m30"]);
    }

    #[test]
    fn a_reply_overtaking_the_confirmation_stays_below_the_pending_question() {
        let mut t = Transcript::default();
        t.apply(seq(10));
        t.add_pending("c1", "question", 5);
        t.apply(seq(14)); // The answer arrives before the POST's answer.
        assert_eq!(texts(&t), ["m10", "question", "m14"]);
        // Confirmed with a position before the reply: stays. Older history slots in before.
        let mut echo = seq(13);
        echo.client_id = Some("c1".into());
        echo.author = Author::new(Role::Visitor);
        echo.text = "question".into();
        t.apply(echo);
        t.apply(seq(11));
        assert_eq!(texts(&t), ["m10", "m11", "question", "m14"]);
    }

    #[test]
    fn a_confirmed_message_moves_to_its_server_position() {
        let mut t = Transcript::default();
        t.apply(seq(10));
        t.add_pending("c1", "question", 5);
        t.apply(seq(12));
        // The server stored it after 12 (the agent wrote first): it moves below 12.
        let mut echo = seq(15);
        echo.client_id = Some("c1".into());
        echo.text = "question".into();
        t.apply(echo);
        t.apply(seq(11));
        assert_eq!(texts(&t), ["m10", "m11", "m12", "question"]);
    }

    #[test]
    fn status_never_goes_backwards_and_bumps_revision() {
        let mut t = Transcript::default();
        t.add_pending("c1", "x", 1);
        assert_eq!(t.set_status("c1", DeliveryStatus::Read), Applied::Updated);
        assert_eq!(t.set_status("c1", DeliveryStatus::Sent), Applied::Unchanged);
        assert_eq!(t.entries()[0].revision, 1);
        assert_eq!(
            t.set_status("missing", DeliveryStatus::Read),
            Applied::Unchanged
        );
    }

    #[test]
    fn remove_finds_a_message_by_server_or_client_id() {
        let mut t = Transcript::default();
        t.add_pending("c1", "mine", 1);
        t.apply(agent("2", "theirs", 2));
        let mut echo = agent("42", "mine", 1);
        echo.author = Author::new(Role::Visitor);
        echo.client_id = Some("c1".into());
        t.apply(echo);
        assert_eq!(t.remove("42"), Applied::Updated);
        assert_eq!(texts(&t), ["theirs"]);
        assert_eq!(t.remove("c1"), Applied::Unchanged, "already gone");
        assert_eq!(t.remove("2"), Applied::Updated);
        assert!(t.is_empty());
    }

    #[test]
    fn a_removed_message_delivered_again_is_new_and_equality_ignores_seen_ids() {
        let mut t = Transcript::default();
        t.apply(agent("1", "a", 1));
        t.remove("1");
        assert_eq!(
            t,
            Transcript::default(),
            "shows the same as an empty transcript"
        );
        assert_eq!(t.apply(agent("1", "a", 1)), Applied::Inserted);
        assert_eq!(t.set_status("1", DeliveryStatus::Read), Applied::Updated);
        assert_eq!(
            t.set_status("unknown", DeliveryStatus::Read),
            Applied::Unchanged
        );
    }
}
