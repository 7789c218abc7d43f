//! The browser side of the core's I/O: one WebSocket at a time, fetch, and localStorage.
//! Events from a socket the core has replaced or closed are dropped by generation number.

use crate::core::{HttpMethod, HttpRequest};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// What a socket tells its owner; the `u64` is the socket's generation.
pub enum SocketSignal {
    /// Opened.
    Open(u64),
    /// A text frame.
    Text(u64, String),
    /// Closed or failed (code, reason).
    Closed(u64, u16, String),
}

/// The current WebSocket and the closures attached to it.
pub struct LiveSocket {
    ws: WebSocket,
    generation: u64,
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl LiveSocket {
    /// Opens a socket; `signal` hears everything it does.
    pub fn open(
        url: &str,
        protocols: &[String],
        generation: u64,
        signal: impl Fn(SocketSignal) + Clone + 'static,
    ) -> Result<Self, JsValue> {
        let list = js_sys::Array::new();
        for p in protocols {
            list.push(&JsValue::from_str(p));
        }
        let ws = WebSocket::new_with_str_sequence(url, &list)?;
        ws.set_binary_type(web_sys::BinaryType::Arraybuffer);
        let on_open = {
            let signal = signal.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_| signal(SocketSignal::Open(generation)))
        };
        let on_message = {
            let signal = signal.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
                let Ok(e) = e.dyn_into::<MessageEvent>() else {
                    return;
                };
                match e.data().as_string() {
                    Some(text) => signal(SocketSignal::Text(generation, text)),
                    None => web_sys::console::warn_1(&"chat widget: binary frame ignored".into()),
                }
            })
        };
        let on_close = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let (code, reason) = e
                .dyn_into::<CloseEvent>()
                .map(|c| (c.code(), c.reason()))
                .unwrap_or((1006, String::new()));
            signal(SocketSignal::Closed(generation, code, reason));
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(LiveSocket {
            ws,
            generation,
            _handlers: vec![on_open, on_message, on_close],
        })
    }

    /// This socket's generation.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Sends a text frame; false if the socket is not open.
    pub fn send(&self, text: &str) -> bool {
        self.ws.ready_state() == WebSocket::OPEN && self.ws.send_with_str(text).is_ok()
    }

    /// Detaches the handlers and closes; the core already considers it gone.
    pub fn close(self, code: u16, reason: &str) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        // Browsers only allow 1000 and 3000–4999 from scripts.
        let code = if code == 1000 || (3000..5000).contains(&code) {
            code
        } else {
            1000
        };
        let _ = self.ws.close_with_code_and_reason(code, reason);
    }
}

/// Makes an HTTP request; resolves to (status, body), status 0 for a network error or when
/// the request (headers and body) takes longer than `req.timeout` ms: it is then aborted, so
/// one hung request never holds up what the core queued behind it.
pub async fn fetch(req: &HttpRequest) -> (u16, String) {
    let abort = web_sys::AbortController::new().ok();
    let deadline = abort.clone().and_then(|controller| {
        leptos::prelude::set_timeout_with_handle(
            move || controller.abort(),
            std::time::Duration::from_millis(req.timeout),
        )
        .ok()
    });
    let result = fetch_with(req, abort.as_ref().map(|a| a.signal())).await;
    if let Some(timer) = deadline {
        timer.clear();
    }
    result
}

async fn fetch_with(req: &HttpRequest, signal: Option<web_sys::AbortSignal>) -> (u16, String) {
    use gloo_net::http::Request;
    let builder = match req.method {
        HttpMethod::Get => Request::get(&req.url),
        HttpMethod::Post => Request::post(&req.url),
        HttpMethod::Patch => Request::patch(&req.url),
    }
    .abort_signal(signal.as_ref());
    let builder = if req.with_credentials {
        builder.credentials(web_sys::RequestCredentials::Include)
    } else {
        builder
    };
    let request = match &req.body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(body.as_str()),
        None => builder.build(),
    };
    let response = match request {
        Ok(r) => r.send().await,
        Err(e) => return (0, e.to_string()),
    };
    match response {
        // A body that cannot be read in full (the connection cut after the headers, or the
        // deadline passed while reading it) is no answer: report it as a network error, never
        // as a success without a body.
        Ok(r) => match r.text().await {
            Ok(body) => (r.status(), body),
            Err(e) => (0, e.to_string()),
        },
        Err(e) => (0, e.to_string()),
    }
}

/// Reads a value from localStorage (None when storage is unavailable, e.g. blocked cookies).
pub fn load(key: &str) -> Option<String> {
    web_sys::window()?
        .local_storage()
        .ok()??
        .get_item(key)
        .ok()?
}

/// Writes a value to localStorage; failures (quota, privacy mode) only cost resumability.
pub fn store(key: &str, value: &str) {
    if let Some(s) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        if s.set_item(key, value).is_err() {
            web_sys::console::warn_1(
                &"chat widget: could not save the session (storage full or blocked)".into(),
            );
        }
    }
}

/// Removes a value from localStorage.
pub fn remove(key: &str) {
    if let Some(s) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = s.remove_item(key);
    }
}
