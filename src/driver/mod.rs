//! The browser driver: the only code that touches the WebSocket, fetch, timers and
//! localStorage. It runs the core's loop — input, then drain socket commands, HTTP requests and
//! events, persist the snapshot, arm the timer for the next deadline — and turns UI commands
//! into core commands.

pub mod tab_link;
pub mod transport;

use crate::core::{
    ChatBackend, ChatEvent, DeliveryStatus, Millis, RichAnswer, SocketCommand, VisitorProfile,
};
use crate::state::Notice;
use crate::store::Store;
use crate::tabs::{snapshot_knows, sync_events, TabCommand, TabMessage};
use leptos::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use tab_link::{TabLink, TabSignal};
use transport::{LiveSocket, SocketSignal};

/// The visitor stops "typing" after this long without a keystroke.
const TYPING_IDLE: Millis = 4_000;

/// After a task in which the backend reported events, the snapshot is written this much later,
/// once for everything that came in meanwhile, instead of at the end of every task: serialising
/// the whole session per incoming frame was most of the cost of a frame. The page hiding or
/// unloading writes it at once ([`Controller::flush`]), and so does a message the visitor sends.
const SAVE_DELAY: Duration = Duration::from_millis(250);

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

/// This tab's part in the conversation the tabs of a browser share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// No other tab to share with (demo, no storage, or no Web Locks/BroadcastChannel).
    Solo,
    /// Waiting for the lock's first answer; commands wait too.
    Electing,
    /// Runs the backend and the only connection, relays its events.
    Leader,
    /// Renders what the leader relays, forwards the visitor's commands to it.
    Follower,
}

struct Driver {
    backend: Option<Box<dyn ChatBackend>>,
    options: DriverOptions,
    store: Store,
    visitor: VisitorProfile,
    timer: Option<TimeoutHandle>,
    /// When `timer` fires: a pump that wants the same deadline keeps it.
    timer_at: Option<Millis>,
    socket: Option<LiveSocket>,
    generation: u64,
    /// Bumped whenever the backend is replaced, so an HTTP answer to a request the old
    /// backend made never reaches the new one (request ids start again from the beginning).
    backend_generation: u64,
    last_snapshot: String,
    /// The backend's state may have changed since the snapshot was last written.
    persist_due: bool,
    /// Messages came in while the window was open and the page visible.
    read_due: bool,
    /// The end-of-task work (persist, read report) is queued as a microtask.
    end_of_task_queued: bool,
    /// The backend reported events in this task: the snapshot is written after [`SAVE_DELAY`].
    eventful: bool,
    /// The delayed write of the snapshot, when one is due.
    save_timer: Option<TimeoutHandle>,
    /// Events the backend reported, not yet relayed to the other tabs: posted together at the
    /// end of the task, and before any other message to them, so that they keep their order.
    unrelayed: Vec<ChatEvent>,
    /// A follower has said hello to this leader. Until one does, no tab needs the events (a
    /// tab that comes later asks for the whole state), so none are relayed.
    followers: bool,
    visitor_typing_until: Option<Millis>,
    stopped: bool,
    role: Role,
    link: Option<TabLink>,
    /// Names this tab to the leader when it asks for the whole state.
    tab_id: String,
    /// Commands given before the election ended.
    queued: Vec<TabCommand>,
    /// Messages typed here and forwarded, not yet reported saved by the leader: sent again
    /// to the next leader (or by this tab, if it becomes the leader) unless the saved session
    /// already has them.
    forwarded: Vec<TabCommand>,
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

