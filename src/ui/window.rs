//! The chat window: a dialog that traps focus while open and closes on Escape.

use super::banner::Banner;
use super::composer::Composer;
use super::header::Header;
use super::message_list::MessageList;
use super::use_store;
use leptos::html::Div;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

const FOCUSABLE: &str = "button:not([disabled]), textarea:not([disabled]), \
    input:not([disabled]), a[href], [tabindex]:not([tabindex='-1'])";

/// Keeps Tab and Shift+Tab inside the dialog.
fn trap_focus(dialog: &web_sys::HtmlElement, ev: &web_sys::KeyboardEvent) {
    let Ok(nodes) = dialog.query_selector_all(FOCUSABLE) else {
        return;
    };
    let focusable: Vec<web_sys::HtmlElement> = (0..nodes.length())
        .filter_map(|i| nodes.item(i))
        .filter_map(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
        .filter(|e| e.offset_parent().is_some())
        .collect();
    let (Some(first), Some(last)) = (focusable.first(), focusable.last()) else {
        return;
    };
    let active = dialog
        .get_root_node()
        .dyn_into::<web_sys::ShadowRoot>()
        .ok()
        .and_then(|r| r.active_element());
    let is = |e: &web_sys::HtmlElement| {
        active
            .as_ref()
            .is_some_and(|a| a == e.unchecked_ref::<web_sys::Element>())
    };
    let inside = active
        .as_ref()
        .is_some_and(|a| dialog.contains(Some(a.unchecked_ref())));
    if ev.shift_key() && (is(first) || !inside) {
        ev.prevent_default();
        let _ = last.focus();
    } else if !ev.shift_key() && (is(last) || !inside) {
        ev.prevent_default();
        let _ = first.focus();
    }
}

/// The chat window.
#[component]
pub fn ChatWindow() -> impl IntoView {
    let store = use_store();
    let dialog_ref = NodeRef::<Div>::new();
    let open = move || store.is_open.get();
    let ended = move || store.state.with(|s| s.fatal.is_none() && s.is_over());

    // Focus the composer when the window opens (the memo: not again on every change of the
    // state, which would pull the focus out of a form the visitor is filling in).
    Effect::new(move |_| {
        if open() {
            request_animation_frame(move || {
                if let Some(d) = dialog_ref.try_get_untracked().flatten() {
                    let target = d
                        .query_selector(".cw-input:not([disabled])")
                        .ok()
                        .flatten()
                        .or_else(|| d.query_selector("button").ok().flatten());
                    if let Some(el) = target.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
                    {
                        let _ = el.focus();
                    }
                }
            });
        }
    });

    let on_keydown = move |ev: web_sys::KeyboardEvent| match ev.key().as_str() {
        "Escape" => {
            ev.stop_propagation();
            crate::embed::close_and_refocus();
        }
        "Tab" => {
            if let Some(d) = dialog_ref.try_get_untracked().flatten() {
                trap_focus(&d, &ev);
            }
        }
        _ => {}
    };

    view! {
        <div
            class="cw-window"
            role="dialog"
            aria-modal="true"
            aria-labelledby="cw-title"
            hidden=move || !open()
            node_ref=dialog_ref
            on:keydown=on_keydown
        >
            <Header />
            <Show when=move || store.appearance.with(|a| a.demo)>
                <p class="cw-demo-strip">{move || store.strings().demo_mode}</p>
            </Show>
            <Banner />
            <MessageList />
            <Show
                when=ended
                fallback=|| view! { <Composer /> }
            >
                <div class="cw-ended">
                    <p>{move || store.strings().conversation_ended}</p>
                    <button
                        type="button"
                        class="cw-primary"
                        on:click=move |_| crate::embed::start_new_conversation()
                    >
                        {move || store.strings().start_new}
                    </button>
                </div>
            </Show>
        </div>
    }
}
