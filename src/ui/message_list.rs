//! The conversation log: date separators, messages with delivery status, typing indicator,
//! stick-to-bottom scrolling and a jump-to-latest button.

use super::frame_gate::frame_gated;
use super::{use_store, with_controller};
use crate::core::{AttachmentKind, ChatMessage, DeliveryStatus, Role};
use crate::i18n::Strings;
use crate::text::{segments, Segment};
use leptos::html::Div;
use leptos::prelude::*;

/// Within this many pixels of the bottom, new messages keep the view pinned to the bottom.
const STICK_THRESHOLD_PX: i32 = 128;

/// One row of the log.
#[derive(Clone, PartialEq)]
enum Row {
    Date {
        /// The local day, as days since the epoch ([`day_number`]).
        day: i64,
        label: String,
    },
    Message {
        message: ChatMessage,
        revision: u32,
        /// The newest message: only its quick replies can be tapped.
        latest: bool,
    },
}

impl Row {
    /// What identifies the row's drawing: a row whose key is unchanged is not drawn again.
    fn key(&self) -> String {
        match self {
            Row::Date { day, .. } => format!("d:{day}"),
            Row::Message {
                message,
                revision,
                latest,
            } => format!(
                "m:{}:{revision}:{}",
                message.client_id.as_ref().unwrap_or(&message.id),
                // Only quick replies depend on being the newest: a row without them is not
                // redrawn when another message arrives (which would reset a half-filled form).
                *latest && !message.quick_replies.is_empty()
            ),
        }
    }
}

/// The local calendar day of `ms`, as days since the epoch: the same for every time that day.
/// (One `getTimezoneOffset` per row: cheaper than `toDateString`, which built a string.)
fn day_number(ms: i64) -> i64 {
    let offset_min = js_sys::Date::new(&(ms as f64).into()).get_timezone_offset() as i64;
    (ms - offset_min * 60_000).div_euclid(86_400_000)
}

fn day_label(ms: i64, locale_tag: &str, s: &Strings) -> String {
    let now = crate::driver::now() as i64;
    let day = day_number(ms);
    if day == day_number(now) {
        return s.today.to_string();
    }
    if day == day_number(now) - 1 {
        return s.yesterday.to_string();
    }
    js_sys::Date::new(&(ms as f64).into())
        .to_locale_date_string(locale_tag, &js_sys::Object::new())
        .into()
}

thread_local! {
    /// The hour:minute formatter of the last locale asked for. `toLocaleTimeString` builds a
    /// new formatter on every call, which cost more than the rest of drawing a message.
    static TIME_FORMAT: std::cell::RefCell<Option<(String, js_sys::Function)>> =
        const { std::cell::RefCell::new(None) };
}

fn time_label(ms: i64, locale_tag: &str) -> String {
    TIME_FORMAT.with_borrow_mut(|cached| {
        if cached.as_ref().is_some_and(|(tag, _)| tag != locale_tag) {
            *cached = None;
        }
        let (_, format) = cached.get_or_insert_with(|| {
            let opts = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&opts, &"hour".into(), &"2-digit".into());
            let _ = js_sys::Reflect::set(&opts, &"minute".into(), &"2-digit".into());
            let locales = js_sys::Array::of1(&locale_tag.into());
            let format = js_sys::Intl::DateTimeFormat::new(&locales, &opts).format();
            (locale_tag.to_string(), format)
        });
        format
            .call1(
                &wasm_bindgen::JsValue::NULL,
                &js_sys::Date::new(&(ms as f64).into()),
            )
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    })
}

/// How many of the newest messages the log draws. A longer conversation draws only these and a
/// "Show earlier messages" button (also pressed by scrolling to the top): the work per event and
/// the DOM then stay the same size however long the transcript grows.
pub const SHOWN_MESSAGES: usize = 150;
/// How many more each press of "Show earlier messages" draws.
const EARLIER_PAGE: usize = 150;
/// Scrolling within this many pixels of the top draws earlier messages.
const EARLIER_THRESHOLD_PX: i32 = 48;

