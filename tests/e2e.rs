//! End to end in headless Chromium against the local reference backends (scripts/backends,
//! started by scripts/test): the widget is mounted through the host-page entry point and every
//! check is made on the DOM and on what the server says it received (control API).
#![cfg(target_arch = "wasm32")]

use chat_widget::embed;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{HtmlElement, ShadowRoot};

wasm_bindgen_test_configure!(run_in_browser);

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Voxsig,
    Gms,
    /// The GMS reference server through the widget's long-polling transport.
    GmsLongPolling,
    Push,
}

impl Backend {
    fn port(self) -> u16 {
        match self {
            Backend::Voxsig => 3101,
            Backend::Gms | Backend::GmsLongPolling => 3102,
            Backend::Push => 3103,
        }
    }

    fn settings(self) -> &'static str {
        match self {
            Backend::Voxsig => "{ backend: 'voxsig', locale: 'en', voxsigUrl: 'http://127.0.0.1:3101', voxsigInbox: 'demo-inbox' }",
            Backend::Gms => "{ backend: 'gms', locale: 'en', gmsUrl: 'http://127.0.0.1:3102/genesys/cometd', gmsService: 'customer-support' }",
            Backend::GmsLongPolling => "{ backend: 'gms', locale: 'en', gmsUrl: 'http://127.0.0.1:3102/genesys/cometd', gmsService: 'customer-support', gmsTransport: 'long-polling' }",
            Backend::Push => "{ backend: 'push', locale: 'en', pushHost: 'http://127.0.0.1:3103', pushChannelUuid: 'cf3d62bc', pushHostApi: 'https://new.push.al' }",
        }
    }

    /// The text field the server's received log uses.
    fn received_text(self) -> &'static str {
        match self {
            Backend::Voxsig => "content",
            Backend::Gms | Backend::GmsLongPolling | Backend::Push => "text",
        }
    }
}

async fn eval_async(js: &str) -> wasm_bindgen::JsValue {
    let promise: js_sys::Promise = js_sys::eval(js).expect("js").unchecked_into();
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .expect("promise")
}

async fn control(b: Backend, path: &str, body: &str) {
    eval_async(&format!(
        "fetch('http://127.0.0.1:{}/_control{path}', {{ method: 'POST', headers: {{'content-type': 'application/json'}}, body: JSON.stringify({body}) }}).then(r => r.text())",
        b.port()
    ))
    .await;
}

/// How many times the server received exactly `text`.
async fn received(b: Backend, text: &str) -> u32 {
    let js = format!(
        "fetch('http://127.0.0.1:{}/_control/received').then(r => r.json()).then(l => l.filter(x => x.{} === {}).length)",
        b.port(),
        b.received_text(),
        serde_json::to_string(text).unwrap()
    );
    eval_async(&js).await.as_f64().unwrap_or(-1.0) as u32
}

async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
    leptos::task::tick().await;
}

async fn wait_for(mut cond: impl FnMut() -> bool, ms: i32, what: &str) {
    for _ in 0..(ms / 50) {
        if cond() {
            return;
        }
        sleep(50).await;
    }
    panic!("timed out after {ms} ms waiting for {what}");
}

fn root() -> ShadowRoot {
    let doc = web_sys::window().unwrap().document().unwrap();
    doc.query_selector(embed::HOST_TAG)
        .unwrap()
        .expect("mounted")
        .shadow_root()
        .unwrap()
}

fn texts(selector: &str) -> Vec<String> {
    let list = root().query_selector_all(selector).unwrap();
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|n| n.text_content())
        .collect()
}

fn has(selector: &str) -> bool {
    root().query_selector(selector).unwrap().is_some()
}

fn count(texts: &[String], wanted: &str) -> usize {
    texts.iter().filter(|t| t.as_str() == wanted).count()
}

/// Boots the widget as a host page would; `fresh` forgets any saved session first.
async fn boot(b: Backend, fresh: bool) {
    embed::destroy();
    if fresh {
        js_sys::eval("localStorage.clear()").unwrap();
    }
    js_sys::eval(&format!(
        "window.ChatWidgetSettings = {}; window.ChatWidget = {{ q: [] }};",
        b.settings()
    ))
    .unwrap();
    embed::boot().expect("boot");
    leptos::task::tick().await;
}

fn unique(label: &str) -> String {
    format!(
        "{label} {}",
        js_sys::Math::random().to_bits() % 1_000_000_007
    )
}

async fn send(text: &str) {
    js_sys::eval(&format!(
        "ChatWidget.sendMessage({})",
        serde_json::to_string(text).unwrap()
    ))
    .unwrap();
    leptos::task::tick().await;
}

