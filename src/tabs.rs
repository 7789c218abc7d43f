//! What the tabs of one browser say to each other when they share one conversation: the leader
//! tab runs the backend and the only connection, the followers forward the visitor's commands
//! to it and render the events it relays. Plain data, so the vocabulary and the state a new
//! follower is sent are tested natively; the browser side is `driver::tab_link`.

use crate::core::{ChatEvent, RichAnswer, VisitorProfile};
use crate::state::ChatState;
use serde::{Deserialize, Serialize};

/// Bumped when the messages change shape: tabs of another version use another channel and
/// lock, so each version elects its own leader instead of misreading the other's messages.
pub const TAB_PROTOCOL: &str = "chat-widget-tabs-2";

/// A visitor's command, run by the leader wherever it was given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TabCommand {
    /// Start the backend (the window was opened).
    Start,
    /// Send a message typed in some tab; `id` is its client id, `at` when it was typed.
    Send { id: String, text: String, at: i64 },
    /// Send a failed message again.
    Retry { id: String },
    /// Answer a message's rich content.
    Answer { id: String, answer: RichAnswer },
    /// The visitor pressed a key in the composer.
    Typed,
    /// The visitor has seen the conversation.
    MarkRead,
    /// New name/email.
    SetVisitor { profile: VisitorProfile },
    /// End the conversation.
    EndChat,
    /// Start a new conversation after the last one ended.
    StartNew,
}

/// One message on the tabs' channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TabMessage {
    /// Follower → leader: a tab (new, or after a hand-over) asks for the whole state.
    Hello { from: String },
    /// Follower → leader: run this command.
    Command { command: TabCommand },
    /// Leader → all: this tab has just become the leader.
    Leader,
    /// Leader → the tab that said hello: everything shown so far.
    Sync {
        to: String,
        events: Vec<ChatEvent>,
        unread: u32,
    },
    /// Leader → all: what the backend just reported, in order.
    Events { events: Vec<ChatEvent> },
    /// Leader → all: a visitor message is on its way, and in the saved session, so a new
    /// leader will not lose it (shown pending in every tab; the forwarding tab stops keeping it).
    Queued { id: String, text: String, at: i64 },
    /// Leader → all: a failed message is being sent again.
    Retrying { id: String },
    /// Leader → all: the visitor read the conversation in some tab; clear the unread badge.
    Read,
    /// Leader → all: a new conversation starts; forget the old one.
    Reset,
}

impl TabMessage {
    /// The message as channel text.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads channel text; `None` for anything that is not one of ours.
    pub fn decode(text: &str) -> Option<TabMessage> {
        serde_json::from_str(text).ok()
    }
}

/// The events that rebuild `state` in a tab that has none: every message as restored (never
/// unread, never announced), then the agent, presence, conversation, connection and typing.
pub fn sync_events(state: &ChatState) -> Vec<ChatEvent> {
    let mut events: Vec<ChatEvent> = state
        .transcript
        .entries()
        .iter()
        .map(|e| ChatEvent::MessageRestored(e.message.clone()))
        .collect();
    events.push(ChatEvent::AgentChanged(state.agent.clone()));
    if let Some(p) = state.presence {
        events.push(ChatEvent::PresenceChanged(p));
    }
    events.push(ChatEvent::ConversationStatusChanged(state.conversation));
    events.push(ChatEvent::ConnectionChanged(state.connection));
    if let Some((who, _)) = &state.typing {
        events.push(ChatEvent::TypingStarted(who.clone()));
    }
    if let Some(e) = &state.fatal {
        events.push(ChatEvent::Error(e.clone()));
    }
    events
}

/// Whether a saved session names message `client_id`. Client ids are long random tokens that
/// JSON never escapes, so finding the quoted id in the snapshot text is proof enough, and it
/// works for every backend's snapshot shape.
pub fn snapshot_knows(snapshot: &str, client_id: &str) -> bool {
    snapshot.contains(&format!("\"{client_id}\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{
        Author, ChatMessage, ConnectionState, ConversationStatus, DeliveryStatus, Presence, Role,
    };

    fn agent() -> Author {
        Author {
            role: Role::Agent,
            name: Some("Ana".into()),
            avatar_url: None,
        }
    }

    fn leader_state() -> ChatState {
        let mut s = ChatState::default();
        s.transcript.add_pending("cw-1", "hello", 1);
        let mut reply = ChatMessage::visitor("a-1", "hi there", 2, DeliveryStatus::Sent);
        reply.client_id = None;
        reply.author = agent();
        s.apply(ChatEvent::MessageAdded(reply), 2);
        s.apply(ChatEvent::AgentChanged(Some(agent())), 3);
        s.apply(ChatEvent::PresenceChanged(Presence::Away), 3);
        s.apply(ChatEvent::ConnectionChanged(ConnectionState::Online), 3);
        s.apply(ChatEvent::TypingStarted(agent()), 4);
        s
    }

    #[test]
    fn a_follower_rebuilt_from_sync_shows_what_the_leader_shows() {
        let leader = leader_state();
        let mut follower = ChatState::default();
        for e in sync_events(&leader) {
            follower.apply(e, 4);
        }
        assert_eq!(follower.transcript, leader.transcript);
        assert_eq!(follower.agent, leader.agent);
        assert_eq!(follower.presence, leader.presence);
        assert_eq!(follower.connection, leader.connection);
        assert_eq!(follower.conversation, ConversationStatus::Open);
        assert!(follower.typing.is_some());
        // Restored, not new: nothing unread, the sync sets the count itself.
        assert_eq!(follower.unread, 0);
    }

    #[test]
    fn a_sync_applied_twice_changes_nothing() {
        let leader = leader_state();
        let mut follower = ChatState::default();
        for e in sync_events(&leader).into_iter().chain(sync_events(&leader)) {
            follower.apply(e, 4);
        }
        assert_eq!(follower.transcript.len(), 2);
    }

    #[test]
    fn messages_survive_the_channel_and_foreign_text_is_ignored() {
        let m = TabMessage::Command {
            command: TabCommand::Send {
                id: "cw-1".into(),
                text: "a \"quoted\" <b>text</b>".into(),
                at: 5,
            },
        };
        assert_eq!(TabMessage::decode(&m.encode()), Some(m));
        let events = TabMessage::Events {
            events: sync_events(&leader_state()),
        };
        assert_eq!(TabMessage::decode(&events.encode()), Some(events));
        assert_eq!(TabMessage::decode("{\"t\":\"nonsense\"}"), None);
        assert_eq!(TabMessage::decode("not json"), None);
    }

    #[test]
    fn a_snapshot_knows_a_message_only_by_its_whole_id() {
        let snap = r#"{"outbox":[{"client_id":"cw-18c-5f3","text":"hi"}]}"#;
        assert!(snapshot_knows(snap, "cw-18c-5f3"));
        assert!(!snapshot_knows(snap, "cw-18c-5f"));
        assert!(!snapshot_knows(snap, "cw-18c-5f31"));
    }
}
