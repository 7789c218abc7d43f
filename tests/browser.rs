//! Browser tests: mount the widget the way a host page does (settings on `window`, then the
//! same boot entry point), click and type in the real DOM inside the shadow root, and assert.
#![cfg(target_arch = "wasm32")]

use chat_widget::embed;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, ShadowRoot};

wasm_bindgen_test_configure!(run_in_browser);

fn window() -> web_sys::Window {
    web_sys::window().expect("window")
}

fn document() -> web_sys::Document {
    window().document().expect("document")
}

async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .expect("timer");
    });
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .expect("sleep");
    leptos::task::tick().await;
}

/// Sets the page up as a host page would, then boots through the public entry point.
async fn mount(settings: &str, queue: &str) -> ShadowRoot {
    embed::destroy();
    let setup =
        format!("window.ChatWidgetSettings = {settings}; window.ChatWidget = {{ q: {queue} }};");
    js_sys::eval(&setup).expect("settings");
    embed::boot().expect("boot");
    leptos::task::tick().await;
    root()
}

fn root() -> ShadowRoot {
    document()
        .query_selector(embed::HOST_TAG)
        .unwrap()
        .expect("host element")
        .shadow_root()
        .expect("open shadow root")
}

fn find(root: &ShadowRoot, selector: &str) -> Option<Element> {
    root.query_selector(selector).unwrap()
}

fn get(root: &ShadowRoot, selector: &str) -> HtmlElement {
    find(root, selector)
        .unwrap_or_else(|| panic!("no {selector}"))
        .dyn_into()
        .unwrap()
}

fn all_text(root: &ShadowRoot, selector: &str) -> Vec<String> {
    let list = root.query_selector_all(selector).unwrap();
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|n| n.text_content())
        .collect()
}

fn window_open(root: &ShadowRoot) -> bool {
    !get(root, ".cw-window").has_attribute("hidden")
}

async fn type_and_press_enter(root: &ShadowRoot, text: &str, shift: bool) {
    let input: web_sys::HtmlTextAreaElement = get(root, ".cw-input").unchecked_into();
    input.set_value(text);
    input
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    leptos::task::tick().await;
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Enter");
    init.set_shift_key(shift);
    init.set_bubbles(true);
    init.set_cancelable(true);
    let ev = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    input.dispatch_event(&ev).unwrap();
    leptos::task::tick().await;
}

async fn wait_for(mut cond: impl FnMut() -> bool, what: &str) {
    for _ in 0..100 {
        if cond() {
            return;
        }
        sleep(50).await;
    }
    panic!("timed out waiting for {what}");
}

#[wasm_bindgen_test]
async fn opens_types_sends_and_gets_a_reply() {
    let root = mount("{ backend: 'demo', locale: 'en' }", "[]").await;
    assert!(!window_open(&root));
    get(&root, ".cw-launcher").click();
    leptos::task::tick().await;
    assert!(window_open(&root));
    assert_eq!(
        get(&root, ".cw-launcher")
            .get_attribute("aria-expanded")
            .as_deref(),
        Some("true")
    );

    assert!(
        find(&root, ".cw-empty").is_some(),
        "an empty conversation says hello"
    );
    wait_for(
        || all_text(&root, ".cw-msg-agent .cw-bubble").len() == 1,
        "greeting",
    )
    .await;
    assert!(
        find(&root, ".cw-empty").is_none(),
        "the welcome line goes once there are messages"
    );
    type_and_press_enter(&root, "hello there", false).await;
    let visitor = all_text(&root, ".cw-msg-visitor .cw-bubble");
    assert_eq!(visitor, ["hello there"]);
    let input: web_sys::HtmlTextAreaElement = get(&root, ".cw-input").unchecked_into();
    assert_eq!(input.value(), "", "composer cleared after send");
    wait_for(
        || find(&root, ".cw-msg-visitor[data-status='read']").is_some(),
        "read receipt",
    )
    .await;
    wait_for(
        || {
            all_text(&root, ".cw-msg-agent .cw-bubble")
                .iter()
                .any(|t| t.contains("hello there"))
        },
        "reply",
    )
    .await;
    assert!(
        find(&root, ".cw-typing").is_none(),
        "typing cleared by the reply"
    );
    embed::destroy();
}