/// Opens a fresh conversation and waits for the agent's greeting.
async fn start_conversation(b: Backend) -> String {
    boot(b, true).await;
    js_sys::eval("ChatWidget.open()").unwrap();
    let first = unique("hello");
    send(&first).await;
    let reply = format!("You said: {first}");
    wait_for(
        || count(&texts(".cw-msg-agent .cw-bubble"), &reply) == 1,
        15_000,
        "the agent's reply",
    )
    .await;
    first
}

async fn conversation_happy_path(b: Backend) {
    let first = start_conversation(b).await;
    assert_eq!(
        received(b, &first).await,
        1,
        "the server received it exactly once"
    );
    assert_eq!(count(&texts(".cw-msg-visitor .cw-bubble"), &first), 1);
    if b == Backend::Push {
        // Only the newest message offers its quick replies, and tapping one sends it.
        assert_eq!(texts(".cw-quick-reply"), ["Yes", "No"]);
        let before = received(b, "Yes").await;
        let yes: HtmlElement = root()
            .query_selector(".cw-quick-reply")
            .unwrap()
            .unwrap()
            .unchecked_into();
        yes.click();
        wait_for(
            || count(&texts(".cw-msg-agent .cw-bubble"), "You said: Yes") == 1,
            15_000,
            "reply to a quick reply",
        )
        .await;
        assert_eq!(received(b, "Yes").await, before + 1, "sent exactly once");
        // Push has no presence event: the header claims none.
        assert!(texts(".cw-presence")
            .iter()
            .all(|t| !t.contains("Offline") && !t.contains("Online")));
    } else {
        // Push has neither typing nor presence events.
        control(b, "/agent/typing", "{on: true}").await;
        wait_for(|| has(".cw-typing"), 5_000, "agent typing").await;
        control(b, "/agent/say", "{text: 'typed this'}").await;
        wait_for(
            || count(&texts(".cw-msg-agent .cw-bubble"), "typed this") == 1,
            5_000,
            "message after typing",
        )
        .await;
        wait_for(
            || !has(".cw-typing"),
            5_000,
            "typing cleared by the message",
        )
        .await;
        let (status, label) = if b == Backend::Voxsig {
            ("away", "Away")
        } else {
            ("offline", "Offline")
        };
        control(b, "/agent/presence", &format!("{{status: '{status}'}}")).await;
        if b == Backend::Voxsig {
            // Voxsig sends presence.update in answer to update_presence: ask now.
            js_sys::eval("window.dispatchEvent(new Event('online'))").unwrap();
        }
        wait_for(
            || texts(".cw-presence").iter().any(|t| t.contains(label)),
            40_000,
            "presence in the header",
        )
        .await;
        control(b, "/agent/presence", "{status: 'online'}").await;
    }
    embed::destroy();
}

async fn messages_across_a_drop(b: Backend) {
    if b == Backend::Push {
        // The real Push server keeps nothing for a socket that is gone: see push_real_server.
        return push_real_server::twenty_across_a_drop().await;
    }
    start_conversation(b).await;
    control(b, "/drop", "{}").await;
    let n = if b == Backend::Voxsig { 25 } else { 20 };
    let burst: Vec<String> = (0..n).map(|i| format!("burst {i:02}")).collect();
    for text in &burst {
        control(b, "/agent/say", &format!("{{text: '{text}'}}")).await;
    }
    wait_for(
        || {
            let shown = texts(".cw-msg-agent .cw-bubble");
            burst.iter().all(|t| count(&shown, t) == 1)
        },
        40_000,
        "all of them after reconnect",
    )
    .await;
    let shown: Vec<String> = texts(".cw-msg-agent .cw-bubble")
        .into_iter()
        .filter(|t| t.starts_with("burst "))
        .collect();
    assert_eq!(shown, burst, "all, once each, in order");
    embed::destroy();
}

async fn five_messages_while_refused(b: Backend) {
    start_conversation(b).await;
    control(b, "/refuse", "{seconds: 4}").await;
    control(b, "/drop", "{}").await;
    sleep(300).await;
    let mine: Vec<String> = (0..5).map(|i| unique(&format!("offline {i}"))).collect();
    for text in &mine {
        send(text).await;
    }
    for text in &mine {
        let t = text.clone();
        let mut tries = 0;
        while received(b, &t).await == 0 {
            tries += 1;
            assert!(tries < 400, "{t} never reached the server");
            sleep(100).await;
        }
    }
    sleep(1_500).await;
    for text in &mine {
        assert_eq!(received(b, text).await, 1, "{text} arrived exactly once");
        assert_eq!(
            count(&texts(".cw-msg-visitor .cw-bubble"), text),
            1,
            "{text} shown once"
        );
    }
    wait_for(
        || !has(".cw-msg-visitor[data-status='pending']"),
        10_000,
        "no message left pending",
    )
    .await;
    embed::destroy();
}

