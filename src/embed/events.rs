//! `chatwidget:*` window events for the host page.

use crate::state::Notice;
use leptos::prelude::window;
use wasm_bindgen::JsValue;

/// Builds a plain JS object from key/value pairs.
pub fn object(pairs: &[(&str, JsValue)]) -> js_sys::Object {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        let _ = js_sys::Reflect::set(&o, &(*k).into(), v);
    }
    o
}

/// Fires a `CustomEvent` named `name` on `window` with `detail`.
pub fn dispatch(name: &str, detail: &JsValue) {
    let init = web_sys::CustomEventInit::new();
    init.set_detail(detail);
    if let Ok(event) = web_sys::CustomEvent::new_with_event_init_dict(name, &init) {
        let _ = window().dispatch_event(&event);
    }
}

fn to_js<T: serde::Serialize>(value: &T) -> JsValue {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::NULL)
}

/// Tells the host page about an incoming message or an error.
pub fn notify_host(notice: Notice) {
    match notice {
        Notice::IncomingMessage(m) => dispatch("chatwidget:message", &to_js(&m)),
        Notice::Error(e) => {
            // Built by hand: the documented `{ kind, detail }` shape, not serde's enum encoding.
            let error = object(&[("kind", e.kind().into()), ("detail", e.detail().into())]);
            let detail = object(&[("error", error.into()), ("message", e.to_string().into())]);
            web_sys::console::warn_2(&"chat widget:".into(), &e.to_string().into());
            dispatch("chatwidget:error", &detail);
        }
    }
}
