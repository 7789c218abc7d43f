//! Leptos components: launcher, chat window, header, banner, message list with rich content,
//! composer.

mod banner;
mod composer;
mod frame_gate;
mod header;
mod launcher;
mod message_list;
mod rich;
mod window;

use crate::driver::Controller;
use crate::store::Store;
use leptos::prelude::*;

/// The controller, as stored in context (it is not `Send`, so it lives in local storage).
pub type ControllerHandle = StoredValue<Controller, LocalStorage>;

/// Reads the store from context.
pub(crate) fn use_store() -> Store {
    expect_context::<Store>()
}

/// Runs `f` with the controller from context.
pub(crate) fn with_controller(f: impl FnOnce(&Controller)) {
    if let Some(c) = use_context::<ControllerHandle>() {
        c.with_value(f);
    }
}

/// The whole widget: launcher, window and the live region.
#[component]
pub fn Widget(store: Store, controller: Controller) -> impl IntoView {
    provide_context(store);
    provide_context::<ControllerHandle>(StoredValue::new_local(controller));
    // Set through CSSOM (`style.setProperty`), which a strict `style-src` allows; a `style`
    // attribute would be blocked on pages without 'unsafe-inline'.
    let accent = move || store.appearance.with(|a| a.accent_color.clone());
    view! {
        <div
            class="cw"
            class:cw-left=move || store.appearance.with(|a| a.left)
            class:cw-open=move || store.is_open.get()
            lang=move || store.locale.get().tag()
            style=("--cw-accent", accent)
        >
            <window::ChatWindow />
            <launcher::Launcher />
            <div class="cw-sr-only" aria-live="polite" aria-atomic="true">
                {move || store.announcement.get()}
            </div>
        </div>
    }
}