#[wasm_bindgen_test]
async fn shift_enter_does_not_send() {
    let root = mount("{ backend: 'demo' }", "[['open']]").await;
    type_and_press_enter(&root, "line one", true).await;
    assert!(all_text(&root, ".cw-msg-visitor").is_empty());
    embed::destroy();
}

#[wasm_bindgen_test]
async fn replays_calls_queued_before_load_in_order() {
    let root = mount(
        "{ backend: 'demo' }",
        "[['open'], ['sendMessage', 'queued hi'], ['close'], ['open']]",
    )
    .await;
    assert!(window_open(&root));
    assert_eq!(all_text(&root, ".cw-msg-visitor .cw-bubble"), ["queued hi"]);
    // After load, q.push runs at once.
    js_sys::eval("ChatWidget.q.push(['close'])").unwrap();
    leptos::task::tick().await;
    assert!(!window_open(&root));
    embed::destroy();
}

#[wasm_bindgen_test]
async fn js_api_methods_and_events() {
    js_sys::eval(
        "window.__cw = []; ['ready','open','close','message','error'].forEach(n => \
         window.addEventListener('chatwidget:' + n, e => window.__cw.push(n)));",
    )
    .unwrap();
    let root = mount("{ backend: 'demo' }", "[]").await;
    js_sys::eval(
        "ChatWidget.open(); ChatWidget.setUser({name: 'Lee'}); ChatWidget.sendMessage('hi')",
    )
    .unwrap();
    leptos::task::tick().await;
    assert!(window_open(&root));
    wait_for(
        || {
            all_text(&root, ".cw-msg-agent .cw-bubble")
                .iter()
                .any(|t| t.contains("Thanks Lee!"))
        },
        "reply with name",
    )
    .await;
    js_sys::eval("ChatWidget.toggle()").unwrap();
    leptos::task::tick().await;
    assert!(!window_open(&root));
    let seen: Vec<String> = js_sys::Array::from(&js_sys::eval("window.__cw").unwrap())
        .iter()
        .filter_map(|v| v.as_string())
        .collect();
    for name in ["ready", "open", "message", "close"] {
        assert!(
            seen.iter().any(|s| s == name),
            "missing chatwidget:{name} in {seen:?}"
        );
    }
    embed::destroy();
}

#[wasm_bindgen_test]
async fn unread_badge_counts_messages_while_closed() {
    let root = mount("{ backend: 'demo' }", "[]").await;
    wait_for(|| find(&root, ".cw-badge").is_some(), "badge").await;
    assert_eq!(get(&root, ".cw-badge").text_content().as_deref(), Some("1"));
    get(&root, ".cw-launcher").click();
    leptos::task::tick().await;
    assert!(find(&root, ".cw-badge").is_none());
    embed::destroy();
}

#[wasm_bindgen_test]
async fn hostile_host_stylesheet_does_not_hide_the_launcher() {
    let style = document().create_element("style").unwrap();
    style.set_text_content(Some(
        "* { all: unset !important; } div, chat-widget-root, [data-chat-widget] { display: none !important; \
         visibility: hidden !important; opacity: 0 !important; transform: scale(0) !important; } \
         button { display: none !important; }",
    ));
    document().head().unwrap().append_child(&style).unwrap();
    let root = mount("{ backend: 'demo' }", "[]").await;
    let launcher = get(&root, ".cw-launcher");
    let rect = launcher.get_bounding_client_rect();
    assert!(
        rect.width() >= 40.0 && rect.height() >= 40.0,
        "launcher is {}x{}",
        rect.width(),
        rect.height()
    );
    let vw = window().inner_width().unwrap().as_f64().unwrap();
    let vh = window().inner_height().unwrap().as_f64().unwrap();
    assert!(
        rect.right() <= vw && rect.bottom() <= vh && rect.left() >= 0.0,
        "launcher on screen"
    );
    let css = window().get_computed_style(&launcher).unwrap().unwrap();
    assert_eq!(css.get_property_value("visibility").unwrap(), "visible");
    assert_ne!(css.get_property_value("display").unwrap(), "none");
    // And our styles do not leak out: a host-page button keeps the page's rules.
    let b = document().create_element("button").unwrap();
    document().body().unwrap().append_child(&b).unwrap();
    let page_css = window().get_computed_style(&b).unwrap().unwrap();
    assert_eq!(page_css.get_property_value("display").unwrap(), "none");
    b.remove();
    style.remove();
    embed::destroy();
}