    /// Whether this tab may create a backend now: none is running, the widget is not
    /// destroyed, and no other tab leads (a follower, or a tab still waiting to know, never).
    fn may_start(&self) -> bool {
        self.backend.is_none() && !self.stopped && matches!(self.role, Role::Solo | Role::Leader)
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
            timer_at: None,
            socket: None,
            generation: 0,
            backend_generation: 0,
            last_snapshot: String::new(),
            persist_due: false,
            read_due: false,
            end_of_task_queued: false,
            eventful: false,
            save_timer: None,
            unrelayed: Vec::new(),
            followers: false,
            visitor_typing_until: None,
            stopped: false,
            role: Role::Solo,
            link: None,
            tab_id: new_client_id(),
            queued: Vec::new(),
            forwarded: Vec::new(),
        })))
    }

    /// Joins the other tabs of this site (one of them leads and runs the backend), or, alone,
    /// starts now if the options say so (demo, or a saved session exists).
    pub fn boot(&self) {
        let key = self.0.borrow().options.storage_key.clone();
        if let Some(key) = key {
            let me = self.clone();
            if let Some(link) = TabLink::join(&key, move |s| me.on_tab(s)) {
                let mut d = self.0.borrow_mut();
                d.role = Role::Electing;
                d.link = Some(link);
                return;
            }
        }
        self.boot_here();
    }

    /// Starts the backend here if the options say so or a saved session exists.
    fn boot_here(&self) {
        let (start_now, saved) = {
            let d = self.0.borrow();
            (
                d.options.start_now,
                d.options.storage_key.as_deref().and_then(transport::load),
            )
        };
        if start_now || saved.is_some() {
            self.start_here();
        }
    }

    /// Starts the conversation if that has not happened yet (the window was opened).
    pub fn ensure_started(&self) {
        self.command(TabCommand::Start);
    }

    /// Creates and starts the backend in this tab if that has not happened yet. Reading the
    /// snapshot here, not at boot, picks up a conversation another tab started since.
    fn start_here(&self) {
        let saved = {
            let d = self.0.borrow();
            // Checked before reading storage: every command and socket frame passes here.
            if !d.may_start() {
                return;
            }
            d.options.storage_key.as_deref().and_then(transport::load)
        };
        self.start_from(saved);
    }

    /// Creates and starts the backend from `saved` if there is none running.
    fn start_from(&self, saved: Option<String>) {
        {
            let mut d = self.0.borrow_mut();
            if !d.may_start() {
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
        self.start_here();
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
        let (notices, on_notice) = {
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
            let relay = d.role == Role::Leader && d.followers && d.link.is_some();
            while let Some(event) = backend.poll_event() {
                d.eventful = true;
                if relay {
                    d.unrelayed.push(event.clone());
                }
                notices.extend(d.store.apply(event, now));
            }
            if d.options.storage_key.is_some() {
                d.persist_due = true;
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
            let incoming = notices
                .iter()
                .any(|n| matches!(n, Notice::IncomingMessage(_)));
            if incoming && d.store.state.with_untracked(|s| s.is_open) && page_visible() {
                d.read_due = true;
            }
            if d.persist_due || d.read_due || !d.unrelayed.is_empty() {
                self.queue_end_of_task(d);
            }
            (notices, d.options.on_notice.clone())
        };
        // Outside the borrow: a host-page listener may call straight back into the API.
        for n in notices {
            on_notice(n);
        }
    }

    /// Queues [`Controller::end_of_task`] once. A microtask runs before the browser does
    /// anything else (another frame, a timer, unloading the page), so a snapshot written there
    /// is as safe as one written in the pump itself, and a burst of frames handled in one task
    /// (or a frame and the commands it causes) is serialised and written once, not per frame.
    fn queue_end_of_task(&self, d: &mut Driver) {
        if !d.end_of_task_queued {
            d.end_of_task_queued = true;
            self.spawn_end_of_task();
        }
    }

    fn spawn_end_of_task(&self) {
        let me = self.clone();
        wasm_bindgen_futures::spawn_local(async move { me.end_of_task() });
    }

    /// Relays the task's events to the other tabs, reports the conversation read (once for all
    /// the messages that came in), then writes the snapshot if it changed: at once after a task
    /// without events (a heartbeat: no timer, so an idle widget wakes no more often), else after
    /// [`SAVE_DELAY`].
    fn end_of_task(&self) {
        let (read, later) = match self.0.try_borrow_mut() {
            Ok(mut d) => {
                d.end_of_task_queued = false;
                relay_events(&mut d);
                let later = std::mem::take(&mut d.eventful) || d.save_timer.is_some();
                (std::mem::take(&mut d.read_due), later)
            }
            Err(_) => {
                web_log("chat widget: end of task while busy; queued again");
                self.spawn_end_of_task();
                return;
            }
        };
        if read {
            self.mark_read();
        }
        if later {
            self.save_soon();
        } else {
            self.persist_now();
        }
    }

    /// Arms the delayed write of the snapshot unless it is armed already.
    fn save_soon(&self) {
        let Ok(mut d) = self.0.try_borrow_mut() else {
            return; // Only reached from the end of a task; the pump that holds it queues another.
        };
        if d.save_timer.is_some() || d.stopped {
            return;
        }
        let me = self.clone();
        let saved = move || {
            if let Ok(mut d) = me.0.try_borrow_mut() {
                d.save_timer = None;
            }
            me.persist_now();
        };
        d.save_timer = set_timeout_with_handle(saved, SAVE_DELAY).ok();
    }

    /// Writes the snapshot now if a write is due: the page is being hidden or unloaded (after
    /// which it may never run again), or the widget is destroyed.
    pub fn flush(&self) {
        if let Ok(mut d) = self.0.try_borrow_mut() {
            if let Some(t) = d.save_timer.take() {
                t.clear();
            }
        }
        self.persist_now();
    }

    /// Writes the backend's snapshot now if it may have changed and differs from the last one.
    fn persist_now(&self) {
        let Ok(mut guard) = self.0.try_borrow_mut() else {
            return; // Only reached from the end of a task or a command; the queued write follows.
        };
        let d = &mut *guard;
        if !std::mem::take(&mut d.persist_due) {
            return;
        }
        let (Some(key), Some(backend)) = (&d.options.storage_key, &d.backend) else {
            return;
        };
        let snapshot = backend.snapshot();
        if snapshot != d.last_snapshot {
            transport::store(key, &snapshot);
            d.last_snapshot = snapshot;
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
        let typing_expiry = d
            .store
            .state
            .with_untracked(|s| s.typing.as_ref().map(|(_, until)| *until));
        let core = d.backend.as_ref().and_then(|b| b.poll_timeout());
        let deadline = [core, d.visitor_typing_until, typing_expiry]
            .into_iter()
            .flatten()
            .min();
        if d.timer.is_some() && d.timer_at == deadline {
            return;
        }
        if let Some(t) = d.timer.take() {
            t.clear();
        }
        d.timer_at = deadline;
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
        let at = now() as i64;
        store.state.update(|s| {
            s.transcript.add_pending(&id, text, at);
        });
        self.command(TabCommand::Send {
            id: id.clone(),
            text: text.to_string(),
            at,
        });
        Some(id)
    }

    /// Sends a failed message again with the same client id (servers de-duplicate on it).
    pub fn retry(&self, client_id: &str) {
        let store = self.0.borrow().store;
        let known = store.state.try_update(|s| {
            s.transcript.find(client_id).is_some()
                && s.transcript.set_status(client_id, DeliveryStatus::Pending)
                    == crate::core::transcript::Applied::Updated
        });
        if known == Some(true) {
            self.command(TabCommand::Retry {
                id: client_id.to_string(),
            });
        }
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
            self.command(TabCommand::Answer {
                id: message_id.to_string(),
                answer,
            });
        }
    }

    /// The visitor typed a key: report typing once, and stop after a pause.
    pub fn visitor_typed(&self) {
        self.command(TabCommand::Typed);
    }

    /// The visitor has seen the conversation (here: the badge clears in every tab).
    pub fn mark_read(&self) {
        self.command(TabCommand::MarkRead);
    }

    /// Updates the visitor's name/email.
    pub fn set_visitor(&self, profile: VisitorProfile) {
        self.command(TabCommand::SetVisitor { profile });
    }

    /// Ends the conversation.
    pub fn end_chat(&self) {
        self.command(TabCommand::EndChat);
    }

    /// Starts a new conversation after the last one ended.
    pub fn start_new(&self) {
        self.command(TabCommand::StartNew);
    }

    /// Runs a visitor's command here, hands it to the leader tab, or keeps it until the
    /// election is over. The local effects (pending message, locked answer) are already shown.
    fn command(&self, command: TabCommand) {
        let role = self.0.borrow().role;
        match role {
            Role::Solo | Role::Leader => self.run(command, true),
            Role::Electing => self.0.borrow_mut().queued.push(command),
            Role::Follower => self.forward(command),
        }
    }

    /// Posts a command to the leader; a message is remembered until the leader reports it saved.
    fn forward(&self, command: TabCommand) {
        let mut d = self.0.borrow_mut();
        if matches!(command, TabCommand::Send { .. }) {
            d.forwarded.push(command.clone());
        }
        if let Some(link) = &d.link {
            link.post(&TabMessage::Command { command });
        }
    }

    /// Tells the other tabs, if there are any, after the events not yet relayed.
    fn post(&self, message: TabMessage) {
        let mut d = self.0.borrow_mut();
        relay_events(&mut d);
        if let Some(link) = &d.link {
            link.post(&message);
        }
    }

    /// Runs a command in this tab's backend; `local` when it was given in this tab (its
    /// effects on the store are already there), not forwarded by a follower.
    fn run(&self, command: TabCommand, local: bool) {
        let store = self.0.borrow().store;
        match command {
            TabCommand::Start => self.start_here(),
            TabCommand::Send { id, text, at } => {
                if !local {
                    // Sent again after a hand-over: the saved session already had it.
                    if store
                        .state
                        .with_untracked(|s| s.transcript.find(&id).is_some())
                    {
                        self.post(TabMessage::Queued { id, text, at });
                        return;
                    }
                    store.state.update(|s| {
                        s.transcript.add_pending(&id, &text, at);
                    });
                }
                self.0.borrow_mut().visitor_typing_until = None;
                self.with_backend(|b, now| {
                    b.set_typing(false, now);
                    b.send_message(&id, &text, now);
                });
                // The follower forgets the message once told: the snapshot holding it is
                // written first.
                self.persist_now();
                self.post(TabMessage::Queued { id, text, at });
            }
            TabCommand::Retry { id } => {
                let Some(text) = store
                    .state
                    .with_untracked(|s| s.transcript.find(&id).map(|m| m.text.clone()))
                else {
                    return;
                };
                store.state.update(|s| {
                    s.transcript.set_status(&id, DeliveryStatus::Pending);
                });
                // Before the pump: a second failure must reach the other tabs after this.
                self.post(TabMessage::Retrying { id: id.clone() });
                self.with_backend(|b, now| b.send_message(&id, &text, now));
            }
            TabCommand::Answer { id, answer } => {
                if !local {
                    store.state.update(|s| {
                        s.begin_answer(&id, answer.clone());
                    });
                }
                self.with_backend(|b, now| b.submit_answer(&id, answer, now));
            }
            TabCommand::Typed => self.typed_here(),
            TabCommand::MarkRead => {
                if self.0.borrow().backend.is_some() {
                    self.with_backend(|b, now| b.mark_read(now));
                }
                if !local {
                    store.state.update(|s| s.unread = 0);
                }
                self.post(TabMessage::Read);
            }
            TabCommand::SetVisitor { profile } => self.set_visitor_here(profile),
            TabCommand::EndChat => self.with_backend(|b, now| b.end_chat(now)),
            TabCommand::StartNew => self.start_new_here(),
        }
    }

    fn typed_here(&self) {
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

    fn set_visitor_here(&self, profile: VisitorProfile) {
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

    /// The visitor stays who they were: the new backend resumes from the snapshot the old one
    /// produced after `end_chat`, which keeps the identity (Voxsig's contact) and no longer
    /// names the ended conversation.
    fn start_new_here(&self) {
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
        self.post(TabMessage::Reset);
        self.start_from(after_end);
    }

    /// Stops timers, closes the socket, leaves the other tabs and ignores further input; used
    /// by `destroy`.
    pub fn shutdown(&self) {
        self.flush();
        let link = {
            let mut d = self.0.borrow_mut();
            d.stopped = true;
            d.halt_io();
            d.link.take()
        };
        if let Some(link) = link {
            link.leave();
        }
    }
    /// What the tab link reports: the election's outcome, or another tab's message.
    fn on_tab(&self, signal: TabSignal) {
        if self.0.borrow().stopped {
            return;
        }
        match signal {
            TabSignal::Leader => self.become_leader(),
            TabSignal::Follower => self.become_follower(),
            TabSignal::Message(m) => self.on_tab_message(m),
        }
    }

    /// The lock came to this tab, at once or because the leader went (closed, reloaded,
    /// crashed). The conversation resumes from the snapshot the old leader wrote after every
    /// step — messages in flight included — and messages forwarded from here that it never
    /// saved are sent now.
    fn become_leader(&self) {
        let (queued, forwarded, key) = {
            let mut d = self.0.borrow_mut();
            let first = d.role == Role::Electing;
            d.role = Role::Leader;
            d.followers = false;
            if let Some(t) = d.timer.take() {
                t.clear();
            }
            let key = (!first).then(|| d.options.storage_key.clone()).flatten();
            (
                std::mem::take(&mut d.queued),
                std::mem::take(&mut d.forwarded),
                key,
            )
        };
        self.post(TabMessage::Leader);
        let saved = key.as_deref().and_then(transport::load);
        match &saved {
            Some(_) => self.start_here(),
            None => self.boot_here(),
        }
        for command in forwarded {
            if let TabCommand::Send { id, .. } = &command {
                if saved.as_deref().is_some_and(|s| snapshot_knows(s, id)) {
                    continue;
                }
            }
            self.run(command, true);
        }
        for command in queued {
            self.run(command, true);
        }
    }

    /// Another tab leads: ask it for the conversation and hand it what was typed meanwhile.
    fn become_follower(&self) {
        let (queued, hello) = {
            let mut d = self.0.borrow_mut();
            d.role = Role::Follower;
            let hello = TabMessage::Hello {
                from: d.tab_id.clone(),
            };
            (std::mem::take(&mut d.queued), hello)
        };
        self.post(hello);
        for command in queued {
            self.forward(command);
        }
    }

    fn on_tab_message(&self, message: TabMessage) {
        let (role, store, tab_id) = {
            let d = self.0.borrow();
            (d.role, d.store, d.tab_id.clone())
        };
        match (role, message) {
            (Role::Leader, TabMessage::Hello { from }) => {
                self.0.borrow_mut().followers = true;
                let (events, unread) = store.state.with_untracked(|s| (sync_events(s), s.unread));
                self.post(TabMessage::Sync {
                    to: from,
                    events,
                    unread,
                });
            }
            (Role::Leader, TabMessage::Command { command }) => self.run(command, false),
            (Role::Follower, TabMessage::Leader) => {
                // A hand-over: the new leader's state may differ, and what it never saved
                // must reach it.
                let (hello, forwarded) = {
                    let d = self.0.borrow();
                    let hello = TabMessage::Hello {
                        from: d.tab_id.clone(),
                    };
                    (hello, d.forwarded.clone())
                };
                self.post(hello);
                for command in forwarded {
                    self.post(TabMessage::Command { command });
                }
            }
            (Role::Follower, TabMessage::Sync { to, events, unread }) if to == tab_id => {
                self.apply_relayed(events);
                store.state.update(|s| {
                    if !s.is_open {
                        s.unread = unread;
                    }
                });
            }
            (Role::Follower, TabMessage::Events { events }) => self.apply_relayed(events),
            (Role::Follower, TabMessage::Queued { id, text, at }) => {
                self.0
                    .borrow_mut()
                    .forwarded
                    .retain(|c| !matches!(c, TabCommand::Send { id: sent, .. } if *sent == id));
                store.state.update(|s| {
                    if s.transcript.find(&id).is_none() {
                        s.transcript.add_pending(&id, &text, at);
                    }
                });
            }
            (Role::Follower, TabMessage::Retrying { id }) => store.state.update(|s| {
                s.transcript.set_status(&id, DeliveryStatus::Pending);
            }),
            (Role::Follower, TabMessage::Read) => store.state.update(|s| s.unread = 0),
            (Role::Follower, TabMessage::Reset) => {
                store.state.update(|s| *s = s.for_new_conversation());
            }
            _ => {} // Meant for the other role, or for another tab.
        }
    }

    /// Shows what the leader's backend reported, as if this tab's own had: unread counts,
    /// announcements and host-page events included.
    fn apply_relayed(&self, events: Vec<ChatEvent>) {
        let (notices, on_notice, open) = {
            let mut d = self.0.borrow_mut();
            let now = now();
            let notices: Vec<Notice> = events
                .into_iter()
                .filter_map(|e| d.store.apply(e, now))
                .collect();
            // No backend here: only the agent's typing indicator has a deadline.
            self.arm_timer(&mut d, now);
            (
                notices,
                d.options.on_notice.clone(),
                d.store.state.with_untracked(|s| s.is_open),
            )
        };
        let incoming = notices
            .iter()
            .any(|n| matches!(n, Notice::IncomingMessage(_)));
        for n in notices {
            on_notice(n);
        }
        if incoming && open && page_visible() {
            self.mark_read();
        }
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

/// Posts the events the backend reported since the last time to the other tabs, in one message.
fn relay_events(d: &mut Driver) {
    if d.unrelayed.is_empty() {
        return;
    }
    let events = std::mem::take(&mut d.unrelayed);
    if let Some(link) = &d.link {
        link.post(&TabMessage::Events { events });
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
