//! Cards (`cards`): an optional image, a title, a description, and buttons that open a link
//! or answer the bot with an ordinary visitor message (a postback).

use super::locked;
use crate::core::message::safe_url;
use crate::core::{Card, CardAction};
use crate::ui::{use_store, with_controller};
use leptos::prelude::*;

/// A list of cards.
#[component]
pub fn Cards(cards: Vec<Card>) -> impl IntoView {
    let store = use_store();
    view! {
        <ul class="cw-cards" aria-label=move || store.strings().cards>
            {cards.into_iter().map(|card| view! { <CardItem card=card /> }).collect_view()}
        </ul>
    }
}

#[component]
fn CardItem(card: Card) -> impl IntoView {
    let store = use_store();
    let media = card.media_url.as_deref().and_then(safe_url);
    let actions: Vec<AnyView> = card
        .actions
        .into_iter()
        .filter_map(|action| match action {
            CardAction::Link { text, url } => safe_url(&url).map(|url| {
                view! {
                    <a class="cw-card-action" href=url target="_blank" rel="noopener noreferrer">
                        {text}
                        <span aria-hidden="true">" ↗"</span>
                        <span class="cw-sr-only">" " {move || store.strings().opens_in_new_tab}</span>
                    </a>
                }
                .into_any()
            }),
            CardAction::Postback { text, .. } => {
                let label = text.clone();
                Some(
                    view! {
                        <button
                            type="button"
                            class="cw-card-action"
                            disabled=move || locked(store)
                            on:click=move |_| with_controller(|c| {
                                c.send(&text);
                            })
                        >
                            {label}
                        </button>
                    }
                    .into_any(),
                )
            }
        })
        .collect();
    view! {
        <li class="cw-card">
            {media.map(|src| view! {
                <img class="cw-card-media" src=src alt="" loading="lazy" referrerpolicy="no-referrer" />
            })}
            <div class="cw-card-body">
                <p class="cw-card-title">{card.title}</p>
                {(!card.description.is_empty())
                    .then(|| view! { <p class="cw-card-desc">{card.description}</p> })}
            </div>
            {(!actions.is_empty()).then(|| view! { <div class="cw-card-actions">{actions}</div> })}
        </li>
    }
}
