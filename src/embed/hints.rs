//! Browser signals that a lost connection may be back (`online`, the tab becoming visible), and
//! that the page may never run again (`pagehide`, the tab being hidden): the session is saved.

use crate::driver::Controller;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// A registered listener; dropping it removes it.
pub struct Listener {
    target: web_sys::EventTarget,
    event: &'static str,
    callback: Closure<dyn FnMut(web_sys::Event)>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback(
            self.event,
            self.callback.as_ref().unchecked_ref(),
        );
    }
}

fn on(
    target: web_sys::EventTarget,
    event: &'static str,
    f: impl FnMut(web_sys::Event) + 'static,
) -> Option<Listener> {
    let callback = Closure::<dyn FnMut(web_sys::Event)>::new(f);
    target
        .add_event_listener_with_callback(event, callback.as_ref().unchecked_ref())
        .ok()?;
    Some(Listener {
        target,
        event,
        callback,
    })
}

/// Listens for `online`/`offline`/`pagehide` on window and `visibilitychange` on document.
pub fn listen(controller: Controller) -> Vec<Listener> {
    let Some(window) = web_sys::window() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let c = controller.clone();
    out.extend(on(window.clone().into(), "online", move |_| {
        c.network_hint(true)
    }));
    let c = controller.clone();
    out.extend(on(window.clone().into(), "offline", move |_| {
        c.network_hint(false)
    }));
    // A page that unloads, or goes into the back/forward cache, gets no more timers; a hidden
    // tab on a phone may be killed without `pagehide`.
    let c = controller.clone();
    out.extend(on(window.clone().into(), "pagehide", move |_| c.flush()));
    if let Some(document) = window.document() {
        let doc = document.clone();
        out.extend(on(document.into(), "visibilitychange", move |_| {
            if doc.visibility_state() == web_sys::VisibilityState::Visible {
                controller.network_hint(true);
            } else {
                controller.flush();
            }
        }));
    }
    out
}
