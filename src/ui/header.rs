//! The window header: agent avatar, title, presence, end and close buttons.

use super::{use_store, with_controller};
use crate::core::{message::safe_url, Presence};
use leptos::prelude::*;

/// Window header.
#[component]
pub fn Header() -> impl IntoView {
    let store = use_store();
    let agent = move || store.state.with(|s| s.agent.clone());
    let title = move || {
        store
            .appearance
            .with(|a| a.title.clone())
            .unwrap_or_else(|| store.strings().title.to_string())
    };
    // Once the conversation is over nobody is with the visitor, whatever the agent's status.
    let presence = move || {
        store.state.with(|s| {
            if s.is_over() {
                s.presence.map(|_| Presence::Offline)
            } else {
                s.presence
            }
        })
    };
    let presence_label = move || {
        let s = store.strings();
        let who = agent()
            .and_then(|a| a.name)
            .unwrap_or_else(|| s.agent.to_string());
        // A backend that never reports presence gets no claim about it.
        match presence() {
            Some(Presence::Online) => format!("{who} · {}", s.online),
            Some(Presence::Away) => format!("{who} · {}", s.away),
            Some(Presence::Offline) => format!("{who} · {}", s.offline),
            None => who,
        }
    };
    let avatar = move || {
        let a = agent();
        let initial = a
            .as_ref()
            .and_then(|a| a.name.as_ref())
            .and_then(|n| n.chars().next())
            .map(|c| c.to_uppercase().to_string())
            .unwrap_or_else(|| "?".into());
        match a.and_then(|a| a.avatar_url).and_then(|u| safe_url(&u)) {
            Some(url) => view! { <img class="cw-avatar" src=url alt="" /> }.into_any(),
            None => {
                view! { <span class="cw-avatar" aria-hidden="true">{initial}</span> }.into_any()
            }
        }
    };
    let can_end = move || {
        store.state.with(|s| {
            // Ending a resolved conversation would reopen it on the server (a toggle).
            s.fatal.is_none() && !s.is_over() && !s.is_resolved() && !s.transcript.is_empty()
        })
    };
    view! {
        <header class="cw-header">
            <div class="cw-avatar-wrap">
                {avatar}
                <span
                    class="cw-presence-dot"
                    class:cw-online=move || presence() == Some(Presence::Online)
                    class:cw-away=move || presence() == Some(Presence::Away)
                    class:cw-unknown=move || presence().is_none()
                    aria-hidden="true"
                ></span>
            </div>
            <div class="cw-heading">
                <h2 id="cw-title" class="cw-title">{title}</h2>
                <p class="cw-presence">{presence_label}</p>
            </div>
            <Show when=can_end>
                <button type="button" class="cw-text-button" on:click=move |_| with_controller(|c| c.end_chat())>
                    {move || store.strings().end_chat}
                </button>
            </Show>
            <button
                type="button"
                class="cw-icon-button"
                aria-label=move || store.strings().close_chat
                on:click=move |_| crate::embed::close_and_refocus()
            >
                <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
                    <path d="M6 6l12 12M18 6L6 18" stroke="currentColor" stroke-width="2" stroke-linecap="round" fill="none" />
                </svg>
            </button>
        </header>
    }
}
