//! `window.ChatWidget`: the JS API, and the command queue a host page may fill before the
//! bundle has loaded (`ChatWidget.q.push(["open"])`, like `$crisp.push`).

use super::{destroy, is_mounted, is_open, send_message, set_locale, set_open, set_user};
use crate::core::VisitorProfile;
use crate::i18n::Locale;
use leptos::prelude::window;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

thread_local! {
    /// The API object, built once per page: its functions outlive any single mount so a host
    /// page holding a reference never calls a dropped closure.
    static API: RefCell<Option<js_sys::Object>> = const { RefCell::new(None) };
}

/// Runs one API command by name; unknown names and bad arguments are reported, never thrown.
pub fn run(name: &str, args: &js_sys::Array) -> JsValue {
    if !is_mounted() && name != "isOpen" {
        web_sys::console::warn_1(
            &format!("chat widget: \"{name}\" ignored, the widget is not mounted").into(),
        );
        return JsValue::UNDEFINED;
    }
    match name {
        "open" => set_open(true),
        "close" => set_open(false),
        "toggle" => set_open(!is_open()),
        "isOpen" => return is_open().into(),
        "sendMessage" => match args.get(0).as_string() {
            Some(text) => {
                return send_message(&text)
                    .map(JsValue::from)
                    .unwrap_or(JsValue::NULL)
            }
            None => warn("sendMessage(text) needs a string"),
        },
        "setUser" => {
            let user = args.get(0);
            let field = |k: &str| {
                js_sys::Reflect::get(&user, &k.into())
                    .ok()
                    .and_then(|v| v.as_string())
            };
            set_user(VisitorProfile {
                name: field("name"),
                email: field("email"),
            });
        }
        "setLocale" => match args.get(0).as_string() {
            Some(tag) => set_locale(Locale::from_tag(&tag)),
            None => warn("setLocale(tag) needs a string such as \"en\" or \"zh-CN\""),
        },
        "destroy" => destroy(),
        other => warn(&format!("unknown command \"{other}\"")),
    }
    JsValue::UNDEFINED
}

fn warn(text: &str) {
    web_sys::console::warn_1(&format!("chat widget: {text}").into());
}

fn method(api: &js_sys::Object, name: &'static str) {
    // Every command takes at most one argument; a JS call with none passes `undefined`. No
    // `new Function` wrapper: a page whose policy has no 'unsafe-eval' would refuse it.
    let f = Closure::<dyn Fn(JsValue) -> JsValue>::new(move |arg: JsValue| {
        run(name, &js_sys::Array::of1(&arg))
    });
    let _ = js_sys::Reflect::set(api, &name.into(), f.as_ref());
    // Lives as long as the page: the API object is built once.
    f.forget();
}

fn queue_entry(entry: &JsValue) {
    let items = js_sys::Array::from(entry);
    let Some(name) = items.get(0).as_string() else {
        warn("queued entry is not [\"command\", ...args]; ignored");
        return;
    };
    run(&name, &items.slice(1, items.length()));
}

fn build() -> js_sys::Object {
    let api = js_sys::Object::new();
    for name in [
        "open",
        "close",
        "toggle",
        "isOpen",
        "sendMessage",
        "setUser",
        "setLocale",
        "destroy",
    ] {
        method(&api, name);
    }
    // `q.push([...])` keeps working after load and runs at once.
    let queue = js_sys::Object::new();
    let push = Closure::<dyn Fn(JsValue)>::new(move |entry: JsValue| queue_entry(&entry));
    let _ = js_sys::Reflect::set(&queue, &"push".into(), push.as_ref());
    push.forget();
    let _ = js_sys::Reflect::set(&api, &"q".into(), &queue);
    let _ = js_sys::Reflect::set(&api, &"version".into(), &env!("CARGO_PKG_VERSION").into());
    api
}

/// Puts the API on `window.ChatWidget`, keeping the loader's `config` and the pending queue.
pub fn install() {
    let w = window();
    let previous = js_sys::Reflect::get(&w, &"ChatWidget".into()).unwrap_or(JsValue::UNDEFINED);
    let api = API.with(|a| a.borrow_mut().get_or_insert_with(build).clone());
    if js_sys::Object::is(&previous, &api) {
        return;
    }
    if let Ok(config) = js_sys::Reflect::get(&previous, &"config".into()) {
        if !config.is_undefined() {
            let _ = js_sys::Reflect::set(&api, &"config".into(), &config);
        }
    }
    PENDING.with(|p| *p.borrow_mut() = js_sys::Reflect::get(&previous, &"q".into()).ok());
    let _ = js_sys::Reflect::set(&w, &"ChatWidget".into(), &api);
}

thread_local! {
    static PENDING: RefCell<Option<JsValue>> = const { RefCell::new(None) };
}

/// Runs the calls queued before the bundle was ready, in order.
pub fn replay_queue() {
    let Some(queue) = PENDING.with(|p| p.borrow_mut().take()) else {
        return;
    };
    if let Some(array) = queue.dyn_ref::<js_sys::Array>() {
        for entry in array.iter() {
            queue_entry(&entry);
        }
    }
}
