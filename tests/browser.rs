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

/// Waits for the next animation frame, and for what it set off: the log draws the changes
/// after its first in a frame at the next one.
async fn next_frame() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        window()
            .request_animation_frame(&resolve)
            .expect("animation frame");
    });
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .expect("frame");
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
    next_frame().await;
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
    next_frame().await;
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
    next_frame().await;
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
    next_frame().await;
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
    next_frame().await;
    assert!(find(&root, ".cw-input").is_some());
    assert!(
        all_text(&root, ".cw-msg-visitor").is_empty(),
        "fresh conversation"
    );
    embed::destroy();
}

// ---- Rich content, answered through the demo backend ----

use chat_widget::core::{
    Author, Card, CardAction, ChatEvent, ChatMessage, ConversationStatus, DeliveryStatus,
    RichContent, Role,
};

/// Mounts the demo, opens it and waits for Ana's greeting.
async fn open_demo() -> ShadowRoot {
    let root = mount("{ backend: 'demo', locale: 'en' }", "[['open']]").await;
    wait_for(
        || all_text(&root, ".cw-msg-agent .cw-bubble").len() == 1,
        "greeting",
    )
    .await;
    root
}

/// Sends `text` and waits until Ana has answered with rich content matching `selector`.
async fn ask(root: &ShadowRoot, text: &str, selector: &str) {
    type_and_press_enter(root, text, false).await;
    wait_for(|| find(root, selector).is_some(), selector).await;
}

fn count(root: &ShadowRoot, selector: &str) -> u32 {
    root.query_selector_all(selector).unwrap().length()
}

