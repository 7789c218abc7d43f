//! What a host page touches: reads the configuration, mounts the widget in a Shadow DOM under
//! its own host element, installs `window.ChatWidget`, replays queued calls and fires
//! `chatwidget:*` window events.

mod api;
mod events;
mod hints;
mod settings;

use crate::config::{self, BackendConfig, WidgetConfig};
use crate::core::demo::DemoBackend;
use crate::core::gms::GmsBackend;
use crate::core::push::PushBackend;
use crate::core::voxsig::VoxsigBackend;
use crate::core::{ChatBackend, ChatError, ChatEvent, VisitorProfile};
use crate::driver::{random_seed, BackendFactory, Controller, DriverOptions};
use crate::i18n::Locale;
use crate::state::Notice;
use crate::store::{Appearance, Store};
use leptos::prelude::*;
use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub use events::dispatch;

/// The tag of the host element; a custom element name so host-page `div`/`section` rules miss it.
pub const HOST_TAG: &str = "chat-widget-root";
/// The widget's stylesheet, placed inside the shadow root.
const STYLESHEET: &str = include_str!("../../style/widget.css");
/// The host element's own declarations, each set `!important` on its inline style: they beat
/// any host-page stylesheet, so `* { all: unset }` or `display: none` rules cannot hide or move
/// it. Set through CSSOM, which a strict `style-src` (no 'unsafe-inline') allows.
const HOST_STYLE: [(&str, &str); 14] = [
    ("all", "initial"),
    ("display", "block"),
    ("position", "fixed"),
    ("z-index", "2147483000"),
    ("right", "0"),
    ("bottom", "0"),
    ("width", "0"),
    ("height", "0"),
    ("visibility", "visible"),
    ("opacity", "1"),
    ("transform", "none"),
    ("filter", "none"),
    ("contain", "none"),
    ("overflow", "visible"),
];

struct Mounted {
    host: web_sys::Element,
    _view: Box<dyn Any>,
    controller: Controller,
    store: Store,
    listeners: Vec<hints::Listener>,
}

thread_local! {
    static MOUNTED: RefCell<Option<Mounted>> = const { RefCell::new(None) };
}

/// Runs when the wasm module loads: boots if the page asked for the widget (the loader or the
/// embed snippet defines `window.ChatWidget`; a page may also set `window.ChatWidgetSettings`).
#[wasm_bindgen(start)]
pub fn on_module_load() {
    console_error_panic_hook::set_once();
    let wanted = ["ChatWidget", "ChatWidgetSettings"].iter().any(|k| {
        js_sys::Reflect::get(&window(), &(*k).into())
            .is_ok_and(|v| !v.is_undefined() && !v.is_null())
    });
    if wanted {
        if let Err(e) = boot() {
            web_sys::console::error_2(&"chat widget: could not start".into(), &e);
        }
    }
}

/// Whether a widget is mounted now.
pub fn is_mounted() -> bool {
    MOUNTED.with(|m| m.borrow().is_some())
}

