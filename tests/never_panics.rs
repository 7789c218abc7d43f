//! Property tests: random frames, truncated real frames, reordered sequences, random closes,
//! HTTP answers and clock jumps never make a backend panic, and it keeps producing bounded
//! output.
#![cfg(not(target_arch = "wasm32"))]

use chat_widget::config::{GmsConfig, PushConfig, VoxsigConfig};
use chat_widget::core::gms::GmsBackend;
use chat_widget::core::push::PushBackend;
use chat_widget::core::voxsig::VoxsigBackend;
use chat_widget::core::ChatBackend;
use proptest::prelude::*;

/// Real frame shapes of all three protocols, the raw material for mutation.
const SAMPLES: &[&str] = &[
    r#"{"type":"welcome"}"#,
    r#"{"type":"ping","message":1700000000}"#,
    r#"{"identifier":"{\"channel\":\"RoomChannel\",\"pubsub_token\":\"t\"}","type":"confirm_subscription"}"#,
    r#"{"identifier":"{\"channel\":\"RoomChannel\",\"pubsub_token\":\"t\"}","message":{"event":"message.created","data":{"id":5,"content":"hi","message_type":1,"created_at":1,"conversation_id":42,"sender":{"type":"user","name":"A"}}}}"#,
    r#"{"identifier":"{\"channel\":\"RoomChannel\",\"pubsub_token\":\"t\"}","message":{"event":"presence.update","data":{"users":{"1":"online"}}}}"#,
    r#"{"type":"disconnect","reason":"server_restart","reconnect":true}"#,
    r##"{"rid":1,"data":{"id":"x","pingTimeout":20000,"isAuthenticated":false}}"##,
    r##"{"rid":2,"error":"{\"urn\":\"u1\"}"}"##,
    r##"{"rid":3}"##,
    r##"{"event":"#publish","data":{"channel":"u1","data":{"to":"u1","text":"hey","quick_replies":["a","b"]}}}"##,
    r##"{"event":"#disconnect","data":{"code":4001}}"##,
    r##"{"event":"#kickOut","data":{"channel":"u1"}}"##,
    "#1",
    r#"[{"id":"1","channel":"/meta/handshake","clientId":"c","successful":true,"advice":{"reconnect":"retry","interval":0,"timeout":30000}}]"#,
    r#"[{"id":"2","channel":"/meta/connect","successful":true}]"#,
    r#"[{"channel":"/meta/connect","error":"402::Unknown client","successful":false,"advice":{"reconnect":"handshake"}}]"#,
    r#"[{"channel":"/service/chatV2/s","data":{"statusCode":0,"secureKey":"k","userId":"u","alias":"1","chatId":"c","messages":[{"index":1,"type":"Message","text":"x","from":{"type":"Agent"}}],"nextPosition":2}}]"#,
    r#"[{"channel":"/service/chatV2/s","data":{"statusCode":2,"errors":[{"advice":"no"}],"chatEnded":true}}]"#,
];

#[derive(Clone, Debug)]
enum Input {
    Frame(String),
    Open,
    Close(u16),
    Http(u64, u16, String),
    Advance(u64),
    Send(String),
    Typing(bool),
    End,
    Online,
}

fn frame() -> impl Strategy<Value = String> {
    let sample = prop::sample::select(SAMPLES.to_vec()).prop_map(str::to_string);
    prop_oneof![
        sample.clone(),
        // Truncated real frames.
        (sample.clone(), any::<prop::sample::Index>()).prop_map(|(s, i)| {
            let cut = i.index(s.len() + 1);
            let cut = (0..=cut)
                .rev()
                .find(|c| s.is_char_boundary(*c))
                .unwrap_or(0);
            s[..cut].to_string()
        }),
        // Batches of real frames in any order.
        prop::collection::vec(sample, 0..4).prop_map(|v| format!("[{}]", v.join(","))),
        any::<String>(),
        "[\\[\\]{}\":,0-9a-z#/ ]{0,40}",
    ]
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        6 => frame().prop_map(Input::Frame),
        1 => Just(Input::Open),
        1 => prop::sample::select(vec![1000u16, 1005, 1006, 4000, 4001, 4005, 4500]).prop_map(Input::Close),
        1 => (1u64..20, prop::sample::select(vec![0u16, 200, 404, 422, 503]), frame()).prop_map(|(i, s, b)| Input::Http(i, s, b)),
        2 => (0u64..70_000).prop_map(Input::Advance),
        1 => "[a-z ]{0,12}".prop_map(Input::Send),
        1 => any::<bool>().prop_map(Input::Typing),
        1 => Just(Input::End),
        1 => Just(Input::Online),
    ]
}

fn run(mut b: impl ChatBackend, inputs: Vec<Input>) {
    let mut now = 0u64;
    b.start(now);
    for (n, input) in inputs.into_iter().enumerate() {
        match input {
            Input::Frame(f) => b.handle_text(&f, now),
            Input::Open => b.handle_open(now),
            Input::Close(c) => b.handle_close(c, "", now),
            Input::Http(id, s, body) => b.handle_http_response(id, s, &body, now),
            Input::Advance(ms) => {
                now += ms;
                if b.poll_timeout().is_some_and(|t| t <= now) {
                    b.handle_timeout(now);
                }
            }
            Input::Send(t) => b.send_message(&format!("c{n}"), &t, now),
            Input::Typing(on) => b.set_typing(on, now),
            Input::End => b.end_chat(now),
            Input::Online => b.handle_network_hint(true, now),
        }
        let mut budget = 10_000;
        while b.poll_socket().is_some() || b.poll_http().is_some() || b.poll_event().is_some() {
            budget -= 1;
            assert!(budget > 0, "output never drains");
        }
        let _ = b.snapshot();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn push_never_panics(inputs in prop::collection::vec(input(), 0..40)) {
        let c = PushConfig { host: "wss://p.test".into(), channel_uuid: "u".into(), host_api: "https://a.test".into() };
        run(PushBackend::new(&c, 1, None), inputs);
    }

    #[test]
    fn gms_never_panics(inputs in prop::collection::vec(input(), 0..40)) {
        let c = GmsConfig { cometd_url: "https://g.test/cometd".into(), service: "s".into(), subject: None, user_data: None };
        run(GmsBackend::new(&c, 1, None), inputs);
    }

    #[test]
    fn voxsig_never_panics(inputs in prop::collection::vec(input(), 0..40)) {
        let c = VoxsigConfig { base_url: "https://v.test".into(), inbox_identifier: "i".into(), account_id: None, user_id: None, presence_interval_ms: 30_000 };
        let snap = r#"{"contact":{"source_id":"s","pubsub_token":"t"},"conversation_id":42,"outbox":{"items":[]}}"#;
        run(VoxsigBackend::new(&c, 1, Some(snap)), inputs);
    }

    #[test]
    fn snapshots_of_any_text_are_rejected_or_restored_without_panic(s in any::<String>()) {
        let c = PushConfig { host: "wss://p.test".into(), channel_uuid: "u".into(), host_api: "https://a.test".into() };
        let mut b = PushBackend::new(&c, 1, Some(&s));
        b.start(0);
    }
}
