//! A small bot form (`form`, and `input_email` as a form with one email field): labelled
//! fields, required ones marked, emails checked before sending; afterwards the values sent.

use super::{answer, locked, sending, AnswerStatus};
use crate::core::{FieldKind, FormField, RichAnswer};
use crate::text::is_valid_email;
use crate::ui::use_store;
use leptos::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use wasm_bindgen::JsCast;

/// Makes element ids unique within the shadow root, whatever the message ids look like.
static NEXT_FORM: AtomicUsize = AtomicUsize::new(0);

/// Why a field's value cannot be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldError {
    Required,
    Email,
}

fn check(field: &FormField, value: &str) -> Option<FieldError> {
    let value = value.trim();
    if value.is_empty() {
        field.required.then_some(FieldError::Required)
    } else if field.kind == FieldKind::Email && !is_valid_email(value) {
        Some(FieldError::Email)
    } else {
        None
    }
}

/// The form, or the values sent with it.
#[component]
pub fn Form(
    id: StoredValue<String>,
    fields: Vec<FormField>,
    submitted: Option<Vec<(String, String)>>,
) -> impl IntoView {
    let fields = StoredValue::new(fields);
    if let Some(values) = submitted {
        return view! { <FormValues fields=fields values=values sending=false /> }.into_any();
    }
    let store = use_store();
    let prefix = format!("cw-form{}", NEXT_FORM.fetch_add(1, Ordering::Relaxed));
    let count = fields.with_value(Vec::len);
    let values = RwSignal::new(vec![String::new(); count]);
    let errors = RwSignal::new(vec![None::<FieldError>; count]);
    let in_flight = move || match sending(store, id) {
        Some(RichAnswer::Form { values }) => Some(values),
        _ => None,
    };
    let on_submit = {
        let prefix = prefix.clone();
        move |ev: web_sys::SubmitEvent| {
            ev.prevent_default();
            if locked(store) || in_flight().is_some() {
                return;
            }
            let typed = values.get_untracked();
            let found: Vec<Option<FieldError>> =
                fields.with_value(|f| f.iter().zip(&typed).map(|(f, v)| check(f, v)).collect());
            errors.set(found.clone());
            if let Some(first) = found.iter().position(Option::is_some) {
                focus_field(&ev, &format!("{prefix}-{first}"));
                return;
            }
            let answer_values = fields.with_value(|f| {
                f.iter()
                    .zip(typed)
                    .map(|(f, v)| (f.name.clone(), v.trim().to_string()))
                    .collect()
            });
            answer(
                id,
                RichAnswer::Form {
                    values: answer_values,
                },
                &ev,
            );
        }
    };
    let form = move || {
        let on_submit = on_submit.clone();
        let prefix = prefix.clone();
        let rows = fields.with_value(|f| f.clone()).into_iter().enumerate().map(|(i, field)| {
            let input_id = format!("{prefix}-{i}");
            let error_id = format!("{input_id}-error");
            let error = move || errors.with(|e| e[i]);
            let message = move || {
                let s = store.strings();
                error().map(|e| match e {
                    FieldError::Required => s.field_required,
                    FieldError::Email => s.field_invalid_email,
                })
            };
            let on_input = move |ev: web_sys::Event| {
                let value = event_target_value(&ev);
                values.update(|v| v[i] = value);
                // An error shown goes as soon as the value is fixed; a new one waits for submit.
                if errors.with_untracked(|e| e[i].is_some()) {
                    let now = fields.with_value(|f| check(&f[i], &values.with_untracked(|v| v[i].clone())));
                    errors.update(|e| e[i] = now);
                }
            };
            let value = move || values.with(|v| v[i].clone());
            let described = move || error().map(|_| error_id.clone());
            let invalid = move || error().is_some().then_some("true");
            let control = match field.kind {
                FieldKind::TextArea => view! {
                    <textarea
                        id=input_id.clone()
                        class="cw-field-input"
                        name=field.name.clone()
                        rows="3"
                        maxlength="2000"
                        placeholder=field.placeholder.clone()
                        required=field.required
                        aria-invalid=invalid
                        aria-describedby=described.clone()
                        prop:value=value
                        on:input=on_input
                    ></textarea>
                }
                .into_any(),
                kind => view! {
                    <input
                        id=input_id.clone()
                        class="cw-field-input"
                        type=if kind == FieldKind::Email { "email" } else { "text" }
                        autocomplete=if kind == FieldKind::Email { "email" } else { "off" }
                        name=field.name.clone()
                        maxlength="500"
                        placeholder=field.placeholder.clone()
                        required=field.required
                        aria-invalid=invalid
                        aria-describedby=described.clone()
                        prop:value=value
                        on:input=on_input
                    />
                }
                .into_any(),
            };
            let error_id = format!("{prefix}-{i}-error");
            view! {
                <div class="cw-field" class:cw-field-invalid=move || error().is_some()>
                    <label class="cw-field-label" for=input_id>
                        {field.label.clone()}
                        {field.required.then(|| view! { <span class="cw-required" aria-hidden="true">" *"</span> })}
                    </label>
                    {control}
                    {move || message().map(|m| view! {
                        <p class="cw-field-error" id=error_id.clone()>{m}</p>
                    })}
                </div>
            }
        }).collect_view();
        view! {
            <form class="cw-form" novalidate on:submit=on_submit>
                {rows}
                <button type="submit" class="cw-primary cw-form-submit" disabled=move || locked(store)>
                    {move || store.strings().submit}
                </button>
            </form>
        }
    };
    view! {
        {move || match in_flight() {
            Some(values) => view! { <FormValues fields=fields values=values sending=true /> }.into_any(),
            None => form().into_any(),
        }}
        <AnswerStatus id=id />
    }
    .into_any()
}

/// The values the visitor sent, labelled like the form was.
#[component]
fn FormValues(
    fields: StoredValue<Vec<FormField>>,
    values: Vec<(String, String)>,
    sending: bool,
) -> impl IntoView {
    let store = use_store();
    let rows = values
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(name, value)| {
            let label = fields.with_value(|f| {
                f.iter()
                    .find(|f| f.name == name)
                    .map(|f| f.label.clone())
                    .unwrap_or(name)
            });
            view! {
                <div class="cw-form-value">
                    <dt>{label}</dt>
                    <dd>{value}</dd>
                </div>
            }
        })
        .collect_view();
    view! {
        <div class="cw-form cw-answered" class:cw-sending=sending>
            <p class="cw-form-heading">{move || store.strings().your_answer}</p>
            <dl class="cw-form-values">{rows}</dl>
        </div>
    }
}

/// Focuses the element with `id` in the same shadow root as the event's target.
fn focus_field(ev: &web_sys::SubmitEvent, id: &str) {
    let el = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|form| form.query_selector(&format!("#{id}")).ok().flatten())
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(el) = el {
        let _ = el.focus();
    }
}