/// Mounts the widget (once; a second call while mounted does nothing) and replays queued calls.
pub fn boot() -> Result<(), JsValue> {
    if is_mounted() {
        return Ok(());
    }
    let raw = settings::read();
    let parsed = config::parse(&raw);
    let locale = parsed
        .as_ref()
        .ok()
        .and_then(|c| c.locale)
        .unwrap_or_else(settings::browser_locale);
    let appearance = match &parsed {
        Ok(c) => Appearance {
            title: c.title.clone(),
            left: c.position == config::Position::Left,
            accent_color: c.accent_color.clone(),
            demo: c.backend == BackendConfig::Demo,
        },
        Err(_) => Appearance::default(),
    };
    let store = Store::new(locale, appearance);
    let on_notice: Rc<dyn Fn(Notice)> = Rc::new(events::notify_host);
    let visitor = parsed
        .as_ref()
        .map(|c| c.visitor.clone())
        .unwrap_or_default();
    let options = match &parsed {
        Ok(c) => driver_options(c, on_notice),
        Err(_) => DriverOptions {
            factory: Rc::new(|_: Option<&str>| -> Box<dyn ChatBackend> { Box::new(Inert) }),
            storage_key: None,
            start_now: false,
            on_notice,
        },
    };
    let controller = Controller::new(options, store, visitor);

    let document = window().document().ok_or("no document")?;
    let host = document.create_element(HOST_TAG)?;
    let host_style = host.unchecked_ref::<web_sys::HtmlElement>().style();
    for (property, value) in HOST_STYLE {
        host_style.set_property_with_priority(property, value, "important")?;
    }
    host.set_attribute("data-chat-widget", "")?;
    let shadow =
        host.attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))?;
    adopt_stylesheet(&document, &shadow)?;
    let container: web_sys::HtmlElement = document.create_element("div")?.unchecked_into();
    container.set_class_name("cw-container");
    shadow.append_child(&container)?;
    document.body().ok_or("no body")?.append_child(&host)?;

    let ui_controller = controller.clone();
    let view = leptos::mount::mount_to(
        container,
        move || view! { <crate::ui::Widget store=store controller=ui_controller /> },
    );
    MOUNTED.with(|m| {
        *m.borrow_mut() = Some(Mounted {
            host,
            _view: Box::new(view),
            controller: controller.clone(),
            store,
            listeners: Vec::new(),
        })
    });

    let listeners = hints::listen(controller.clone());
    MOUNTED.with(|m| {
        if let Some(m) = m.borrow_mut().as_mut() {
            m.listeners = listeners;
        }
    });
    match &parsed {
        Ok(c) => {
            controller.boot();
            if c.open_on_load {
                set_open(true);
            }
        }
        Err(e) => controller.inject(ChatEvent::Error(ChatError::Config(e.to_string()))),
    }
    api::install();
    let backend_name = raw_backend_name(parsed.as_ref().ok());
    dispatch(
        "chatwidget:ready",
        &events::object(&[("backend", backend_name.into())]),
    );
    api::replay_queue();
    Ok(())
}

/// Gives the shadow root the widget's stylesheet as a constructed sheet (`adoptedStyleSheets`),
/// which a strict `style-src` allows; a `<style>` element with the same text would be blocked
/// without 'unsafe-inline'. Browsers without constructable sheets get the `<style>` element.
fn adopt_stylesheet(
    document: &web_sys::Document,
    shadow: &web_sys::ShadowRoot,
) -> Result<(), JsValue> {
    let constructed = web_sys::CssStyleSheet::new().and_then(|sheet| {
        sheet.replace_sync(STYLESHEET)?;
        shadow.set_adopted_style_sheets(&js_sys::Array::of1(&sheet));
        Ok(())
    });
    if constructed.is_err() {
        let style = document.create_element("style")?;
        style.set_text_content(Some(STYLESHEET));
        shadow.append_child(&style)?;
    }
    Ok(())
}

fn raw_backend_name(c: Option<&WidgetConfig>) -> &'static str {
    match c.map(|c| &c.backend) {
        Some(BackendConfig::Demo) => "demo",
        Some(BackendConfig::Voxsig(_)) => "voxsig",
        Some(BackendConfig::Gms(_)) => "gms",
        Some(BackendConfig::Push(_)) => "push",
        None => "none",
    }
}

/// A factory for a network backend and the localStorage key its session is saved under (one
/// per backend kind and the settings that identify a conversation place).
fn network<C: Clone + 'static, B: ChatBackend + 'static>(
    kind: &str,
    identity: [&str; 2],
    config: &C,
    new: fn(&C, u64, Option<&str>) -> B,
) -> (BackendFactory, Option<String>) {
    let key = format!("chat-widget:{kind}:{}:{}", identity[0], identity[1]);
    let config = config.clone();
    let factory: BackendFactory = Rc::new(move |snap: Option<&str>| -> Box<dyn ChatBackend> {
        Box::new(new(&config, random_seed(), snap))
    });
    (factory, Some(key))
}

/// How the driver builds and keeps the backend for a config.
fn driver_options(c: &WidgetConfig, on_notice: Rc<dyn Fn(Notice)>) -> DriverOptions {
    let (factory, storage_key): (BackendFactory, Option<String>) = match &c.backend {
        BackendConfig::Demo => (
            Rc::new(|_: Option<&str>| -> Box<dyn ChatBackend> { Box::new(DemoBackend::new(0)) }),
            None,
        ),
        BackendConfig::Voxsig(v) => network(
            "voxsig",
            [&v.base_url, &v.inbox_identifier],
            v,
            VoxsigBackend::new,
        ),
        BackendConfig::Gms(g) => network("gms", [&g.cometd_url, &g.service], g, GmsBackend::new),
        BackendConfig::Push(p) => network("push", [&p.host, &p.channel_uuid], p, PushBackend::new),
    };
    // The demo starts at once; a network backend waits for the visitor (first open or send)
    // unless a saved conversation is there to resume.
    DriverOptions {
        factory,
        storage_key,
        start_now: c.backend == BackendConfig::Demo,
        on_notice,
    }
}