async fn reload_resumes(b: Backend) {
    let first = start_conversation(b).await;
    let before = texts(".cw-bubble");
    // A reload: the page's widget goes away and boots again from the saved session.
    boot(b, false).await;
    js_sys::eval("ChatWidget.open()").unwrap();
    let reply = format!("You said: {first}");
    wait_for(
        || count(&texts(".cw-msg-agent .cw-bubble"), &reply) == 1,
        15_000,
        "the transcript after reload",
    )
    .await;
    sleep(500).await;
    let after = texts(".cw-bubble");
    for t in &before {
        assert_eq!(
            count(&after, t),
            count(&before, t),
            "\"{t}\" once after reload, as before"
        );
    }
    let second = unique("after reload");
    send(&second).await;
    wait_for(
        || {
            count(
                &texts(".cw-msg-agent .cw-bubble"),
                &format!("You said: {second}"),
            ) == 1
        },
        15_000,
        "same conversation answers",
    )
    .await;
    assert_eq!(received(b, &first).await, 1);
    embed::destroy();
}

async fn end_of_conversation(b: Backend) {
    start_conversation(b).await;
    if !matches!(b, Backend::Gms | Backend::GmsLongPolling) {
        // Push has no end event, and a Voxsig agent's resolve leaves the conversation open to
        // the visitor (writing reopens it): the visitor ends it.
        let button: HtmlElement = root()
            .query_selector(".cw-text-button")
            .unwrap()
            .expect("End chat")
            .unchecked_into();
        button.click();
    } else {
        control(b, "/agent/end", "{}").await;
    }
    wait_for(|| has(".cw-ended"), 10_000, "the ended state").await;
    assert!(!has(".cw-input"), "no composer once ended");
    let restart: HtmlElement = root()
        .query_selector(".cw-ended .cw-primary")
        .unwrap()
        .unwrap()
        .unchecked_into();
    restart.click();
    leptos::task::tick().await;
    assert!(has(".cw-input"), "a new conversation can start");
    let fresh = unique("new conversation");
    send(&fresh).await;
    wait_for(
        || {
            count(
                &texts(".cw-msg-agent .cw-bubble"),
                &format!("You said: {fresh}"),
            ) == 1
        },
        15_000,
        "reply in the new conversation",
    )
    .await;
    embed::destroy();
}

macro_rules! e2e {
    ($($name:ident => $backend:expr),* $(,)?) => {
        mod voxsig_gms_push {
            use super::*;
            $(
                #[wasm_bindgen_test]
                async fn $name() {
                    let (scenario, backend) = $backend;
                    match scenario {
                        "happy" => conversation_happy_path(backend).await,
                        "drop" => messages_across_a_drop(backend).await,
                        "refuse" => five_messages_while_refused(backend).await,
                        "reload" => reload_resumes(backend).await,
                        "end" => end_of_conversation(backend).await,
                        other => panic!("unknown scenario {other}"),
                    }
                }
            )*
        }
    };
}

e2e! {
    voxsig_conversation => ("happy", Backend::Voxsig),
    voxsig_twenty_five_across_drop => ("drop", Backend::Voxsig),
    voxsig_five_while_refused => ("refuse", Backend::Voxsig),
    voxsig_reload => ("reload", Backend::Voxsig),
    voxsig_end => ("end", Backend::Voxsig),
    gms_conversation => ("happy", Backend::Gms),
    gms_twenty_across_drop => ("drop", Backend::Gms),
    gms_five_while_refused => ("refuse", Backend::Gms),
    gms_reload => ("reload", Backend::Gms),
    gms_end => ("end", Backend::Gms),
    gms_long_polling_conversation => ("happy", Backend::GmsLongPolling),
    gms_long_polling_twenty_across_drop => ("drop", Backend::GmsLongPolling),
    gms_long_polling_five_while_refused => ("refuse", Backend::GmsLongPolling),
    gms_long_polling_reload => ("reload", Backend::GmsLongPolling),
    gms_long_polling_end => ("end", Backend::GmsLongPolling),
    push_conversation => ("happy", Backend::Push),
    push_twenty_across_drop => ("drop", Backend::Push),
    push_five_while_refused => ("refuse", Backend::Push),
    push_reload => ("reload", Backend::Push),
    push_end => ("end", Backend::Push),
}

/// Voxsig against the reference server behaving like real Chatwoot.
mod voxsig_real_chatwoot {
    use super::*;

    const B: Backend = Backend::Voxsig;

    async fn get_json(path: &str) -> wasm_bindgen::JsValue {
        eval_async(&format!(
            "fetch('http://127.0.0.1:3101/_control{path}').then(r => r.json())"
        ))
        .await
    }

    /// No visitor message still waiting to be confirmed.
    async fn settled() {
        wait_for(
            || !has(".cw-msg-visitor[data-status='pending']"),
            20_000,
            "no message left pending",
        )
        .await;
    }

