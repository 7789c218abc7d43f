//! The connection banner: connecting, reconnecting with a countdown, offline, ended, or a
//! configuration problem.

use super::use_store;
use crate::core::ConnectionState;
use crate::driver::now;
use leptos::prelude::*;
use std::time::Duration;

/// Connection banner.
#[component]
pub fn Banner() -> impl IntoView {
    let store = use_store();
    // A coarse clock for the countdown; only ticks while a countdown is shown.
    let clock = RwSignal::new(now());
    let ticker = set_interval_with_handle(
        move || {
            if store
                .state
                .with_untracked(|s| matches!(s.connection, ConnectionState::Reconnecting { .. }))
            {
                clock.set(now());
            }
        },
        Duration::from_millis(1000),
    )
    .ok();
    on_cleanup(move || {
        if let Some(t) = ticker {
            t.clear();
        }
    });

    let content = move || {
        let s = store.strings();
        store.state.with(|st| {
            if let Some(err) = &st.fatal {
                return Some(("cw-banner-error", format!("{}: {err}", s.unavailable)));
            }
            if st.is_over() {
                return None; // The ended panel says it.
            }
            match st.connection {
                ConnectionState::Online | ConnectionState::Ended => None,
                ConnectionState::Connecting => Some(("cw-banner-info", s.connecting.to_string())),
                ConnectionState::Reconnecting {
                    next_attempt_at, ..
                } => {
                    let secs = next_attempt_at.saturating_sub(clock.get()).div_ceil(1000);
                    Some((
                        "cw-banner-warn",
                        if secs == 0 {
                            s.reconnecting_now.to_string()
                        } else {
                            format!("{} {secs}s", s.reconnecting_in)
                        },
                    ))
                }
                ConnectionState::Offline => Some(("cw-banner-warn", s.you_are_offline.to_string())),
            }
        })
    };
    view! {
        {move || {
            content()
                .map(|(class, text)| {
                    view! {
                        <div class=format!("cw-banner {class}") role="status">
                            {text}
                        </div>
                    }
                })
        }}
    }
}
