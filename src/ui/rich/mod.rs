//! Interactive content of bot and agent messages: options, cards, forms, articles and the
//! satisfaction survey. Each kind is one small component; this module picks it and holds what
//! they share (the answer's progress, the lock while the conversation is over).
//!
//! Text is always rendered as text nodes, never parsed as HTML, and only http(s) URLs ever
//! become a link or an image (see [`crate::core::message::safe_url`]).

mod articles;
mod cards;
mod choices;
mod form;
mod rating;

use super::use_store;
use crate::core::{RichAnswer, RichContent};
use crate::store::Store;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// The rich content of message `message_id`.
#[component]
pub fn RichBlock(message_id: String, rich: RichContent) -> impl IntoView {
    let id = StoredValue::new(message_id);
    match rich {
        RichContent::Choices { options, chosen } => {
            view! { <choices::Choices id=id options=options chosen=chosen /> }.into_any()
        }
        RichContent::Cards { cards } => view! { <cards::Cards cards=cards /> }.into_any(),
        RichContent::Form { fields, submitted } => {
            view! { <form::Form id=id fields=fields submitted=submitted /> }.into_any()
        }
        RichContent::Articles { articles } => {
            view! { <articles::Articles articles=articles /> }.into_any()
        }
        RichContent::Rating { stars, submitted } => {
            view! { <rating::Rating id=id stars=stars submitted=submitted /> }.into_any()
        }
        RichContent::MissedWhileOffline { seconds } => {
            let store = use_store();
            let text = move || {
                store
                    .strings()
                    .missed_while_offline
                    .replace("{s}", &seconds.to_string())
            };
            view! { <p class="cw-missed" role="status">{text}</p> }.into_any()
        }
    }
}

/// Whether a kind of rich content wants the full width of the log rather than a bubble's.
pub fn is_wide(rich: &RichContent) -> bool {
    !matches!(
        rich,
        RichContent::Choices { .. } | RichContent::MissedWhileOffline { .. }
    )
}

/// The visitor's answer to message `id` while it is on its way (tracked).
fn sending(store: Store, id: StoredValue<String>) -> Option<RichAnswer> {
    id.with_value(|id| store.state.with(|s| s.answer_sending(id).cloned()))
}

/// Whether nothing can be answered now: the conversation is over or the widget unusable.
fn locked(store: Store) -> bool {
    store.state.with(|s| s.composer_blocked().is_some())
}

/// Sends the answer and moves focus to the composer, as the control that had it is about to
/// be replaced by the answer.
fn answer(id: StoredValue<String>, answer: RichAnswer, from: &web_sys::Event) {
    super::with_controller(|c| id.with_value(|id| c.submit_answer(id, answer)));
    let input = from
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Node>().ok())
        .map(|n| n.get_root_node())
        .and_then(|r| r.dyn_into::<web_sys::ShadowRoot>().ok())
        .and_then(|r| r.query_selector(".cw-input:not([disabled])").ok().flatten())
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(input) = input {
        let _ = input.focus();
    }
}

/// "Sending your answer…" while it is on its way; a note when the server refused it.
#[component]
fn AnswerStatus(id: StoredValue<String>) -> impl IntoView {
    let store = use_store();
    let refused = move || id.with_value(|id| store.state.with(|s| s.answer_refused(id)));
    move || {
        let s = store.strings();
        if sending(store, id).is_some() {
            Some(
                view! { <p class="cw-rich-status" role="status">{s.answer_sending}</p> }.into_any(),
            )
        } else if refused() {
            Some(view! { <p class="cw-rich-error" role="alert">{s.answer_refused}</p> }.into_any())
        } else {
            None
        }
    }
}
