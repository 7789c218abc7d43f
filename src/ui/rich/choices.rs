//! Bot options (`input_select`): one button per option; once answered only the chosen one
//! stays, marked as the visitor's answer.

use super::{answer, locked, sending, AnswerStatus};
use crate::core::{Choice, RichAnswer};
use crate::ui::use_store;
use leptos::prelude::*;

/// Options as buttons.
#[component]
pub fn Choices(
    id: StoredValue<String>,
    options: Vec<Choice>,
    chosen: Option<Choice>,
) -> impl IntoView {
    let store = use_store();
    if let Some(chosen) = chosen {
        return view! {
            <div class="cw-choices cw-answered">
                <span class="cw-sr-only">{move || store.strings().your_answer}</span>
                <span class="cw-choice cw-chosen">
                    <span aria-hidden="true">"✓ "</span>
                    {chosen.title}
                </span>
            </div>
        }
        .into_any();
    }
    let picked = move || match sending(store, id) {
        Some(RichAnswer::Choice(c)) => Some(c),
        _ => None,
    };
    view! {
        <div class="cw-choices" role="group" aria-label=move || store.strings().options>
            {options
                .into_iter()
                .map(|option| {
                    let this = option.clone();
                    let is_picked = {
                        let this = this.clone();
                        move || picked().as_ref() == Some(&this)
                    };
                    let inert = move || picked().is_some() || locked(store);
                    view! {
                        <button
                            type="button"
                            class="cw-choice"
                            class:cw-chosen=is_picked.clone()
                            aria-pressed=move || is_picked().to_string()
                            aria-disabled=move || inert().to_string()
                            on:click=move |ev| {
                                if !inert() {
                                    answer(id, RichAnswer::Choice(this.clone()), &ev);
                                }
                            }
                        >
                            {option.title}
                        </button>
                    }
                })
                .collect_view()}
        </div>
        <AnswerStatus id=id />
    }
    .into_any()
}