#[wasm_bindgen_test]
async fn destroy_leaves_no_nodes_behind() {
    embed::destroy();
    let before = document().body().unwrap().child_element_count();
    let head_before = document().head().unwrap().child_element_count();
    let _ = mount("{ backend: 'demo' }", "[['open']]").await;
    assert!(document()
        .query_selector(embed::HOST_TAG)
        .unwrap()
        .is_some());
    js_sys::eval("ChatWidget.destroy()").unwrap();
    leptos::task::tick().await;
    assert!(document()
        .query_selector(embed::HOST_TAG)
        .unwrap()
        .is_none());
    assert_eq!(document().body().unwrap().child_element_count(), before);
    assert_eq!(
        document().head().unwrap().child_element_count(),
        head_before
    );
    // Calls after destroy are ignored, not thrown.
    js_sys::eval("ChatWidget.open()").unwrap();
    assert!(!embed::is_mounted());
}

#[wasm_bindgen_test]
async fn escape_closes_and_returns_focus_to_launcher() {
    let root = mount("{ backend: 'demo' }", "[]").await;
    get(&root, ".cw-launcher").click();
    sleep(50).await;
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Escape");
    init.set_bubbles(true);
    let ev = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    get(&root, ".cw-input").dispatch_event(&ev).unwrap();
    leptos::task::tick().await;
    assert!(!window_open(&root));
    let active = root.active_element().expect("focus inside widget");
    assert!(active.class_list().contains("cw-launcher"));
    embed::destroy();
}

#[wasm_bindgen_test]
async fn message_text_is_never_html() {
    let root = mount("{ backend: 'demo' }", "[['open']]").await;
    js_sys::eval("ChatWidget.sendMessage('<img src=x onerror=\"window.__pwned=1\"><b>bold</b>')")
        .unwrap();
    leptos::task::tick().await;
    let bubble = get(&root, ".cw-msg-visitor .cw-bubble");
    assert!(bubble.query_selector("img, b").unwrap().is_none());
    assert!(bubble.text_content().unwrap().contains("<b>bold</b>"));
    embed::destroy();
}

#[wasm_bindgen_test]
async fn missing_backend_shows_a_specific_error_and_fires_an_event() {
    js_sys::eval("window.__cwErr = null; window.addEventListener('chatwidget:error', e => window.__cwErr = e.detail.message, {once: true});").unwrap();
    let root = mount("{ locale: 'en' }", "[['open']]").await;
    let banner = get(&root, ".cw-banner-error").text_content().unwrap();
    assert!(
        banner.contains("backend"),
        "banner says which setting: {banner}"
    );
    let input: web_sys::HtmlTextAreaElement = get(&root, ".cw-input").unchecked_into();
    assert!(input.disabled());
    let detail = js_sys::eval("window.__cwErr")
        .unwrap()
        .as_string()
        .unwrap_or_default();
    assert!(detail.contains("backend"), "event detail: {detail}");
    embed::destroy();
}

#[wasm_bindgen_test]
async fn set_locale_switches_to_chinese() {
    let root = mount(
        "{ backend: 'demo', locale: 'en' }",
        "[['open'], ['setLocale', 'zh-CN']]",
    )
    .await;
    let input = get(&root, ".cw-input");
    assert_eq!(
        input.get_attribute("placeholder").as_deref(),
        Some("输入消息…")
    );
    assert_eq!(
        get(&root, ".cw").get_attribute("lang").as_deref(),
        Some("zh-CN")
    );
    embed::destroy();
}

#[wasm_bindgen_test]
async fn ending_the_chat_offers_a_new_conversation() {
    let root = mount("{ backend: 'demo' }", "[['open']]").await;
    wait_for(
        || find(&root, ".cw-text-button").is_some() || !all_text(&root, ".cw-msg-agent").is_empty(),
        "greeting",
    )
    .await;
    js_sys::eval("ChatWidget.sendMessage('bye')").unwrap();
    wait_for(|| find(&root, ".cw-ended").is_some(), "ended panel").await;
    assert!(find(&root, ".cw-input").is_none());
    get(&root, ".cw-ended .cw-primary").click();
    leptos::task::tick().await;
    assert!(find(&root, ".cw-input").is_some());
    assert!(
        all_text(&root, ".cw-msg-visitor").is_empty(),
        "fresh conversation"
    );
    embed::destroy();
}
