//! The round button that opens and closes the chat, with the unread badge.

use super::use_store;
use leptos::prelude::*;

/// Launcher button.
#[component]
pub fn Launcher() -> impl IntoView {
    let store = use_store();
    let open = move || store.is_open.get();
    let unread = move || store.unread.get();
    let label = move || {
        let s = store.strings();
        let base = if open() { s.close_chat } else { s.open_chat };
        match unread() {
            0 => base.to_string(),
            n => format!("{base} ({n} {})", s.unread),
        }
    };
    view! {
        <button
            type="button"
            class="cw-launcher"
            aria-label=label
            aria-expanded=move || open().to_string()
            aria-haspopup="dialog"
            on:click=move |_| crate::embed::set_open(!open())
        >
            <svg class="cw-launcher-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
                {move || {
                    if open() {
                        view! { <path d="M6 6l12 12M18 6L6 18" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" fill="none" /> }
                            .into_any()
                    } else {
                        view! { <path d="M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6c-.5.4-1.3.1-1.3-.6V16A2.5 2.5 0 0 1 4 13.5z" fill="currentColor" /> }
                            .into_any()
                    }
                }}
            </svg>
            <Show when=move || { unread() > 0 && !open() }>
                <span class="cw-badge" aria-hidden="true">
                    {move || if unread() > 99 { "99+".to_string() } else { unread().to_string() }}
                </span>
            </Show>
        </button>
    }
}
