//! The browser driver: the only code that touches timers (and, for network backends, the
//! socket, fetch and storage). It runs the core's loop — input, then drain socket commands,
//! HTTP requests and events, then arm the timer for the next deadline — and turns UI
//! commands into core commands.

use crate::core::{ChatBackend, ChatEvent, Millis, VisitorProfile};
use crate::state::Notice;
use crate::store::Store;
use leptos::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// The visitor stops "typing" after this long without a keystroke.
const TYPING_IDLE: Millis = 4_000;

/// Current wall-clock time in milliseconds.
pub fn now() -> Millis {
    js_sys::Date::now() as Millis
}

/// A fresh message id, unique across tabs and reloads.
pub fn new_client_id() -> String {
    let random = (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64;
    format!("cw-{:x}-{:x}", now(), random)
}

struct Driver {
    backend: Box<dyn ChatBackend>,
    store: Store,
    timer: Option<TimeoutHandle>,
    visitor_typing_until: Option<Millis>,
    on_notice: Rc<dyn Fn(Notice)>,
    stopped: bool,
}

/// Runs one backend for one mounted widget. Cloning shares the same driver.
#[derive(Clone)]
pub struct Controller(Rc<RefCell<Driver>>);

impl Controller {
    /// Wraps a backend; `on_notice` hears about incoming messages and errors.
    pub fn new(backend: Box<dyn ChatBackend>, store: Store, on_notice: Rc<dyn Fn(Notice)>) -> Self {
        Controller(Rc::new(RefCell::new(Driver {
            backend,
            store,
            timer: None,
            visitor_typing_until: None,
            on_notice,
            stopped: false,
        })))
    }

    /// Runs `f` on the backend, then drains its output.
    fn with_backend(&self, f: impl FnOnce(&mut dyn ChatBackend, Millis)) {
        {
            let Ok(mut d) = self.0.try_borrow_mut() else {
                // Re-entered from a notice handler; the outer pump will drain.
                web_log(&"chat widget: command re-entered while busy; ignored".into());
                return;
            };
            if d.stopped {
                return;
            }
            f(d.backend.as_mut(), now());
        }
        self.pump();
    }

    /// Drains the backend's output into the store and arms the next timer.
    fn pump(&self) {
        let (notices, on_notice) = {
            let mut d = self.0.borrow_mut();
            let now = now();
            let mut notices = Vec::new();
            // Socket and HTTP output belong to network backends, which the socket and fetch
            // transport executes; the demo backend produces neither.
            while let Some(cmd) = d.backend.poll_socket() {
                web_log(&format!("chat widget: no transport for socket command {cmd:?}").into());
            }
            while let Some(req) = d.backend.poll_http() {
                web_log(&format!("chat widget: no transport for request {}", req.url).into());
            }
            while let Some(event) = d.backend.poll_event() {
                notices.extend(d.store.apply(event, now));
            }
            self.arm_timer(&mut d, now);
            (notices, d.on_notice.clone())
        };
        // Outside the borrow: a host-page listener may call straight back into the API.
        for n in notices {
            on_notice(n);
        }
    }

    fn arm_timer(&self, d: &mut Driver, now: Millis) {
        if let Some(t) = d.timer.take() {
            t.clear();
        }
        let typing_expiry = d
            .store
            .state
            .with_untracked(|s| s.typing.as_ref().map(|(_, until)| *until));
        let deadline = [
            d.backend.poll_timeout(),
            d.visitor_typing_until,
            typing_expiry,
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(at) = deadline {
            let me = self.clone();
            let delay = Duration::from_millis(at.saturating_sub(now));
            d.timer = set_timeout_with_handle(move || me.on_timer(), delay).ok();
        }
    }

    fn on_timer(&self) {
        let stop_typing = {
            let mut d = self.0.borrow_mut();
            d.timer = None;
            let now = now();
            d.store.state.update(|s| s.expire(now));
            let due = d.visitor_typing_until.is_some_and(|t| t <= now);
            if due {
                d.visitor_typing_until = None;
            }
            due
        };
        self.with_backend(|b, now| {
            if stop_typing {
                b.set_typing(false, now);
            }
            b.handle_timeout(now);
        });
    }

    /// Starts the conversation.
    pub fn start(&self, visitor: VisitorProfile) {
        self.with_backend(|b, now| {
            b.set_visitor(visitor, now);
            b.start(now);
        });
    }

    /// Sends a visitor message: shown at once as pending, then handed to the backend.
    pub fn send(&self, text: &str) -> Option<String> {
        let text = text.trim();
        if text.is_empty()
            || self
                .0
                .borrow()
                .store
                .state
                .with_untracked(|s| s.composer_blocked().is_some())
        {
            return None;
        }
        let id = new_client_id();
        let store = self.0.borrow().store;
        store.state.update(|s| {
            s.transcript.add_pending(&id, text, now() as i64);
        });
        self.0.borrow_mut().visitor_typing_until = None;
        self.with_backend(|b, now| {
            b.set_typing(false, now);
            b.send_message(&id, text, now);
        });
        Some(id)
    }

    /// Sends a failed message again with the same client id (the server de-duplicates on it).
    pub fn retry(&self, client_id: &str) {
        let store = self.0.borrow().store;
        let Some(text) = store
            .state
            .with_untracked(|s| s.transcript.find(client_id).map(|m| m.text.clone()))
        else {
            return;
        };
        store.state.update(|s| {
            s.transcript
                .set_status(client_id, crate::core::DeliveryStatus::Pending);
        });
        self.with_backend(|b, now| b.send_message(client_id, &text, now));
    }

    /// The visitor typed a key: report typing once, and stop after a pause.
    pub fn visitor_typed(&self) {
        let started = {
            let mut d = self.0.borrow_mut();
            let was_typing = d.visitor_typing_until.is_some();
            d.visitor_typing_until = Some(now() + TYPING_IDLE);
            !was_typing
        };
        if started {
            self.with_backend(|b, now| b.set_typing(true, now));
        } else {
            self.pump();
        }
    }

    /// The visitor has seen the conversation.
    pub fn mark_read(&self) {
        self.with_backend(|b, now| b.mark_read(now));
    }

    /// Updates the visitor's name/email.
    pub fn set_visitor(&self, profile: VisitorProfile) {
        self.with_backend(|b, now| b.set_visitor(profile, now));
    }

    /// Ends the conversation.
    pub fn end_chat(&self) {
        self.with_backend(|b, now| b.end_chat(now));
    }

    /// Starts a new conversation after the last one ended.
    pub fn start_new(&self, backend: Box<dyn ChatBackend>, visitor: VisitorProfile) {
        {
            let mut d = self.0.borrow_mut();
            if let Some(t) = d.timer.take() {
                t.clear();
            }
            d.backend = backend;
            let open = d.store.state.get_untracked().is_open;
            d.store.state.update(|s| {
                *s = crate::state::ChatState::default();
                s.set_open(open);
            });
        }
        self.start(visitor);
    }

    /// Stops all timers and ignores further input; used by `destroy`.
    pub fn shutdown(&self) {
        let mut d = self.0.borrow_mut();
        d.stopped = true;
        if let Some(t) = d.timer.take() {
            t.clear();
        }
    }

    /// Applies an event as if the backend had produced it (errors found outside the core).
    pub fn inject(&self, event: ChatEvent) {
        let (notice, on_notice) = {
            let d = self.0.borrow();
            (d.store.apply(event, now()), d.on_notice.clone())
        };
        if let Some(n) = notice {
            on_notice(n);
        }
    }
}

/// Logs to the browser console.
pub fn web_log(v: &wasm_bindgen::JsValue) {
    web_sys::console::warn_1(v);
}
