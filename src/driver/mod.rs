//! The browser driver: the only code that touches the WebSocket, fetch, timers and
//! localStorage. It runs the core's loop — input, then drain socket commands, HTTP requests and
//! events, persist the snapshot, arm the timer for the next deadline — and turns UI commands
//! into core commands.

pub mod transport;

use crate::core::{
    ChatBackend, ChatEvent, DeliveryStatus, Millis, RichAnswer, SocketCommand, VisitorProfile,
};
use crate::state::Notice;
use crate::store::Store;
use leptos::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use transport::{LiveSocket, SocketSignal};

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

/// A random seed for a backend's reconnect jitter.
pub fn random_seed() -> u64 {
    (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64
}

/// Builds a backend, resuming from a saved snapshot when there is one.
pub type BackendFactory = Rc<dyn Fn(Option<&str>) -> Box<dyn ChatBackend>>;

/// How a controller runs its backend.
pub struct DriverOptions {
    /// Builds the backend.
    pub factory: BackendFactory,
    /// Where the session snapshot lives in localStorage; `None` keeps nothing (demo).
    pub storage_key: Option<String>,
    /// Start at once (demo, or a saved session to resume) instead of at the first open/send.
    pub start_now: bool,
    /// Hears about incoming messages and errors.
    pub on_notice: Rc<dyn Fn(Notice)>,
}

struct Driver {
    backend: Option<Box<dyn ChatBackend>>,
    options: DriverOptions,
    store: Store,
    visitor: VisitorProfile,
    timer: Option<TimeoutHandle>,
    socket: Option<LiveSocket>,
    generation: u64,
    /// Bumped whenever the backend is replaced, so an HTTP answer to a request the old
    /// backend made never reaches the new one (request ids start again from the beginning).
    backend_generation: u64,
    last_snapshot: String,
    visitor_typing_until: Option<Millis>,
    stopped: bool,
}

impl Driver {
    /// Cancels the pending timer and closes the socket.
    fn halt_io(&mut self) {
        if let Some(t) = self.timer.take() {
            t.clear();
        }
        if let Some(s) = self.socket.take() {
            s.close(1000, "");
        }
    }
}

/// Runs one backend for one mounted widget. Cloning shares the same driver.
#[derive(Clone)]
pub struct Controller(Rc<RefCell<Driver>>);

impl Controller {
    /// A controller for `store`; call [`Controller::boot`] next.
    pub fn new(options: DriverOptions, store: Store, visitor: VisitorProfile) -> Self {
        Controller(Rc::new(RefCell::new(Driver {
            backend: None,
            options,
            store,
            visitor,
            timer: None,
            socket: None,
            generation: 0,
            backend_generation: 0,
            last_snapshot: String::new(),
            visitor_typing_until: None,
            stopped: false,
        })))
    }

    /// Starts now if the options say so (demo, or a saved session exists).
    pub fn boot(&self) {
        let (start_now, saved) = {
            let d = self.0.borrow();
            (
                d.options.start_now,
                d.options.storage_key.as_deref().and_then(transport::load),
            )
        };
        if start_now || saved.is_some() {
            self.ensure_started();
        }
    }

    /// Creates and starts the backend if that has not happened yet. Reading the snapshot here,
    /// not at boot, lets a second tab pick up a conversation the first tab started since.
    pub fn ensure_started(&self) {
        let saved = {
            let d = self.0.borrow();
            d.options.storage_key.as_deref().and_then(transport::load)
        };
        self.start_from(saved);
    }

    /// Creates and starts the backend from `saved` if there is none running.
    fn start_from(&self, saved: Option<String>) {
        {
            let mut d = self.0.borrow_mut();
            if d.backend.is_some() || d.stopped {
                return;
            }
            let mut backend = (d.options.factory)(saved.as_deref());
            let now = now();
            backend.set_visitor(d.visitor.clone(), now);
            backend.start(now);
            d.backend = Some(backend);
        }
        self.pump();
    }

    /// Runs `f` on the backend (starting it first), then drains its output.
    fn with_backend(&self, f: impl FnOnce(&mut dyn ChatBackend, Millis)) {
        self.ensure_started();
        {
            let Ok(mut d) = self.0.try_borrow_mut() else {
                web_log("chat widget: command re-entered while busy; ignored");
                return;
            };
            if d.stopped {
                return;
            }
            let Some(b) = d.backend.as_mut() else { return };
            f(b.as_mut(), now());
        }
        self.pump();
    }

    /// Drains the backend's output, executes it, persists the snapshot, arms the next timer.
    fn pump(&self) {
        let (notices, on_notice, open) = {
            let mut guard = self.0.borrow_mut();
            let d = &mut *guard;
            if d.stopped {
                return;
            }
            let Some(backend) = d.backend.as_mut() else {
                return;
            };
            let now = now();
            let mut notices = Vec::new();
            let mut requests = Vec::new();
            let mut socket_commands = Vec::new();
            while let Some(cmd) = backend.poll_socket() {
                socket_commands.push(cmd);
            }
            while let Some(req) = backend.poll_http() {
                requests.push(req);
            }
            while let Some(event) = backend.poll_event() {
                notices.extend(d.store.apply(event, now));
            }
            let snapshot = backend.snapshot();
            if let Some(key) = &d.options.storage_key {
                if snapshot != d.last_snapshot {
                    transport::store(key, &snapshot);
                    d.last_snapshot = snapshot;
                }
            }
            for cmd in socket_commands {
                self.execute(d, cmd);
            }
            for req in requests {
                let me = self.clone();
                let made_by = d.backend_generation;
                wasm_bindgen_futures::spawn_local(async move {
                    let (status, body) = transport::fetch(&req).await;
                    let current = me.0.try_borrow().map(|d| d.backend_generation).ok();
                    if current != Some(made_by) {
                        return; // The backend that asked has been replaced.
                    }
                    me.with_backend(|b, now| b.handle_http_response(req.id, status, &body, now));
                });
            }
            self.arm_timer(d, now);
            (
                notices,
                d.options.on_notice.clone(),
                d.store.state.with_untracked(|s| s.is_open),
            )
        };
        let incoming = notices
            .iter()
            .any(|n| matches!(n, Notice::IncomingMessage(_)));
        // Outside the borrow: a host-page listener may call straight back into the API.
        for n in notices {
            on_notice(n);
        }
        if incoming && open && page_visible() {
            self.mark_read();
        }
    }

    fn execute(&self, d: &mut Driver, cmd: SocketCommand) {
        match cmd {
            SocketCommand::Open { url, protocols } => {
                if let Some(old) = d.socket.take() {
                    old.close(1000, "");
                }
                d.generation += 1;
                let me = self.clone();
                match LiveSocket::open(&url, &protocols, d.generation, move |s| me.on_socket(s)) {
                    Ok(s) => d.socket = Some(s),
                    Err(e) => {
                        web_sys::console::warn_2(&"chat widget: cannot open socket".into(), &e);
                        // Reported like a failed connection, after this pump.
                        let me = self.clone();
                        let generation = d.generation;
                        set_timeout(
                            move || {
                                me.on_socket(SocketSignal::Closed(generation, 1006, String::new()))
                            },
                            Duration::ZERO,
                        );
                    }
                }
            }
            SocketCommand::Send(text) => {
                if !d.socket.as_ref().is_some_and(|s| s.send(&text)) {
                    web_log("chat widget: frame dropped, socket not open");
                }
            }
            SocketCommand::Close { code, reason } => {
                if let Some(s) = d.socket.take() {
                    s.close(code, &reason);
                }
            }
        }
    }

    fn on_socket(&self, signal: SocketSignal) {
        let current = {
            let d = self.0.borrow();
            d.socket
                .as_ref()
                .map(LiveSocket::generation)
                .unwrap_or(d.generation)
        };
        match signal {
            SocketSignal::Open(g) if g == current => self.with_backend(|b, now| b.handle_open(now)),
            SocketSignal::Text(g, text) if g == current => {
                self.with_backend(|b, now| b.handle_text(&text, now))
            }
            SocketSignal::Closed(g, code, reason) if g == current => {
                self.0.borrow_mut().socket = None;
                self.with_backend(|b, now| b.handle_close(code, &reason, now));
            }
            _ => {} // From a socket that has been replaced.
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
        let core = d.backend.as_ref().and_then(|b| b.poll_timeout());
        let deadline = [core, d.visitor_typing_until, typing_expiry]
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

    /// The browser came online or the tab became visible: reconnect now if down.
    pub fn network_hint(&self, online: bool) {
        if self.0.borrow().backend.is_some() {
            self.with_backend(|b, now| b.handle_network_hint(online, now));
        }
    }

    /// Sends a visitor message: shown at once as pending, then handed to the backend.
    pub fn send(&self, text: &str) -> Option<String> {
        let text = text.trim();
        let store = self.0.borrow().store;
        if text.is_empty()
            || store
                .state
                .with_untracked(|s| s.composer_blocked().is_some())
        {
            return None;
        }
        let id = new_client_id();
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

    /// Sends a failed message again with the same client id (servers de-duplicate on it).
    pub fn retry(&self, client_id: &str) {
        let store = self.0.borrow().store;
        let Some(text) = store
            .state
            .with_untracked(|s| s.transcript.find(client_id).map(|m| m.text.clone()))
        else {
            return;
        };
        store.state.update(|s| {
            s.transcript.set_status(client_id, DeliveryStatus::Pending);
        });
        self.with_backend(|b, now| b.send_message(client_id, &text, now));
    }

    /// Answers the rich content (options, form, rating) of message `message_id`: the answer
    /// shows at once as on its way, and the control stays locked until the server's copy of
    /// the message carries it or the server refuses it. A second submit is ignored.
    pub fn submit_answer(&self, message_id: &str, answer: RichAnswer) {
        let store = self.0.borrow().store;
        let accepted = store
            .state
            .try_update(|s| s.begin_answer(message_id, answer.clone()))
            .unwrap_or(false);
        if accepted {
            self.with_backend(|b, now| b.submit_answer(message_id, answer, now));
        }
    }

    /// The visitor typed a key: report typing once, and stop after a pause.
    pub fn visitor_typed(&self) {
        let (started, running) = {
            let mut d = self.0.borrow_mut();
            let was_typing = d.visitor_typing_until.is_some();
            d.visitor_typing_until = Some(now() + TYPING_IDLE);
            (!was_typing, d.backend.is_some())
        };
        if !running {
            return; // Typing alone does not start a conversation.
        }
        if started {
            self.with_backend(|b, now| b.set_typing(true, now));
        } else {
            self.pump();
        }
    }

    /// The visitor has seen the conversation.
    pub fn mark_read(&self) {
        if self.0.borrow().backend.is_some() {
            self.with_backend(|b, now| b.mark_read(now));
        }
    }

    /// Updates the visitor's name/email.
    pub fn set_visitor(&self, profile: VisitorProfile) {
        let running = {
            let mut d = self.0.borrow_mut();
            if profile.name.is_some() {
                d.visitor.name = profile.name.clone();
            }
            if profile.email.is_some() {
                d.visitor.email = profile.email.clone();
            }
            d.backend.is_some()
        };
        if running {
            self.with_backend(|b, now| b.set_visitor(profile, now));
        }
    }

    /// Ends the conversation.
    pub fn end_chat(&self) {
        self.with_backend(|b, now| b.end_chat(now));
    }

    /// Starts a new conversation after the last one ended. The visitor stays who they were:
    /// the new backend resumes from the snapshot the old one produced after `end_chat`, which
    /// keeps the identity (Voxsig's contact) and no longer names the ended conversation.
    pub fn start_new(&self) {
        let after_end = {
            let mut d = self.0.borrow_mut();
            d.halt_io();
            let after_end = d.backend.take().map(|b| b.snapshot());
            d.backend_generation += 1;
            if let Some(key) = &d.options.storage_key {
                match &after_end {
                    Some(snapshot) => transport::store(key, snapshot),
                    None => transport::remove(key),
                }
            }
            d.last_snapshot = after_end.clone().unwrap_or_default();
            d.store.state.update(|s| *s = s.for_new_conversation());
            after_end
        };
        self.start_from(after_end);
    }

    /// Stops timers, closes the socket and ignores further input; used by `destroy`.
    pub fn shutdown(&self) {
        let mut d = self.0.borrow_mut();
        d.stopped = true;
        d.halt_io();
    }

    /// Applies an event as if the backend had produced it (errors found outside the core).
    pub fn inject(&self, event: ChatEvent) {
        let (notice, on_notice) = {
            let d = self.0.borrow();
            (d.store.apply(event, now()), d.options.on_notice.clone())
        };
        if let Some(n) = notice {
            on_notice(n);
        }
    }
}

fn page_visible() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_none_or(|d| d.visibility_state() == web_sys::VisibilityState::Visible)
}

/// Logs a warning to the browser console.
pub fn web_log(text: &str) {
    web_sys::console::warn_1(&text.into());
}
