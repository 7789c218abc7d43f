//! The satisfaction survey (`input_csat`): five faces or five stars as a radio group (arrow
//! keys move between them), an optional comment once a rating is picked, and a submit
//! button; afterwards the rating given and a thank-you.

use super::{answer, locked, sending, AnswerStatus};
use crate::core::{RatingAnswer, RichAnswer};
use crate::ui::use_store;
use leptos::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT_GROUP: AtomicUsize = AtomicUsize::new(0);

/// Mouth of each face, from very dissatisfied to very satisfied.
const MOUTHS: [&str; 5] = [
    "M8.5 18 Q14 12.5 19.5 18",
    "M9 17.5 Q14 15 19 17.5",
    "M9 16.5 L19 16.5",
    "M9 15.5 Q14 19 19 15.5",
    "M8.5 15 Q14 21.5 19.5 15",
];
const STAR: &str = "M14 3.5l3.1 6.4 7 1-5.1 4.9 1.2 7L14 19.5l-6.2 3.3 1.2-7L3.9 10.9l7-1z";

fn symbol(stars: bool, level: u8) -> impl IntoView {
    let i = usize::from(level.clamp(1, 5) - 1);
    if stars {
        view! {
            <svg viewBox="0 0 28 28" aria-hidden="true" focusable="false">
                <path d=STAR stroke-linejoin="round" />
            </svg>
        }
        .into_any()
    } else {
        view! {
            <svg viewBox="0 0 28 28" aria-hidden="true" focusable="false">
                <circle cx="14" cy="14" r="11.5" />
                <circle class="cw-eye" cx="10.5" cy="11.5" r="1.4" />
                <circle class="cw-eye" cx="17.5" cy="11.5" r="1.4" />
                <path d=MOUTHS[i] fill="none" stroke-linecap="round" />
            </svg>
        }
        .into_any()
    }
}

/// The rating control, or the rating given.
#[component]
pub fn Rating(
    id: StoredValue<String>,
    stars: bool,
    submitted: Option<RatingAnswer>,
) -> impl IntoView {
    if let Some(given) = submitted {
        return view! { <Given stars=stars given=given sending=false /> }.into_any();
    }
    let store = use_store();
    let group = format!("cw-rate{}", NEXT_GROUP.fetch_add(1, Ordering::Relaxed));
    let picked = RwSignal::new(None::<u8>);
    let form_ref = NodeRef::<leptos::html::Form>::new();
    // Picking a rating opens the comment box below: keep the whole form in view.
    let reveal = move || {
        request_animation_frame(move || {
            if let Some(form) = form_ref.try_get_untracked().flatten() {
                let options = web_sys::ScrollIntoViewOptions::new();
                options.set_block(web_sys::ScrollLogicalPosition::Nearest);
                form.scroll_into_view_with_scroll_into_view_options(&options);
            }
        })
    };
    let comment = RwSignal::new(String::new());
    let in_flight = move || match sending(store, id) {
        Some(RichAnswer::Rating(r)) => Some(r),
        _ => None,
    };
    let on_submit = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let Some(rating) = picked.get_untracked() else {
            return;
        };
        if locked(store) || in_flight().is_some() {
            return;
        }
        let feedback = comment.get_untracked().trim().to_string();
        answer(
            id,
            RichAnswer::Rating(RatingAnswer { rating, feedback }),
            &ev,
        );
    };
    let control = move || {
        let group = group.clone();
        let levels = (1..=5u8)
            .map(|level| {
                let lit = move || {
                    picked
                        .get()
                        .is_some_and(|p| if stars { level <= p } else { level == p })
                };
                let label = move || store.strings().rating_levels[usize::from(level - 1)];
                view! {
                    <label
                        class="cw-rate"
                        class:cw-lit=lit
                        class:cw-picked=move || picked.get() == Some(level)
                        data-level=level.to_string()
                        title=label
                    >
                        <input
                            type="radio"
                            class="cw-rate-input"
                            name=group.clone()
                            value=level.to_string()
                            prop:checked=move || picked.get() == Some(level)
                            on:change=move |_| {
                            let first = picked.get_untracked().is_none();
                            picked.set(Some(level));
                            if first {
                                reveal();
                            }
                        }
                        />
                        {symbol(stars, level)}
                        <span class="cw-sr-only">{format!("{level} – ")} {label}</span>
                    </label>
                }
            })
            .collect_view();
        view! {
            <form class="cw-rating" class:cw-stars=stars on:submit=on_submit node_ref=form_ref>
                <fieldset class="cw-rating-scale">
                    <legend class="cw-sr-only">{move || store.strings().rate_conversation}</legend>
                    {levels}
                </fieldset>
                <p class="cw-rating-level" aria-hidden="true">
                    {move || picked.get().map(|p| store.strings().rating_levels[usize::from(p - 1)])}
                </p>
                <Show when=move || picked.get().is_some()>
                    <textarea
                        class="cw-field-input cw-rating-comment"
                        rows="2"
                        maxlength="1000"
                        aria-label=move || store.strings().rating_comment
                        placeholder=move || store.strings().rating_comment
                        prop:value=move || comment.get()
                        on:input=move |ev| comment.set(event_target_value(&ev))
                    ></textarea>
                </Show>
                <button
                    type="submit"
                    class="cw-primary cw-form-submit"
                    disabled=move || picked.get().is_none() || locked(store)
                >
                    {move || store.strings().submit}
                </button>
            </form>
        }
    };
    view! {
        {move || match in_flight() {
            Some(given) => view! { <Given stars=stars given=given sending=true /> }.into_any(),
            None => control().into_any(),
        }}
        <AnswerStatus id=id />
    }
    .into_any()
}

/// The rating the visitor gave; "Thanks" once the server has it.
#[component]
fn Given(stars: bool, given: RatingAnswer, sending: bool) -> impl IntoView {
    let store = use_store();
    let level = given.rating.clamp(1, 5);
    let shown: Vec<u8> = if stars {
        (1..=5).collect()
    } else {
        vec![level]
    };
    view! {
        <div class="cw-rating cw-answered" class:cw-stars=stars class:cw-sending=sending>
            {(!sending).then(|| view! { <p class="cw-rating-thanks">{move || store.strings().rating_thanks}</p> })}
            <p class="cw-rating-given">
                <span class="cw-sr-only">{move || store.strings().your_rating} " "</span>
                <span class="cw-rating-symbols" aria-hidden="true">
                    {shown
                        .into_iter()
                        .map(|l| view! {
                            <span class="cw-rate" class:cw-lit=l <= level class:cw-picked=l == level data-level=l.to_string()>
                                {symbol(stars, l)}
                            </span>
                        })
                        .collect_view()}
                </span>
                <span class="cw-rating-label">
                    {move || store.strings().rating_levels[usize::from(level - 1)]}
                </span>
            </p>
            {(!given.feedback.is_empty())
                .then(|| view! { <p class="cw-rating-feedback">{given.feedback.clone()}</p> })}
        </div>
    }
}
