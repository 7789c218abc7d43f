//! Transcript events in `index` order, each exactly once. GMS numbers a chat's events 1, 2, 3…;
//! a live notification can overtake the answer to `requestNotifications`, or a server can
//! deliver out of order, so an event after a gap waits here until the gap fills — from a later
//! notification, or from a complete transcript that shows nothing exists there.

use super::super::Millis;
use serde_json::Value;
use std::collections::BTreeMap;

/// The event's position in the transcript, if it has one.
pub fn index_of(event: &Value) -> Option<u64> {
    match event.get("index")? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// What has been applied, and what waits for a gap to fill.
#[derive(Debug, Default)]
pub struct EventOrder {
    applied: u64,
    waiting: BTreeMap<u64, Value>,
    gap_since: Option<Millis>,
}

impl EventOrder {
    /// Highest index applied with nothing missing before it.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Since when an event has been waiting for a gap to fill.
    pub fn gap_since(&self) -> Option<Millis> {
        self.gap_since
    }

    /// The `transcriptPosition` that makes any answer carry an event already applied — whether
    /// the server reads the position as inclusive (the seed sample passes the last index it
    /// has) or exclusive — so the answer can be told from a live notification, and nothing
    /// between is missed either way. Duplicates are dropped by index.
    pub fn lookup_position(&self) -> u64 {
        self.applied.saturating_sub(1)
    }

    /// Whether `events` reach back to what a `requestNotifications` from
    /// [`EventOrder::lookup_position`] returns first: an event already applied, or index 1
    /// when nothing is. A live notification carries only events after the applied ones, and
    /// index 1 (the visitor joining) is never one.
    pub fn answers_lookup(&self, events: &[Value]) -> bool {
        let first = self.applied.max(1);
        events
            .iter()
            .filter_map(index_of)
            .any(|i| i >= 1 && i <= first)
    }

    /// Takes the events of one response; returns those to apply now, in order. Events
    /// without an index are applied at once (there is nothing to order them by).
    pub fn accept(&mut self, events: &[Value], now: Millis) -> Vec<Value> {
        let mut ready = Vec::new();
        let before = self.applied;
        for event in events {
            match index_of(event) {
                None => ready.push(event.clone()),
                Some(i) if i <= self.applied => {}
                Some(i) => {
                    self.waiting.entry(i).or_insert_with(|| event.clone());
                }
            }
        }
        self.drain(&mut ready, None);
        self.note_gap(now, self.applied > before);
        ready
    }

    /// A transcript complete up to `through` shows that missing indices up to it do not exist
    /// for this client: apply what waits beyond them.
    pub fn close_gaps_through(&mut self, through: u64, now: Millis) -> Vec<Value> {
        let mut ready = Vec::new();
        let before = self.applied;
        self.drain(&mut ready, Some(through));
        self.note_gap(now, self.applied > before);
        ready
    }

    fn drain(&mut self, ready: &mut Vec<Value>, skip_through: Option<u64>) {
        while let Some((&i, _)) = self.waiting.first_key_value() {
            let next = self.applied + 1;
            if i == next || skip_through.is_some_and(|t| i <= t + 1) {
                let (_, event) = self.waiting.pop_first().expect("first exists");
                self.applied = i;
                ready.push(event);
            } else {
                break;
            }
        }
    }

    /// A gap that remains after progress is a new one: its wait starts now.
    fn note_gap(&mut self, now: Millis, progressed: bool) {
        if self.waiting.is_empty() {
            self.gap_since = None;
        } else if self.gap_since.is_none() || progressed {
            self.gap_since = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(i: u64) -> Value {
        json!({"index": i, "type": "Message"})
    }

    fn indices(v: &[Value]) -> Vec<u64> {
        v.iter().filter_map(index_of).collect()
    }

    #[test]
    fn out_of_order_events_wait_for_the_gap_and_apply_once() {
        let mut o = EventOrder::default();
        assert_eq!(indices(&o.accept(&[ev(1), ev(2)], 0)), [1, 2]);
        assert!(o.accept(&[ev(4)], 10).is_empty());
        assert_eq!(o.gap_since(), Some(10));
        assert_eq!(indices(&o.accept(&[ev(2), ev(3), ev(4)], 20)), [3, 4]);
        assert_eq!(o.gap_since(), None);
        assert!(o.accept(&[ev(4)], 30).is_empty(), "never twice");
    }

    #[test]
    fn a_complete_transcript_closes_a_gap_that_does_not_exist() {
        let mut o = EventOrder::default();
        o.accept(&[ev(1)], 0);
        o.accept(&[ev(3), ev(5)], 0);
        assert_eq!(indices(&o.close_gaps_through(3, 5)), [3]);
        assert_eq!(o.gap_since(), Some(5));
        assert_eq!(indices(&o.close_gaps_through(5, 6)), [5]);
    }

    #[test]
    fn events_without_index_are_applied_and_string_indices_are_read() {
        let mut o = EventOrder::default();
        let typing = json!({"type": "TypingStarted"});
        let ready = o.accept(&[typing.clone(), json!({"index": "1"})], 0);
        assert_eq!(ready.len(), 2);
        assert_eq!(o.applied(), 1);
        assert_eq!(o.lookup_position(), 0);
        assert!(o.answers_lookup(&[json!({"index": 1})]));
        assert!(!o.answers_lookup(&[json!({"index": 2})]));
    }

    #[test]
    fn before_anything_is_applied_only_a_transcript_from_index_1_answers_a_lookup() {
        let o = EventOrder::default();
        assert!(!o.answers_lookup(&[json!({"index": 10})]), "a live event");
        assert!(o.answers_lookup(&[json!({"index": 1}), json!({"index": 2})]));
    }
}