/// Unmounts the widget and removes its host element; the page is left as it was.
pub fn destroy() {
    let mounted = MOUNTED.with(|m| m.borrow_mut().take());
    if let Some(m) = mounted {
        m.controller.shutdown();
        drop(m.listeners);
        drop(m._view);
        m.host.remove();
    }
}

fn with_mounted<R>(f: impl FnOnce(&Mounted) -> R) -> Option<R> {
    MOUNTED.with(|m| m.borrow().as_ref().map(f))
}

/// Opens or closes the window and tells the host page.
pub fn set_open(open: bool) {
    let Some((store, controller)) = with_mounted(|m| (m.store, m.controller.clone())) else {
        return;
    };
    if store.state.with_untracked(|s| s.is_open) == open {
        return;
    }
    store.state.update(|s| s.set_open(open));
    if open {
        controller.ensure_started();
        controller.mark_read();
    }
    dispatch(
        if open {
            "chatwidget:open"
        } else {
            "chatwidget:close"
        },
        &js_sys::Object::new(),
    );
}

/// Closes the window and puts focus back on the launcher, as a dialog should.
pub fn close_and_refocus() {
    set_open(false);
    let launcher = with_mounted(|m| {
        m.host
            .shadow_root()
            .and_then(|r| r.query_selector(".cw-launcher").ok().flatten())
    });
    if let Some(el) = launcher
        .flatten()
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = el.focus();
    }
}

/// Starts a fresh conversation with the same configuration.
pub fn start_new_conversation() {
    if let Some(controller) = with_mounted(|m| m.controller.clone()) {
        controller.start_new();
    }
}

/// Applies a backend event as if the running backend had produced it; the host page hears
/// about it the same way. For tests of the layers above the core (a restored or removed
/// message without a server); the JS API does not offer it.
pub fn apply_event(event: ChatEvent) {
    if let Some(c) = with_mounted(|m| m.controller.clone()) {
        c.inject(event);
    }
}

/// Sends a message as the visitor; returns its client id.
pub fn send_message(text: &str) -> Option<String> {
    with_mounted(|m| m.controller.clone())?.send(text)
}

/// Updates the visitor's name/email.
pub fn set_user(profile: VisitorProfile) {
    if let Some(c) = with_mounted(|m| m.controller.clone()) {
        c.set_visitor(profile);
    }
}

/// Switches the UI language.
pub fn set_locale(locale: Locale) {
    if let Some(store) = with_mounted(|m| m.store) {
        store.locale.set(locale);
    }
}

/// Whether the window is open.
pub fn is_open() -> bool {
    with_mounted(|m| m.store.state.with_untracked(|s| s.is_open)).unwrap_or(false)
}

/// Stands in when no backend can run (bad configuration): accepts commands, does nothing.
struct Inert;

impl ChatBackend for Inert {
    fn start(&mut self, _: u64) {}
    fn handle_open(&mut self, _: u64) {}
    fn handle_text(&mut self, _: &str, _: u64) {}
    fn handle_close(&mut self, _: u16, _: &str, _: u64) {}
    fn handle_http_response(&mut self, _: u64, _: u16, _: &str, _: u64) {}
    fn handle_timeout(&mut self, _: u64) {}
    fn handle_network_hint(&mut self, _: bool, _: u64) {}
    fn send_message(&mut self, _: &str, _: &str, _: u64) {}
    fn set_typing(&mut self, _: bool, _: u64) {}
    fn mark_read(&mut self, _: u64) {}
    fn set_visitor(&mut self, _: VisitorProfile, _: u64) {}
    fn end_chat(&mut self, _: u64) {}
    fn poll_socket(&mut self) -> Option<crate::core::SocketCommand> {
        None
    }
    fn poll_http(&mut self) -> Option<crate::core::HttpRequest> {
        None
    }
    fn poll_event(&mut self) -> Option<ChatEvent> {
        None
    }
    fn poll_timeout(&self) -> Option<u64> {
        None
    }
    fn snapshot(&self) -> String {
        "{}".into()
    }
}