    #[wasm_bindgen_test]
    async fn reload_with_a_send_in_flight_sends_it_once() {
        start_conversation(B).await;
        // The server stores the message but holds the answer; the page reloads meanwhile.
        control(
            B,
            "/fault/hang",
            "{count: 1, seconds: 3, match: 'POST /public', phase: 'after'}",
        )
        .await;
        let text = unique("in flight");
        send(&text).await;
        sleep(300).await;
        boot(B, false).await;
        js_sys::eval("ChatWidget.open()").unwrap();
        wait_for(
            || {
                count(
                    &texts(".cw-msg-agent .cw-bubble"),
                    &format!("You said: {text}"),
                ) == 1
            },
            20_000,
            "the reply to the message sent before the reload",
        )
        .await;
        settled().await;
        sleep(4_000).await; // Past the lookup's grace: nothing is sent again.
        assert_eq!(received(B, &text).await, 1, "stored once");
        assert_eq!(
            count(&texts(".cw-msg-visitor .cw-bubble"), &text),
            1,
            "shown once"
        );
        embed::destroy();
    }

    #[wasm_bindgen_test]
    async fn an_answer_lost_with_the_socket_down_is_found_not_resent() {
        start_conversation(B).await;
        // Cut after the headers: a browser resends a request whose connection closed before any
        // answer byte (see tests/backends/voxsig/rest.rb), which no client can prevent.
        control(
            B,
            "/fault/lose_answer",
            "{count: 1, match: 'POST /public', mode: 'truncate'}",
        )
        .await;
        control(B, "/drop", "{}").await;
        let text = unique("lost answer");
        send(&text).await;
        settled().await;
        sleep(5_000).await;
        assert_eq!(received(B, &text).await, 1, "stored once, not posted again");
        assert_eq!(
            count(&texts(".cw-msg-visitor .cw-bubble"), &text),
            1,
            "shown once"
        );
        embed::destroy();
    }

    #[wasm_bindgen_test]
    async fn a_burst_delivered_out_of_order_is_shown_in_server_order() {
        start_conversation(B).await;
        control(B, "/config", "{broadcast_jitter_ms: 1500}").await;
        control(B, "/agent/burst", "{n: 15, text: 'ordered'}").await;
        let expected: Vec<String> = (1..=15).map(|i| format!("ordered {i}/15")).collect();
        let mut shown = Vec::new();
        for _ in 0..300 {
            shown = texts(".cw-msg-agent .cw-bubble")
                .into_iter()
                .filter(|t| t.starts_with("ordered "))
                .collect();
            if shown.len() >= expected.len() {
                break;
            }
            sleep(100).await;
        }
        control(B, "/config", "{broadcast_jitter_ms: 50}").await;
        assert_eq!(shown, expected, "all, once, in server order");
        embed::destroy();
    }

    #[wasm_bindgen_test]
    async fn a_deleted_message_disappears() {
        start_conversation(B).await;
        let text = unique("to be deleted");
        control(
            B,
            "/agent/say",
            &format!("{{text: {}}}", serde_json::to_string(&text).unwrap()),
        )
        .await;
        wait_for(
            || count(&texts(".cw-msg-agent .cw-bubble"), &text) == 1,
            10_000,
            "the message",
        )
        .await;
        control(B, "/agent/delete_message", "{}").await;
        wait_for(
            || count(&texts(".cw-bubble"), &text) == 0,
            10_000,
            "the message gone",
        )
        .await;
        assert!(
            texts(".cw-bubble")
                .iter()
                .all(|t| !t.contains("This message was deleted")),
            "no placeholder text either"
        );
        embed::destroy();
    }