/// The message log.
#[component]
pub fn MessageList() -> impl IntoView {
    let store = use_store();
    let log_ref = NodeRef::<Div>::new();
    let at_bottom = RwSignal::new(true);
    // How many of the newest messages are drawn; grows when the visitor asks for earlier ones.
    let shown = RwSignal::new(SHOWN_MESSAGES);
    let hidden = Memo::new(move |_| {
        store
            .state
            .with(|st| st.transcript.len().saturating_sub(shown.get()))
    });

    // What the rows are drawn from, read untracked below: the gate passes their changes on at
    // most once per animation frame.
    let redraw = frame_gated(move || {
        store.locale.track();
        hidden.track();
        store.state.track();
    });
    let rows = Memo::new(move |_| {
        redraw.track();
        let locale = store.locale.get_untracked();
        let (tag, s) = (locale.tag(), locale.strings());
        let first = hidden.get_untracked();
        store.state.with_untracked(|st| {
            let entries = &st.transcript.entries()[first.min(st.transcript.len())..];
            let mut rows = Vec::with_capacity(entries.len() + 4);
            let mut last_day = None;
            let newest = entries.len().saturating_sub(1);
            for (i, e) in entries.iter().enumerate() {
                let day = day_number(e.message.sent_at);
                if last_day != Some(day) {
                    rows.push(Row::Date {
                        day,
                        label: day_label(e.message.sent_at, tag, s),
                    });
                    last_day = Some(day);
                }
                rows.push(Row::Message {
                    message: e.message.clone(),
                    revision: e.revision,
                    latest: i == newest,
                });
            }
            rows
        })
    });
    // Earlier messages are added above what the visitor reads; the browser's scroll anchoring
    // (overflow-anchor) keeps the read message where it was.
    let show_earlier = move || shown.update(|n| *n += EARLIER_PAGE);

    let scroll_to_bottom = move || {
        if let Some(el) = log_ref.try_get_untracked().flatten() {
            el.set_scroll_top(el.scroll_height());
        }
    };
    // Memos (this one and `store.is_open`), so that the effects below run when these change,
    // not on every change of the state (each incoming message would scroll a reader who had
    // scrolled up back down).
    let typing_shown = Memo::new(move |_| store.state.with(|s| s.typing.is_some()));
    // New content keeps the reader at the bottom if they were there; otherwise the view stays
    // still and the jump button appears.
    Effect::new(move |_| {
        rows.track();
        typing_shown.track();
        if at_bottom.get_untracked() {
            request_animation_frame(scroll_to_bottom);
        }
    });
    Effect::new(move |_| {
        if store.is_open.get() {
            at_bottom.set(true);
            request_animation_frame(scroll_to_bottom);
        }
    });

    let on_scroll = move |_| {
        if let Some(el) = log_ref.try_get_untracked().flatten() {
            let bottom =
                el.scroll_height() - el.scroll_top() - el.client_height() < STICK_THRESHOLD_PX;
            if at_bottom.get_untracked() != bottom {
                at_bottom.set(bottom);
            }
            if el.scroll_top() < EARLIER_THRESHOLD_PX && hidden.get_untracked() > 0 {
                show_earlier();
            }
        }
    };

    let typing = move || {
        store.state.with(|s| {
            s.typing.as_ref().map(|(who, _)| {
                who.name
                    .clone()
                    .unwrap_or_else(|| store.strings().agent.into())
            })
        })
    };

    view! {
        <div class="cw-log-wrap">
            <div
                class="cw-log"
                role="log"
                aria-atomic="false"
                aria-label=move || store.strings().conversation
                tabindex="0"
                node_ref=log_ref
                on:scroll=on_scroll
            >
                <Show when=move || store.state.with(|s| s.transcript.is_empty() && s.fatal.is_none())>
                    <p class="cw-empty">{move || store.strings().welcome}</p>
                </Show>
                <Show when=move || { hidden.get() > 0 }>
                    <button type="button" class="cw-earlier" on:click=move |_| show_earlier()>
                        {move || format!("{} ({})", store.strings().show_earlier, hidden.get())}
                    </button>
                </Show>
                <For each=move || rows.get() key=Row::key let(row)>
                    {render_row(row)}
                </For>
                {move || {
                    typing()
                        .map(|name| {
                            view! {
                                <div class="cw-typing">
                                    <span class="cw-typing-dots" aria-hidden="true">
                                        <i></i>
                                        <i></i>
                                        <i></i>
                                    </span>
                                    <span>{format!("{name} {}", store.strings().is_typing)}</span>
                                </div>
                            }
                        })
                }}
            </div>
            <Show when=move || !at_bottom.get()>
                <button
                    type="button"
                    class="cw-jump"
                    on:click=move |_| {
                        at_bottom.set(true);
                        scroll_to_bottom();
                    }
                >
                    {move || store.strings().jump_to_latest}
                    " ↓"
                </button>
            </Show>
        </div>
    }
}

fn render_row(row: Row) -> AnyView {
    match row {
        Row::Date { label, .. } => view! {
            <div class="cw-date" role="separator">
                <span>{label}</span>
            </div>
        }
        .into_any(),
        Row::Message {
            message, latest, ..
        } => view! { <MessageBubble message=message latest=latest /> }.into_any(),
    }
}

