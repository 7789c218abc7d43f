//! The browser side of sharing one conversation between tabs: a Web Lock elects the leader
//! (the lock is held until the tab closes, reloads or crashes, then the next tab in the queue
//! gets it) and a `BroadcastChannel` carries [`TabMessage`]s. Without either API there is no
//! link and every tab runs its own backend, as before.

use crate::tabs::{TabMessage, TAB_PROTOCOL};
use js_sys::{Function, Object, Promise, Reflect};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortController, BroadcastChannel, MessageEvent};

/// What the link tells its owner.
pub enum TabSignal {
    /// This tab holds the lock: it is the leader (at once, or after the previous one went).
    Leader,
    /// Another tab holds the lock: this one follows until the lock comes to it.
    Follower,
    /// A message from another tab.
    Message(TabMessage),
}

/// This tab's membership in the group of tabs sharing one storage key.
pub struct TabLink {
    channel: BroadcastChannel,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    /// Resolving it releases the lock (the lock callback's promise never settles otherwise).
    release: Rc<RefCell<Option<Function>>>,
    /// Withdraws a follower's place in the lock queue.
    abort: AbortController,
    closed: Rc<Cell<bool>>,
}

impl TabLink {
    /// Joins the group for `storage_key`; `signal` hears the role and the other tabs'
    /// messages, always from a later task. `None` when the browser lacks Web Locks or
    /// `BroadcastChannel`.
    pub fn join(storage_key: &str, signal: impl Fn(TabSignal) + 'static) -> Option<TabLink> {
        let window = web_sys::window()?;
        let locks = Reflect::get(&window.navigator(), &"locks".into()).ok()?;
        let request: Function = Reflect::get(&locks, &"request".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let name = format!("{TAB_PROTOCOL}:{storage_key}");
        let channel = BroadcastChannel::new(&name).ok()?;
        let abort = AbortController::new().ok()?;
        let signal: Rc<dyn Fn(TabSignal)> = Rc::new(signal);

        let on_message = {
            let signal = signal.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let decoded = e.data().as_string().and_then(|t| TabMessage::decode(&t));
                match decoded {
                    Some(m) => signal(TabSignal::Message(m)),
                    None => super::web_log("chat widget: unreadable message from another tab"),
                }
            })
        };
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));

        let release = Rc::new(RefCell::new(None));
        let closed = Rc::new(Cell::new(false));
        // First ask without queueing: granted means leader now, refused means follower now;
        // then queue for the lock so this tab takes over when the leader goes.
        let on_first = {
            let (signal, release, closed) = (signal.clone(), release.clone(), closed.clone());
            let (locks, request, name) = (locks.clone(), request.clone(), name.clone());
            let abort_signal = abort.signal();
            Closure::once_into_js(move |lock: JsValue| -> JsValue {
                if closed.get() {
                    return JsValue::UNDEFINED;
                }
                if !lock.is_null() {
                    return hold(&signal, &release);
                }
                signal(TabSignal::Follower);
                let options = Object::new();
                let _ = Reflect::set(&options, &"signal".into(), &abort_signal);
                let on_granted = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
                    if closed.get() {
                        return JsValue::UNDEFINED;
                    }
                    hold(&signal, &release)
                });
                if let Ok(p) = request.call3(&locks, &name.into(), &options, &on_granted) {
                    swallow_rejection(p);
                }
                JsValue::UNDEFINED
            })
        };
        let options = Object::new();
        Reflect::set(&options, &"ifAvailable".into(), &true.into()).ok()?;
        let pending = request
            .call3(&locks, &name.into(), &options, &on_first)
            .ok()?;
        swallow_rejection(pending);
        Some(TabLink {
            channel,
            _on_message: on_message,
            release,
            abort,
            closed,
        })
    }

    /// Tells every other tab of the group.
    pub fn post(&self, message: &TabMessage) {
        if self.closed.get() {
            return;
        }
        if self.channel.post_message(&message.encode().into()).is_err() {
            super::web_log("chat widget: cannot reach the other tabs");
        }
    }

    /// Leaves the group: releases the lock or the place in its queue, closes the channel.
    pub fn leave(&self) {
        self.closed.set(true);
        self.abort.abort();
        if let Some(resolve) = self.release.borrow_mut().take() {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

/// Keeps the lock granted to this tab: returns a promise that settles only when `release` is
/// called (at shutdown) or the tab goes away, and tells the owner it leads.
fn hold(signal: &Rc<dyn Fn(TabSignal)>, release: &Rc<RefCell<Option<Function>>>) -> JsValue {
    let release = release.clone();
    let promise = Promise::new(&mut |resolve, _reject| {
        *release.borrow_mut() = Some(resolve);
    });
    signal(TabSignal::Leader);
    promise.into()
}

/// Marks a promise's rejection as expected (the queued request is aborted at shutdown), so it
/// is not reported as unhandled.
fn swallow_rejection(promise: JsValue) {
    if let Ok(p) = promise.dyn_into::<Promise>() {
        let handler = Closure::<dyn FnMut(JsValue)>::new(|_| {});
        let _ = p.catch(&handler);
        handler.forget(); // At most two per tab.
    }
}
