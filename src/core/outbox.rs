//! Visitor messages not yet confirmed by the server. They survive disconnects and page
//! reloads (they are part of every backend's snapshot) and are sent again, in order, with the
//! same client id, until the server confirms them.

use serde::{Deserialize, Serialize};

/// One message waiting for the server's confirmation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    /// The widget's id for the message (echo id).
    pub client_id: String,
    /// The text.
    pub text: String,
    /// Handed to the transport on the current connection (reset when it drops).
    #[serde(skip)]
    pub in_flight: bool,
    /// Set when the message is first handed to the server: the highest server position
    /// (message id, transcript index) known then. If the server ever stored it, it is at a
    /// later position — which is where to look before sending it again when the outcome of a
    /// send is unknown (answer lost, request timed out, page reloaded mid-send).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_after: Option<u64>,
    /// When it was last handed to the server (caller's clock): a request still on its way
    /// (from a page that reloaded, say) must have arrived before it is looked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt: Option<u64>,
}

/// A message the widget gave up on (its conversation ended, or the server never stored it):
/// kept so that a reload still shows it as not sent, with Retry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotSent {
    /// The widget's id for the message.
    pub client_id: String,
    /// The text, to send again on Retry.
    pub text: String,
}

/// Ordered unconfirmed messages, and the ones given up on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbox {
    items: Vec<OutboxItem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    not_sent: Vec<NotSent>,
}

impl Outbox {
    /// Queues a message (a Retry takes it off the not-sent list); a client id already queued
    /// is not queued twice.
    pub fn push(&mut self, client_id: &str, text: &str) {
        self.not_sent.retain(|n| n.client_id != client_id);
        if !self.items.iter().any(|i| i.client_id == client_id) {
            self.items.push(OutboxItem {
                client_id: client_id.into(),
                text: text.into(),
                in_flight: false,
                sent_after: None,
                last_attempt: None,
            });
        }
    }

    /// Messages not yet handed to the transport, marking them in flight.
    pub fn take_unsent(&mut self) -> Vec<OutboxItem> {
        self.items
            .iter_mut()
            .filter(|i| !i.in_flight)
            .map(|i| {
                i.in_flight = true;
                i.clone()
            })
            .collect()
    }

    /// The connection dropped: everything in flight must be sent again.
    pub fn requeue_in_flight(&mut self) {
        for i in &mut self.items {
            i.in_flight = false;
        }
    }

    /// The server confirmed a message; returns it.
    pub fn confirm(&mut self, client_id: &str) -> Option<OutboxItem> {
        let at = self.items.iter().position(|i| i.client_id == client_id)?;
        Some(self.items.remove(at))
    }

    /// The oldest waiting message with this text, sent or not (after a reconnect, a server
    /// transcript may show a message whose acknowledgement was lost).
    pub fn find_by_text(&self, text: &str) -> Option<&OutboxItem> {
        self.items.iter().find(|i| i.text == text)
    }

    /// Marks one message unsent again (its send failed and will be retried).
    pub fn requeue(&mut self, client_id: &str) {
        if let Some(i) = self.items.iter_mut().find(|i| i.client_id == client_id) {
            i.in_flight = false;
        }
    }

    /// The oldest waiting message, if any.
    pub fn head(&self) -> Option<&OutboxItem> {
        self.items.first()
    }

    /// Marks a message as handed to the server, remembering the first position it could
    /// be stored at (kept from the first attempt on later ones).
    pub fn mark_sent(&mut self, client_id: &str, after: u64, now: u64) {
        if let Some(i) = self.items.iter_mut().find(|i| i.client_id == client_id) {
            i.in_flight = true;
            i.sent_after.get_or_insert(after);
            i.last_attempt = Some(now);
        }
    }

    /// Moves the last attempt of a message back to `at` (the device clock was set back past
    /// it, and waiting for a time that is now in the future would stall the message).
    pub fn rewind_attempt(&mut self, client_id: &str, at: u64) {
        if let Some(i) = self.items.iter_mut().find(|i| i.client_id == client_id) {
            i.last_attempt = i.last_attempt.map(|t| t.min(at));
        }
    }

    /// The conversation the messages were sent to is gone: every waiting message must be
    /// sent afresh, nothing can be found of earlier attempts.
    pub fn forget_attempts(&mut self) {
        for i in &mut self.items {
            i.in_flight = false;
            i.sent_after = None;
            i.last_attempt = None;
        }
    }

    /// Gives up on one waiting message: it moves to the not-sent list.
    pub fn give_up(&mut self, client_id: &str) -> Option<NotSent> {
        let item = self.confirm(client_id)?;
        let n = NotSent {
            client_id: item.client_id,
            text: item.text,
        };
        self.not_sent.push(n.clone());
        Some(n)
    }

    /// Gives up on every waiting message (their conversation is over); returns them.
    pub fn give_up_all(&mut self) -> Vec<NotSent> {
        let ids: Vec<String> = self.items.iter().map(|i| i.client_id.clone()).collect();
        ids.iter().filter_map(|id| self.give_up(id)).collect()
    }

    /// Only the not-sent list: what a new conversation inherits from an ended one.
    pub fn into_not_sent(self) -> Outbox {
        Outbox {
            items: Vec::new(),
            not_sent: self.not_sent,
        }
    }

    /// Messages given up on, oldest first.
    pub fn not_sent(&self) -> &[NotSent] {
        &self.not_sent
    }

    /// Whether a client id is waiting.
    pub fn contains(&self, client_id: &str) -> bool {
        self.items.iter().any(|i| i.client_id == client_id)
    }

    /// The waiting messages, oldest first.
    pub fn items(&self) -> &[OutboxItem] {
        &self.items
    }

    /// Whether nothing is waiting (messages given up on do not wait).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_sent_once_per_connection_and_again_after_a_drop() {
        let mut o = Outbox::default();
        o.push("a", "one");
        o.push("b", "two");
        o.push("a", "one");
        assert_eq!(o.take_unsent().len(), 2);
        assert!(
            o.take_unsent().is_empty(),
            "not sent twice on one connection"
        );
        assert!(o.confirm("a").is_some());
        o.requeue_in_flight();
        let again: Vec<_> = o.take_unsent().into_iter().map(|i| i.client_id).collect();
        assert_eq!(again, ["b"]);
    }

    #[test]
    fn survives_a_snapshot_round_trip_as_unsent() {
        let mut o = Outbox::default();
        o.push("a", "one");
        o.take_unsent();
        let restored: Outbox = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        assert_eq!(restored.clone().take_unsent().len(), 1);
    }
}