fn render_text(text: &str) -> Vec<AnyView> {
    segments(text)
        .into_iter()
        .map(|seg| match seg {
            Segment::Text(t) => view! { <span>{t}</span> }.into_any(),
            Segment::Link(url) => view! {
                <a href=url.clone() target="_blank" rel="noopener noreferrer nofollow">
                    {url.clone()}
                </a>
            }
            .into_any(),
            Segment::Image(url) => view! {
                <a href=url.clone() target="_blank" rel="noopener noreferrer nofollow" class="cw-image-link">
                    <img class="cw-image" src=url.clone() alt="" loading="lazy" referrerpolicy="no-referrer" />
                </a>
            }
            .into_any(),
        })
        .collect()
}

/// One message.
#[component]
fn MessageBubble(message: ChatMessage, latest: bool) -> impl IntoView {
    let store = use_store();
    let role = message.author.role;
    let class = match role {
        Role::Visitor => "cw-msg cw-msg-visitor",
        Role::Agent | Role::Bot => "cw-msg cw-msg-agent",
        Role::System => "cw-msg cw-msg-system",
    };
    let name = message.author.name.clone();
    let author = (role != Role::Visitor && role != Role::System).then_some(move || {
        name.clone()
            .unwrap_or_else(|| store.strings().agent.to_string())
    });
    let status = message.status;
    let client_id = message
        .client_id
        .clone()
        .unwrap_or_else(|| message.id.clone());
    let sent_at = message.sent_at;
    let status_label = move || {
        let s = store.strings();
        match status {
            DeliveryStatus::Pending => s.status_pending,
            DeliveryStatus::Sent => s.status_sent,
            DeliveryStatus::Delivered => s.status_delivered,
            DeliveryStatus::Read => s.status_read,
            DeliveryStatus::Failed => s.status_failed,
        }
    };
    // Suggestions belong to the moment they were offered: only the newest message keeps them.
    let quick_replies = if latest {
        message.quick_replies.clone()
    } else {
        Vec::new()
    };
    let attachments: Vec<_> = message.attachments.clone();
    let wide = message.rich.as_ref().is_some_and(super::rich::is_wide);
    let has_bubble = !message.text.trim().is_empty() || !attachments.is_empty();
    let rich = message.rich.clone().map(|rich| {
        view! { <super::rich::RichBlock message_id=message.id.clone() rich=rich /> }
    });
    let text = message.text.clone();
    view! {
        <div
            class=class
            class:cw-msg-wide=wide
            class:cw-failed=status == DeliveryStatus::Failed
            class:cw-pending=status == DeliveryStatus::Pending
            data-status=status.as_str()
        >
            {author.map(|a| view! { <div class="cw-author">{a}</div> })}
            {has_bubble.then(|| view! {
            <div class="cw-bubble">
                {render_text(&text)}
                {attachments
                    .into_iter()
                    .map(|a| match a.kind {
                        AttachmentKind::Image => view! {
                            <img class="cw-image" src=a.url alt="" loading="lazy" referrerpolicy="no-referrer" />
                        }
                        .into_any(),
                        AttachmentKind::File => view! {
                            <a class="cw-file" href=a.url.clone() target="_blank" rel="noopener noreferrer nofollow">
                                {a.url.rsplit('/').next().unwrap_or("file").to_string()}
                            </a>
                        }
                        .into_any(),
                    })
                    .collect_view()}
            </div>
            })}
            {rich}
            <div class="cw-meta">
                <time>{move || time_label(sent_at, store.locale.get().tag())}</time>
                {(role == Role::Visitor).then(|| view! { <span class="cw-status">{status_label}</span> })}
                {(status == DeliveryStatus::Failed)
                    .then(|| {
                        let id = client_id.clone();
                        view! {
                            <button
                                type="button"
                                class="cw-retry"
                                on:click=move |_| with_controller(|c| c.retry(&id))
                            >
                                {move || store.strings().retry}
                            </button>
                        }
                    })}
            </div>
            {(!quick_replies.is_empty())
                .then(|| {
                    view! {
                        <div class="cw-quick-replies">
                            {quick_replies
                                .into_iter()
                                .map(|reply| {
                                    let text = reply.clone();
                                    view! {
                                        <button
                                            type="button"
                                            class="cw-quick-reply"
                                            on:click=move |_| with_controller(|c| {
                                                c.send(&text);
                                            })
                                        >
                                            {reply}
                                        </button>
                                    }
                                })
                                .collect_view()}
                        </div>
                    }
                })}
        </div>
    }
}
