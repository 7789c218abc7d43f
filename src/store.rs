//! The reactive store: the widget state in Leptos signals, read by the UI and the JS API.

use crate::core::{ChatEvent, Millis};
use crate::i18n::{Locale, Strings};
use crate::state::{ChatState, Notice};
use leptos::prelude::*;

/// Settings the UI reads that do not change during a conversation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Appearance {
    /// Header title override.
    pub title: Option<String>,
    /// Launcher on the left instead of the right.
    pub left: bool,
    /// Accent colour override.
    pub accent_color: Option<String>,
    /// Whether this is the built-in demo conversation.
    pub demo: bool,
}

/// Handles to every signal of one mounted widget. Cheap to copy.
#[derive(Clone, Copy)]
pub struct Store {
    /// Conversation, connection, typing, presence, unread.
    pub state: RwSignal<ChatState>,
    /// UI language.
    pub locale: RwSignal<Locale>,
    /// Fixed appearance settings.
    pub appearance: RwSignal<Appearance>,
    /// Text for the polite live region (status changes, messages while closed).
    pub announcement: RwSignal<String>,
    /// Whether the window is open. A memo: what follows it runs when the window opens or
    /// closes, not on every change of the state (every message).
    pub is_open: Memo<bool>,
    /// The unread count, a memo for the same reason.
    pub unread: Memo<u32>,
}

impl Store {
    /// A store with default state.
    pub fn new(locale: Locale, appearance: Appearance) -> Self {
        let state = RwSignal::new(ChatState::default());
        Store {
            state,
            locale: RwSignal::new(locale),
            appearance: RwSignal::new(appearance),
            announcement: RwSignal::new(String::new()),
            is_open: Memo::new(move |_| state.with(|s| s.is_open)),
            unread: Memo::new(move |_| state.with(|s| s.unread)),
        }
    }

    /// The strings of the current locale (tracked).
    pub fn strings(&self) -> &'static Strings {
        self.locale.get().strings()
    }

    /// Applies a backend event and returns what the host page should hear about.
    pub fn apply(&self, event: ChatEvent, now: Millis) -> Option<Notice> {
        let announce = match &event {
            ChatEvent::ConnectionChanged(c) => Some(*c),
            _ => None,
        };
        let notice = self.state.try_update(|s| s.apply(event, now)).flatten();
        if let Some(c) = announce {
            self.announce_connection(c);
        }
        if let Some(Notice::IncomingMessage(m)) = &notice {
            if !self.state.with_untracked(|s| s.is_open) {
                let s = self.locale.get_untracked().strings();
                let name = m.author.name.clone().unwrap_or_else(|| s.agent.to_string());
                self.announcement
                    .set(format!("{} {name}: {}", s.new_message_from, m.text));
            }
        }
        notice
    }

    fn announce_connection(&self, c: crate::core::ConnectionState) {
        use crate::core::ConnectionState::*;
        let s = self.locale.get_untracked().strings();
        let text = match c {
            Reconnecting { .. } => s.reconnecting_now,
            Offline => s.you_are_offline,
            Ended => s.conversation_ended,
            Online | Connecting => return,
        };
        self.announcement.set(text.to_string());
    }
}