/// The `value` of an input or textarea.
fn value_of(el: &Element) -> String {
    js_sys::Reflect::get(el, &"value".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

fn disabled(root: &ShadowRoot, selector: &str) -> bool {
    get(root, selector).has_attribute("disabled")
}

async fn fill(root: &ShadowRoot, selector: &str, value: &str) {
    let el = find(root, selector).unwrap_or_else(|| panic!("no {selector}"));
    js_sys::Reflect::set(&el, &"value".into(), &value.into()).unwrap();
    el.dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    leptos::task::tick().await;
}

fn agent_said(root: &ShadowRoot, part: &str) -> bool {
    all_text(root, ".cw-msg-agent .cw-bubble")
        .iter()
        .any(|t| t.contains(part))
}

#[wasm_bindgen_test]
async fn options_are_buttons_and_the_chosen_one_stays() {
    let root = open_demo().await;
    ask(&root, "menu", ".cw-choices[role='group'] .cw-choice").await;
    assert_eq!(
        all_text(&root, ".cw-choice"),
        ["Pricing", "Technical support", "Talk to sales"]
    );
    let buttons = root.query_selector_all(".cw-choice").unwrap();
    buttons
        .item(1)
        .unwrap()
        .unchecked_into::<HtmlElement>()
        .click();
    next_frame().await;
    // On its way: shown as chosen, the others locked, a second click ignored.
    assert_eq!(
        all_text(&root, ".cw-choice.cw-chosen"),
        ["Technical support"]
    );
    assert_eq!(count(&root, ".cw-choice[aria-disabled='true']"), 3);
    assert!(find(&root, ".cw-rich-status").is_some(), "shown as sending");
    buttons
        .item(2)
        .unwrap()
        .unchecked_into::<HtmlElement>()
        .click();
    next_frame().await;
    assert_eq!(
        all_text(&root, ".cw-choice.cw-chosen"),
        ["Technical support"]
    );
    // Stored: only the answer stays, and Ana follows up.
    wait_for(
        || find(&root, ".cw-choices.cw-answered").is_some(),
        "answered",
    )
    .await;
    assert_eq!(all_text(&root, ".cw-choice"), ["✓ Technical support"]);
    assert!(find(&root, ".cw-rich-status").is_none());
    wait_for(|| agent_said(&root, "problem"), "follow-up").await;
    embed::destroy();
}

#[wasm_bindgen_test]
async fn cards_link_out_safely_and_postbacks_send_a_message() {
    let root = open_demo().await;
    ask(&root, "cards", ".cw-card").await;
    assert_eq!(count(&root, ".cw-card"), 2);
    assert_eq!(all_text(&root, ".cw-card-title"), ["Starter", "Team"]);
    let link = get(&root, "a.cw-card-action");
    assert!(link
        .get_attribute("href")
        .unwrap()
        .starts_with("https://example.com/"));
    assert_eq!(link.get_attribute("target").as_deref(), Some("_blank"));
    assert_eq!(
        link.get_attribute("rel").as_deref(),
        Some("noopener noreferrer")
    );
    get(&root, "button.cw-card-action").click();
    next_frame().await;
    assert_eq!(
        all_text(&root, ".cw-msg-visitor .cw-bubble"),
        ["cards", "Choose Starter"]
    );
    embed::destroy();
}

#[wasm_bindgen_test]
async fn card_images_are_http_only_and_text_is_never_html() {
    let root = open_demo().await;
    let card = |media: &str, link: &str| Card {
        media_url: Some(media.into()),
        title: "<b>bold</b>".into(),
        description: "<img src=x onerror=alert(1)>".into(),
        actions: vec![CardAction::Link {
            text: "Open".into(),
            url: link.into(),
        }],
    };
    embed::apply_event(ChatEvent::MessageAdded(ChatMessage {
        id: "cards-1".into(),
        client_id: None,
        author: Author::new(Role::Bot),
        text: String::new(),
        sent_at: js_sys::Date::now() as i64,
        seq: None,
        status: DeliveryStatus::Sent,
        quick_replies: vec![],
        attachments: vec![],
        rich: Some(RichContent::Cards {
            cards: vec![
                card("https://cdn.example.com/a.png", "https://example.com/a"),
                card("javascript:alert(1)", "javascript:alert(1)"),
            ],
        }),
    }));
    next_frame().await;
    assert_eq!(count(&root, ".cw-card"), 2);
    assert_eq!(count(&root, ".cw-card-media"), 1, "only the http(s) image");
    assert_eq!(
        get(&root, ".cw-card-media").get_attribute("src").as_deref(),
        Some("https://cdn.example.com/a.png")
    );
    assert_eq!(count(&root, "a.cw-card-action"), 1, "only the http(s) link");
    assert_eq!(count(&root, ".cw-card b, .cw-card-body img"), 0);
    assert_eq!(
        all_text(&root, ".cw-card-title"),
        ["<b>bold</b>", "<b>bold</b>"]
    );
    embed::destroy();
}

#[wasm_bindgen_test]
async fn a_form_checks_required_fields_and_emails_then_shows_what_was_sent() {
    let root = open_demo().await;
    ask(&root, "form", "form.cw-form").await;
    assert_eq!(
        all_text(&root, ".cw-field-label"),
        ["Name *", "Email *", "Message"]
    );
    let name_id = get(&root, ".cw-field-input").id();
    assert_eq!(
        get(&root, ".cw-field-label")
            .get_attribute("for")
            .as_deref(),
        Some(name_id.as_str()),
        "labels point at their inputs"
    );
    get(&root, ".cw-form-submit").click();
    next_frame().await;
    assert_eq!(count(&root, ".cw-field-error"), 2, "both required fields");
    assert_eq!(count(&root, "[aria-invalid='true']"), 2);
    fill(&root, "input[name='name']", "Lee").await;
    fill(&root, "input[name='email']", "lee@").await;
    assert_eq!(count(&root, ".cw-field-error"), 1, "the name is fixed");
    get(&root, ".cw-form-submit").click();
    next_frame().await;
    assert_eq!(
        all_text(&root, ".cw-field-error"),
        ["Please enter a valid email address."]
    );
    assert!(agent_said(&root, "details"), "nothing sent yet");
    fill(&root, "input[name='email']", "lee@example.com").await;
    fill(&root, "textarea[name='message']", "Call me <maybe>").await;
    get(&root, ".cw-form-submit").click();
    next_frame().await;
    assert!(find(&root, "form.cw-form").is_none(), "no second submit");
    assert!(find(&root, ".cw-form.cw-sending").is_some());
    wait_for(
        || find(&root, ".cw-form.cw-answered:not(.cw-sending)").is_some(),
        "stored",
    )
    .await;
    assert_eq!(
        all_text(&root, ".cw-form-value dd"),
        ["Lee", "lee@example.com", "Call me <maybe>"]
    );
    wait_for(|| agent_said(&root, "Thanks Lee!"), "follow-up").await;
    embed::destroy();
}

#[wasm_bindgen_test]
async fn a_refused_answer_can_be_sent_again() {
    let root = open_demo().await;
    ask(&root, "email", "form.cw-form").await;
    fill(&root, "input[name='email']", "lee@example.invalid").await;
    get(&root, ".cw-form-submit").click();
    next_frame().await;
    assert!(find(&root, ".cw-rich-status").is_some(), "sending");
    wait_for(|| find(&root, ".cw-rich-error").is_some(), "refused").await;
    assert_eq!(
        value_of(&get(&root, "input[name='email']")),
        "lee@example.invalid",
        "what was typed stays"
    );
    assert!(!disabled(&root, ".cw-form-submit"));
    fill(&root, "input[name='email']", "lee@example.com").await;
    get(&root, ".cw-form-submit").click();
    wait_for(
        || find(&root, ".cw-form.cw-answered:not(.cw-sending)").is_some(),
        "stored the second time",
    )
    .await;
    assert!(find(&root, ".cw-rich-error").is_none());
    embed::destroy();
}

#[wasm_bindgen_test]
async fn articles_are_links_that_open_in_a_new_tab() {
    let root = open_demo().await;
    ask(&root, "articles", ".cw-articles").await;
    let links = root.query_selector_all("a.cw-article").unwrap();
    assert_eq!(links.length(), 3);
    for i in 0..links.length() {
        let a: Element = links.item(i).unwrap().unchecked_into();
        assert!(a.get_attribute("href").unwrap().starts_with("https://"));
        assert_eq!(a.get_attribute("target").as_deref(), Some("_blank"));
        assert_eq!(
            a.get_attribute("rel").as_deref(),
            Some("noopener noreferrer")
        );
    }
    assert!(all_text(&root, ".cw-article-title").contains(&"Getting started".to_string()));
    embed::destroy();
}

#[wasm_bindgen_test]
async fn rating_after_resolve_then_writing_reopens() {
    let root = open_demo().await;
    ask(&root, "rate", ".cw-resolved").await;
    // Resolved is not over: the composer stays, no "start a new conversation".
    assert!(find(&root, ".cw-ended").is_none());
    let input: web_sys::HtmlTextAreaElement = get(&root, ".cw-input").unchecked_into();
    assert!(!input.disabled());
    assert!(
        find(&root, ".cw-header .cw-text-button").is_none(),
        "no end button"
    );
    wait_for(|| find(&root, "form.cw-rating").is_some(), "survey").await;
    let submit = ".cw-rating .cw-form-submit";
    assert!(disabled(&root, submit), "nothing picked yet");
    assert_eq!(count(&root, ".cw-rating input[type='radio']"), 5);
    get(&root, ".cw-rating input[value='4']").click();
    next_frame().await;
    assert!(!disabled(&root, submit));
    assert_eq!(
        get(&root, ".cw-rating-level").text_content().as_deref(),
        Some("Satisfied")
    );
    fill(&root, ".cw-rating-comment", "Quick and kind").await;
    get(&root, submit).click();
    next_frame().await;
    assert!(find(&root, "form.cw-rating").is_none(), "no second submit");
    wait_for(|| find(&root, ".cw-rating-thanks").is_some(), "thanks").await;
    assert_eq!(
        get(&root, ".cw-rating-label").text_content().as_deref(),
        Some("Satisfied")
    );
    assert_eq!(
        get(&root, ".cw-rating-feedback").text_content().as_deref(),
        Some("Quick and kind")
    );
    type_and_press_enter(&root, "one more question", false).await;
    leptos::task::tick().await;
    assert!(find(&root, ".cw-resolved").is_none(), "writing reopened it");
    embed::destroy();
}

#[wasm_bindgen_test]
async fn resolved_is_writable_but_ended_is_not() {
    let root = open_demo().await;
    embed::apply_event(ChatEvent::ConversationStatusChanged(
        ConversationStatus::Resolved,
    ));
    next_frame().await;
    assert!(find(&root, ".cw-resolved").is_some());
    assert!(find(&root, ".cw-ended").is_none());
    type_and_press_enter(&root, "still there?", false).await;
    assert_eq!(
        all_text(&root, ".cw-msg-visitor .cw-bubble"),
        ["still there?"]
    );
    embed::apply_event(ChatEvent::ConversationStatusChanged(
        ConversationStatus::Ended,
    ));
    next_frame().await;
    assert!(find(&root, ".cw-ended").is_some());
    assert!(find(&root, ".cw-input").is_none());
    embed::destroy();
}

#[wasm_bindgen_test]
async fn a_removed_message_disappears() {
    let root = open_demo().await;
    assert!(agent_said(&root, "I'm Ana"));
    embed::apply_event(ChatEvent::MessageRemoved("demo-1".into()));
    next_frame().await;
    assert!(!agent_said(&root, "I'm Ana"), "the greeting is gone");
    embed::destroy();
}

#[wasm_bindgen_test]
async fn a_restored_message_is_shown_but_not_unread_or_announced() {
    js_sys::eval(
        "window.__cwMsgs = []; window.addEventListener('chatwidget:message', \
         e => window.__cwMsgs.push(e.detail.id));",
    )
    .unwrap();
    let root = mount("{ backend: 'demo', locale: 'en' }", "[]").await;
    wait_for(
        || find(&root, ".cw-badge").is_some(),
        "greeting while closed",
    )
    .await;
    embed::apply_event(ChatEvent::MessageRestored(ChatMessage {
        id: "old-1".into(),
        client_id: None,
        author: Author::named(Role::Agent, "Ana"),
        text: "from before the reload".into(),
        sent_at: js_sys::Date::now() as i64 - 60_000,
        seq: None,
        status: DeliveryStatus::Sent,
        quick_replies: vec![],
        attachments: vec![],
        rich: None,
    }));
    next_frame().await;
    assert!(agent_said(&root, "from before the reload"), "shown");
    assert_eq!(
        get(&root, ".cw-badge").text_content().as_deref(),
        Some("1"),
        "only the greeting is unread"
    );
    let announced: Vec<String> = js_sys::Array::from(&js_sys::eval("window.__cwMsgs").unwrap())
        .iter()
        .filter_map(|v| v.as_string())
        .collect();
    assert!(
        !announced.contains(&"old-1".to_string()),
        "no chatwidget:message for it: {announced:?}"
    );
    embed::destroy();
}

fn agent_message(id: &str, text: &str) -> ChatMessage {
    ChatMessage {
        id: id.into(),
        client_id: None,
        author: Author::named(Role::Agent, "Ana"),
        text: text.into(),
        sent_at: js_sys::Date::now() as i64,
        seq: None,
        status: DeliveryStatus::Sent,
        quick_replies: vec![],
        attachments: vec![],
        rich: None,
    }
}

#[wasm_bindgen_test]
async fn a_reader_who_scrolled_up_stays_put_when_messages_come() {
    let root = open_demo().await;
    for i in 0..40 {
        embed::apply_event(ChatEvent::MessageAdded(agent_message(
            &format!("many-{i}"),
            &format!("message {i} of many"),
        )));
    }
    next_frame().await;
    next_frame().await;
    assert!(
        agent_said(&root, "message 39 of many"),
        "a burst is drawn by the next frame"
    );
    let log = get(&root, ".cw-log");
    assert!(
        log.scroll_height() > log.client_height() + 400,
        "the log scrolls"
    );
    assert!(
        log.scroll_top() + log.client_height() >= log.scroll_height() - 2,
        "pinned to the bottom while reading there"
    );
    log.set_scroll_top(200);
    log.dispatch_event(&web_sys::Event::new("scroll").unwrap())
        .unwrap();
    next_frame().await;
    assert!(
        find(&root, ".cw-jump").is_some(),
        "scrolled up: the jump button"
    );
    embed::apply_event(ChatEvent::MessageAdded(agent_message("later", "one more")));
    for _ in 0..3 {
        next_frame().await;
    }
    assert!(agent_said(&root, "one more"));
    assert_eq!(log.scroll_top(), 200, "the view stays where the reader is");
    assert!(find(&root, ".cw-jump").is_some(), "and offers the way down");
    get(&root, ".cw-jump").click();
    next_frame().await;
    assert!(
        log.scroll_top() + log.client_height() >= log.scroll_height() - 2,
        "the jump button goes to the newest"
    );
    embed::destroy();
}
