//! The message composer: Enter sends, Shift+Enter adds a line, IME composition is respected,
//! and a disabled state says why.

use super::{use_store, with_controller};
use crate::state::ComposerBlock;
use leptos::html::Textarea;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// Longest message the composer accepts, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;
const MAX_ROWS_PX: i32 = 120;

/// Composer.
#[component]
pub fn Composer() -> impl IntoView {
    let store = use_store();
    let input_ref = NodeRef::<Textarea>::new();
    let draft = RwSignal::new(String::new());
    let blocked = move || store.state.with(|s| s.composer_blocked());
    let placeholder = move || {
        let s = store.strings();
        match blocked() {
            Some(ComposerBlock::Unavailable) => s.unavailable,
            Some(ComposerBlock::Ended) => s.conversation_ended,
            None => s.placeholder,
        }
    };
    let resize = move || {
        if let Some(el) = input_ref.try_get_untracked().flatten() {
            let style = el.unchecked_ref::<web_sys::HtmlElement>().style();
            let _ = style.set_property("height", "auto");
            let h = el.scroll_height().min(MAX_ROWS_PX);
            let _ = style.set_property("height", &format!("{h}px"));
        }
    };
    let send = move || {
        let text = draft.get_untracked();
        if text.trim().is_empty() || blocked().is_some() {
            return;
        }
        with_controller(|c| {
            if c.send(&text).is_some() {
                draft.set(String::new());
                if let Some(el) = input_ref.try_get_untracked().flatten() {
                    el.set_value("");
                }
                request_animation_frame(resize);
            }
        });
    };
    let on_keydown = move |ev: web_sys::KeyboardEvent| {
        // Enter confirms an IME candidate while composing (Chinese, Japanese input): not a send.
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() && ev.key_code() != 229 {
            ev.prevent_default();
            send();
        }
    };
    let on_input = move |ev: web_sys::Event| {
        let value = event_target_value(&ev);
        let value: String = value.chars().take(MAX_MESSAGE_CHARS).collect();
        draft.set(value);
        resize();
        if !draft.with_untracked(|d| d.is_empty()) {
            with_controller(|c| c.visitor_typed());
        }
    };
    let hint = move || {
        store.state.with(|s| {
            use crate::core::ConnectionState::*;
            matches!(s.connection, Reconnecting { .. } | Offline) && s.composer_blocked().is_none()
        })
    };
    view! {
        <form
            class="cw-composer"
            on:submit=move |ev| {
                ev.prevent_default();
                send();
            }
        >
            <Show when=move || store.state.with(|s| s.is_resolved())>
                <p class="cw-composer-hint cw-resolved" role="status">
                    {move || store.strings().resolved_notice}
                </p>
            </Show>
            <Show when=hint>
                <p class="cw-composer-hint">{move || store.strings().will_send_when_online}</p>
            </Show>
            <div class="cw-composer-row">
                <textarea
                    class="cw-input"
                    rows="1"
                    node_ref=input_ref
                    maxlength=MAX_MESSAGE_CHARS.to_string()
                    aria-label=move || store.strings().message_input
                    placeholder=placeholder
                    disabled=move || blocked().is_some()
                    on:keydown=on_keydown
                    on:input=on_input
                ></textarea>
                <button
                    type="submit"
                    class="cw-send"
                    aria-label=move || store.strings().send
                    disabled=move || blocked().is_some() || draft.with(|d| d.trim().is_empty())
                >
                    <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
                        <path d="M3.4 20.4l17.45-7.48a1 1 0 0 0 0-1.84L3.4 3.6a.99.99 0 0 0-1.39.91L2 9.12c0 .5.37.93.87.99L17 12 2.87 13.88c-.5.07-.87.5-.87 1l.01 4.61c0 .71.73 1.2 1.39.91z" fill="currentColor" />
                    </svg>
                </button>
            </div>
        </form>
    }
}