    #[wasm_bindgen_test]
    async fn messages_stay_in_server_order_and_unique_against_the_stored_transcript() {
        start_conversation(B).await;
        for i in 0..3 {
            send(&unique(&format!("check {i}"))).await;
            sleep(200).await;
        }
        settled().await;
        sleep(2_500).await;
        // The server's stored transcript (visible messages) is what the widget shows, in order.
        let stored = get_json("/conversations").await;
        let stored: serde_json::Value = serde_wasm_bindgen::from_value(stored).unwrap();
        let conversation = stored["conversations"]
            .as_array()
            .and_then(|c| c.last())
            .expect("a conversation")
            .clone();
        let server: Vec<String> = conversation["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["from"] == "visitor" || m["from"] == "agent")
            .filter(|m| m["kind"] == "text")
            .map(|m| m["text"].as_str().unwrap_or_default().to_string())
            .collect();
        let shown: Vec<String> = texts(".cw-msg-visitor .cw-bubble, .cw-msg-agent .cw-bubble");
        assert_eq!(
            shown, server,
            "the widget shows the server's transcript, once, in order"
        );
        embed::destroy();
    }

    /// The newest conversation's stored messages, as the server keeps them.
    async fn stored_messages() -> serde_json::Value {
        let all: serde_json::Value =
            serde_wasm_bindgen::from_value(get_json("/conversations").await).unwrap();
        let id = all["conversations"]
            .as_array()
            .and_then(|c| c.last())
            .map(|c| c["id"].clone())
            .expect("a conversation");
        serde_wasm_bindgen::from_value(get_json(&format!("/messages?conversation_id={id}")).await)
            .unwrap()
    }

    /// `submitted_values` of the newest stored message of this content type, once set.
    async fn submitted(content_type: &str) -> serde_json::Value {
        for _ in 0..100 {
            let stored = stored_messages().await;
            let found = stored
                .as_array()
                .into_iter()
                .flatten()
                .rev()
                .find(|m| m["content_type"] == content_type)
                .map(|m| m["content_attributes"]["submitted_values"].clone());
            if let Some(v) = found.filter(|v| !v.is_null()) {
                return v;
            }
            sleep(100).await;
        }
        panic!("no answer to the {content_type} message reached the server");
    }

    fn el(selector: &str) -> HtmlElement {
        root()
            .query_selector(selector)
            .unwrap()
            .unwrap_or_else(|| panic!("no {selector}"))
            .unchecked_into()
    }

    async fn fill(selector: &str, value: &str) {
        let e = el(selector);
        js_sys::Reflect::set(&e, &"value".into(), &value.into()).unwrap();
        e.dispatch_event(&web_sys::Event::new("input").unwrap())
            .unwrap();
        leptos::task::tick().await;
    }

    async fn rich(kind: &str, shown: &str) {
        control(B, "/agent/rich", &format!("{{kind: '{kind}'}}")).await;
        wait_for(|| has(shown), 10_000, kind).await;
    }

    #[wasm_bindgen_test]
    async fn bot_options_cards_forms_and_articles_are_answered() {
        start_conversation(B).await;
        // input_select: the choice goes back as submitted_values and stays shown as chosen.
        rich("input_select", ".cw-choices .cw-choice").await;
        let support = texts(".cw-choice")
            .iter()
            .position(|t| t == "Technical support")
            .expect("the option");
        let buttons = root().query_selector_all(".cw-choice").unwrap();
        buttons
            .item(support as u32)
            .unwrap()
            .unchecked_into::<HtmlElement>()
            .click();
        let v = submitted("input_select").await;
        assert_eq!(v[0]["value"], "support", "{v}");
        wait_for(
            || has(".cw-choices.cw-answered"),
            10_000,
            "the choice shown as made",
        )
        .await;

        // cards: links stay links; a postback is sent as the visitor's message, once.
        rich("cards", ".cw-card").await;
        let link = el(".cw-card a.cw-card-action");
        assert_eq!(
            link.get_attribute("href").as_deref(),
            Some("https://example.com/pricing")
        );
        assert_eq!(
            link.get_attribute("rel").as_deref(),
            Some("noopener noreferrer")
        );
        let postback = root()
            .query_selector_all(".cw-card button.cw-card-action")
            .unwrap();
        postback
            .item(0)
            .unwrap()
            .unchecked_into::<HtmlElement>()
            .click();
        leptos::task::tick().await;
        let mut tries = 0;
        while received(B, "Choose Starter").await == 0 {
            tries += 1;
            assert!(tries < 100, "the postback never reached the server");
            sleep(100).await;
        }

        // form: fields filled, the values stored and shown.
        rich("form", "form.cw-form").await;
        let inputs = root()
            .query_selector_all("form.cw-form .cw-field-input")
            .unwrap();
        assert_eq!(inputs.length(), 3);
        let values = ["lee@example.com", "A-1042", "The parcel never came"];
        for (i, value) in values.iter().enumerate() {
            let e: HtmlElement = inputs.item(i as u32).unwrap().unchecked_into();
            js_sys::Reflect::set(&e, &"value".into(), &(*value).into()).unwrap();
            e.dispatch_event(&web_sys::Event::new("input").unwrap())
                .unwrap();
        }
        leptos::task::tick().await;
        el("form.cw-form .cw-form-submit").click();
        let v = submitted("form").await;
        let stored: Vec<(String, String)> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["name"].as_str().unwrap().into(),
                    f["value"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(
            stored,
            [
                ("email", values[0]),
                ("order", values[1]),
                ("details", values[2])
            ]
            .map(|(a, b)| (a.to_string(), b.to_string())),
        );
        wait_for(
            || has(".cw-form.cw-answered .cw-form-values"),
            10_000,
            "the values shown",
        )
        .await;

        // input_email: one email field.
        rich(
            "input_email",
            "form.cw-form:not(.cw-answered) input[type='email']",
        )
        .await;
        fill(
            "form.cw-form:not(.cw-answered) input[type='email']",
            "sam@example.com",
        )
        .await;
        el("form.cw-form:not(.cw-answered) .cw-form-submit").click();
        let v = submitted("input_email").await;
        assert_eq!(v[0]["value"], "sam@example.com", "{v}");

        // article: links to the help centre.
        rich("article", ".cw-articles a").await;
        let hrefs: Vec<String> = {
            let links = root().query_selector_all(".cw-articles a").unwrap();
            (0..links.length())
                .filter_map(|i| links.item(i))
                .filter_map(|n| n.unchecked_into::<web_sys::Element>().get_attribute("href"))
                .collect()
        };
        assert_eq!(
            hrefs,
            [
                "https://example.com/help/reset",
                "https://example.com/help/billing"
            ]
        );
        embed::destroy();
    }

    #[wasm_bindgen_test]
    async fn csat_after_a_resolve_is_answered_then_writing_reopens() {
        start_conversation(B).await;
        // The agent resolves; the inbox has CSAT on, so the survey follows.
        rich("csat", "form.cw-rating").await;
        wait_for(|| has(".cw-resolved"), 10_000, "resolved shown").await;
        assert!(!has(".cw-ended"), "resolved is not ended");
        el(".cw-rating input[value='5']").click();
        leptos::task::tick().await;
        fill(".cw-rating-comment", "Very helpful").await;
        el(".cw-rating .cw-form-submit").click();
        let v = submitted("input_csat").await;
        assert_eq!(v["csat_survey_response"]["rating"], 5, "{v}");
        assert_eq!(
            v["csat_survey_response"]["feedback_message"],
            "Very helpful"
        );
        wait_for(|| has(".cw-rating-thanks"), 10_000, "thanks").await;
        // Writing again reopens the conversation on the server and the agent answers.
        let text = unique("after resolve");
        send(&text).await;
        wait_for(
            || {
                count(
                    &texts(".cw-msg-agent .cw-bubble"),
                    &format!("You said: {text}"),
                ) == 1
            },
            15_000,
            "the answer in the reopened conversation",
        )
        .await;
        wait_for(|| !has(".cw-resolved"), 10_000, "no longer shown resolved").await;
        let all: serde_json::Value =
            serde_wasm_bindgen::from_value(get_json("/conversations").await).unwrap();
        let status = all["conversations"]
            .as_array()
            .and_then(|c| c.last())
            .unwrap()["status"]
            .clone();
        assert_eq!(status, "open", "reopened on the server");
        assert_eq!(received(B, &text).await, 1);
        embed::destroy();
    }
}

/// GMS against the reference server configured like deployments the widget's authors did not
/// write: WebSocket refused by a proxy, `statusCode` 2, expired sessions, the same text twice.
mod gms_real_deployments {
    use super::*;

    const B: Backend = Backend::Gms;

    async fn config(body: &str) {
        control(B, "/reset", "{}").await;
        control(B, "/config", body).await;
    }

    fn click(selector: &str) {
        let el: HtmlElement = root()
            .query_selector(selector)
            .unwrap()
            .unwrap_or_else(|| panic!("{selector} is shown"))
            .unchecked_into();
        el.click();
    }

    async fn reply_to(text: &str) {
        let reply = format!("You said: {text}");
        wait_for(
            || count(&texts(".cw-msg-agent .cw-bubble"), &reply) == 1,
            20_000,
            "the agent's reply",
        )
        .await;
    }

    #[wasm_bindgen_test]
    async fn websocket_refused_by_a_proxy_falls_back_to_long_polling() {
        config("{websocket: false}").await;
        let first = start_conversation(B).await;
        assert_eq!(received(B, &first).await, 1);
        let second = unique("over http");
        send(&second).await;
        reply_to(&second).await;
        assert_eq!(received(B, &second).await, 1);
        embed::destroy();
        control(B, "/reset", "{}").await;
    }

    #[wasm_bindgen_test]
    async fn long_polling_against_cometd_that_tracks_sessions_by_cookie() {
        // CometD >= 3.0.6 finds a long-polling session by its BAYEUX_BROWSER cookie.
        config("{websocket: false, browser_cookie: true}").await;
        let first = start_conversation(B).await;
        assert_eq!(received(B, &first).await, 1);
        let second = unique("with cookie");
        send(&second).await;
        reply_to(&second).await;
        assert_eq!(received(B, &second).await, 1);
        embed::destroy();
        control(B, "/reset", "{}").await;
    }

    #[wasm_bindgen_test]
    async fn status_code_2_mid_chat_ends_it_and_the_message_can_be_resent_in_a_new_one() {
        config("{}").await;
        start_conversation(B).await;
        control(B, "/fault/status", "{operation: 'sendMessage', code: 2}").await;
        let lost = unique("refused");
        send(&lost).await;
        wait_for(|| has(".cw-ended"), 10_000, "the ended state").await;
        wait_for(
            || has(".cw-msg[data-status='failed'] .cw-retry"),
            5_000,
            "the message shown not sent, with Retry",
        )
        .await;
        assert!(!has(".cw-input"), "no composer in the dead chat");
        assert!(
            texts(".cw-presence").iter().all(|t| !t.ends_with("Online")),
            "the header no longer claims an agent online: {:?}",
            texts(".cw-presence")
        );
        assert_eq!(received(B, &lost).await, 0);
        click(".cw-ended .cw-primary");
        leptos::task::tick().await;
        click(".cw-retry");
        reply_to(&lost).await;
        assert_eq!(received(B, &lost).await, 1, "sent once, in the new chat");
        embed::destroy();
    }

    #[wasm_bindgen_test]
    async fn an_expired_session_after_a_reload_starts_afresh() {
        config("{}").await;
        start_conversation(B).await;
        embed::destroy();
        control(B, "/fault/expire", "{}").await;
        boot(B, false).await;
        js_sys::eval("ChatWidget.open()").unwrap();
        wait_for(|| has(".cw-ended"), 15_000, "the ended state").await;
        click(".cw-ended .cw-primary");
        leptos::task::tick().await;
        let fresh = unique("after expiry");
        send(&fresh).await;
        reply_to(&fresh).await;
        assert_eq!(received(B, &fresh).await, 1);
        embed::destroy();
    }

    #[wasm_bindgen_test]
    async fn the_same_text_across_a_reload_is_sent_twice_not_matched_to_the_first() {
        config("{normalize: true}").await;
        let ok = unique("ok");
        boot(B, true).await;
        js_sys::eval("ChatWidget.open()").unwrap();
        // Trailing spaces: the server stores it trimmed, which must not matter.
        send(&format!("{ok}  ")).await;
        reply_to(&ok).await;
        boot(B, false).await;
        js_sys::eval("ChatWidget.open()").unwrap();
        send(&ok).await;
        wait_for(
            || {
                count(
                    &texts(".cw-msg-agent .cw-bubble"),
                    &format!("You said: {ok}"),
                ) == 2
            },
            20_000,
            "the second reply",
        )
        .await;
        assert_eq!(received(B, &ok).await, 2, "both sent, once each");
        sleep(1_000).await;
        assert!(
            !has(".cw-msg[data-status='pending']"),
            "nothing left pending"
        );
        embed::destroy();
        control(B, "/reset", "{}").await;
    }

    #[wasm_bindgen_test]
    async fn a_lost_request_chat_answer_is_asked_again() {
        config("{}").await;
        control(B, "/fault/lose_answer", "{operation: 'requestChat'}").await;
        boot(B, true).await;
        js_sys::eval("ChatWidget.open()").unwrap();
        let first = unique("first");
        send(&first).await;
        // No answer within 20 s: requestChat again; the message goes to the chat that answered.
        let reply = format!("You said: {first}");
        wait_for(
            || count(&texts(".cw-msg-agent .cw-bubble"), &reply) == 1,
            40_000,
            "the agent's reply",
        )
        .await;
        assert_eq!(received(B, &first).await, 1);
        embed::destroy();
    }

    #[wasm_bindgen_test]
    async fn status_code_1_is_retried_and_the_message_arrives_once() {
        config("{}").await;
        start_conversation(B).await;
        control(
            B,
            "/fault/status",
            "{operation: 'sendMessage', code: 1, times: 2}",
        )
        .await;
        let later = unique("retried");
        send(&later).await;
        reply_to(&later).await;
        assert_eq!(received(B, &later).await, 1);
        embed::destroy();
    }
}

/// Push against the reference server behaving like the SocketCluster-era Push server: no
/// acknowledgements, no ids it knows, no mailbox; flags for what later servers do.
mod push_real_server {
    use super::*;

    const B: Backend = Backend::Push;

    async fn config(body: &str) {
        control(B, "/reset", "{}").await;
        control(B, "/config", body).await;
    }

    async fn get_json(path: &str) -> serde_json::Value {
        let v = eval_async(&format!(
            "fetch('http://127.0.0.1:3103/_control{path}').then(r => r.text())"
        ))
        .await;
        serde_json::from_str(&v.as_string().unwrap_or_default()).unwrap_or_default()
    }

    async fn reply_to(text: &str) {
        let reply = format!("You said: {text}");
        wait_for(
            || count(&texts(".cw-msg-agent .cw-bubble"), &reply) == 1,
            20_000,
            "the agent's reply",
        )
        .await;
    }

    async fn sent_once(text: &str) {
        reply_to(text).await;
        assert_eq!(received(B, text).await, 1, "{text} reached the server once");
        // A server that answers nothing is learned within 5 s, then a frame confirms.
        wait_for(
            || !has(".cw-msg-visitor[data-status='pending']"),
            15_000,
            "shown sent, not pending",
        )
        .await;
    }

    /// Twenty agent messages right after a drop: those published before the widget has
    /// subscribed again are gone on the real server. Every one that was delivered is shown
    /// once and in order, and the visitor is told that some may be missing.
    pub async fn twenty_across_a_drop() {
        config("{}").await;
        start_conversation(B).await;
        control(B, "/drop", "{}").await;
        let burst: Vec<String> = (0..20).map(|i| unique(&format!("burst {i:02}"))).collect();
        for text in &burst {
            control(B, "/agent/say", &format!("{{text: '{text}'}}")).await;
        }
        sleep(3_000).await;
        let published = get_json("/published").await;
        let delivered: Vec<String> =
            burst
                .iter()
                .filter(|t| {
                    published.as_array().into_iter().flatten().any(|p| {
                        p["text"] == t.as_str() && p["subscribers"].as_u64().unwrap_or(0) > 0
                    })
                })
                .cloned()
                .collect();
        let lost = burst.len() - delivered.len();
        let shown: Vec<String> = texts(".cw-msg-agent .cw-bubble")
            .into_iter()
            .filter(|t| burst.contains(t))
            .collect();
        assert_eq!(shown, delivered, "each delivered one once, in order");
        if lost > 0 {
            wait_for(
                || has(".cw-missed"),
                8_000,
                "the notice that replies may be missing",
            )
            .await;
        }
        embed::destroy();
    }

    #[wasm_bindgen_test]
    async fn with_history_the_gap_after_a_drop_is_filled() {
        config("{history: true}").await;
        start_conversation(B).await;
        control(B, "/drop", "{}").await;
        let burst: Vec<String> = (0..10).map(|i| unique(&format!("kept {i:02}"))).collect();
        for text in &burst {
            control(B, "/agent/say", &format!("{{text: '{text}'}}")).await;
        }
        wait_for(
            || {
                let shown = texts(".cw-msg-agent .cw-bubble");
                burst.iter().all(|t| count(&shown, t) == 1)
            },
            15_000,
            "all of them, from history",
        )
        .await;
        embed::destroy();
        control(B, "/reset", "{}").await;
    }

    #[wasm_bindgen_test]
    async fn acknowledged_sends_and_unanswered_subscribe() {
        for flags in [
            "{ack: true}",
            "{subscribe_answer: false}",
            "{both_paths: true}",
        ] {
            config(flags).await;
            start_conversation(B).await;
            let text = unique("flags");
            send(&text).await;
            sent_once(&text).await;
            assert_eq!(
                count(
                    &texts(".cw-msg-agent .cw-bubble"),
                    &format!("You said: {text}")
                ),
                1,
                "{flags}: the reply once"
            );
            embed::destroy();
        }
        control(B, "/reset", "{}").await;
    }

    #[wasm_bindgen_test]
    async fn a_long_agent_message_arrives_in_parts_all_shown() {
        config("{split_length: 160}").await;
        start_conversation(B).await;
        let words: Vec<String> = (0..80).map(|i| format!("word{i}")).collect();
        let long = words.join(" ");
        control(B, "/agent/say", &format!("{{text: '{long}'}}")).await;
        wait_for(
            || {
                texts(".cw-msg-agent .cw-bubble")
                    .iter()
                    .any(|t| t.contains("word79"))
            },
            10_000,
            "the last part",
        )
        .await;
        let joined = texts(".cw-msg-agent .cw-bubble")
            .into_iter()
            .filter(|t| t.contains("word"))
            .collect::<Vec<_>>()
            .join(" ");
        for w in &words {
            assert_eq!(
                joined.matches(&format!("{w} ")).count()
                    + usize::from(joined.ends_with(w.as_str())),
                1,
                "{w} once"
            );
        }
        embed::destroy();
        control(B, "/reset", "{}").await;
    }

    #[wasm_bindgen_test]
    async fn reload_one_second_after_sending_sends_it_once() {
        config("{}").await;
        start_conversation(B).await;
        let text = unique("reload soon");
        send(&text).await;
        sleep(1_000).await;
        boot(B, false).await;
        js_sys::eval("ChatWidget.open()").unwrap();
        sent_once(&text).await;
        embed::destroy();
    }

    #[wasm_bindgen_test]
    async fn drop_one_and_a_half_seconds_after_sending_sends_it_once() {
        config("{}").await;
        start_conversation(B).await;
        let text = unique("drop soon");
        send(&text).await;
        sleep(1_500).await;
        control(B, "/drop", "{}").await;
        sent_once(&text).await;
        embed::destroy();
    }

    #[wasm_bindgen_test]
    async fn a_restart_that_forgets_sessions_is_survived() {
        config("{set_auth_token: true, unknown_urn: 'accept'}").await;
        start_conversation(B).await;
        control(B, "/restart", "{forget: true}").await;
        sleep(1_500).await;
        let text = unique("after restart");
        send(&text).await;
        sent_once(&text).await;
        embed::destroy();
        control(B, "/reset", "{}").await;
    }
}
