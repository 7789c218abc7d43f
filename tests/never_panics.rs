//! Property tests: random frames, truncated real frames, reordered sequences, random closes,
//! HTTP answers and clock jumps never make a backend panic, and whatever they do:
//! - a message the visitor sent is never silently dropped: it is confirmed (an event carries its
//!   client id), reported failed (`SendFailed`), or still waiting in the snapshot's outbox;
//! - timers that fired settle: within a few rounds the next deadline is later than now;
//! - one input produces a bounded amount of output (no storm of frames or requests).
#![cfg(not(target_arch = "wasm32"))]

use chat_widget::config::{GmsConfig, PushConfig, VoxsigConfig};
use chat_widget::core::gms::GmsBackend;
use chat_widget::core::push::PushBackend;
use chat_widget::core::voxsig::VoxsigBackend;
use chat_widget::core::{ChatBackend, ChatError, ChatEvent, DeliveryStatus};
use proptest::prelude::*;
use std::collections::HashSet;

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
        // The driver sends only non-empty, trimmed text.
        1 => "[a-z][a-z ]{0,10}[a-z]".prop_map(Input::Send),
        1 => any::<bool>().prop_map(Input::Typing),
        1 => Just(Input::End),
        1 => Just(Input::Online),
    ]
}

/// Outputs one input may cause at most (a batch of frames can carry several messages).
const OUTPUT_PER_INPUT: usize = 200;

fn run(mut b: impl ChatBackend, inputs: Vec<Input>) {
    let mut now = 0u64;
    let mut sent: Vec<String> = Vec::new();
    let mut accounted: HashSet<String> = HashSet::new();
    b.start(now);
    for (n, input) in inputs.into_iter().enumerate() {
        match input {
            Input::Frame(f) => b.handle_text(&f, now),
            Input::Open => b.handle_open(now),
            Input::Close(c) => b.handle_close(c, "", now),
            Input::Http(id, s, body) => b.handle_http_response(id, s, &body, now),
            Input::Advance(ms) => {
                now += ms;
                // A timer may set another for "now" (reconnect at once), but it must settle.
                let mut rounds = 0;
                while b.poll_timeout().is_some_and(|t| t <= now) {
                    b.handle_timeout(now);
                    rounds += 1;
                    assert!(rounds <= 5, "timers keep firing at the same instant");
                }
            }
            Input::Send(t) => {
                let id = format!("c{n}");
                b.send_message(&id, &t, now);
                sent.push(id);
            }
            Input::Typing(on) => b.set_typing(on, now),
            Input::End => b.end_chat(now),
            Input::Online => b.handle_network_hint(true, now),
        }
        let mut outputs = 0;
        while b.poll_socket().is_some() || b.poll_http().is_some() {
            outputs += 1;
        }
        while let Some(e) = b.poll_event() {
            outputs += 1;
            match e {
                ChatEvent::MessageAdded(m) | ChatEvent::MessageUpdated(m)
                    if m.status >= DeliveryStatus::Sent =>
                {
                    accounted.extend(m.client_id);
                }
                ChatEvent::Error(ChatError::SendFailed(id)) => {
                    accounted.insert(id);
                }
                _ => {}
            }
        }
        assert!(
            outputs <= OUTPUT_PER_INPUT,
            "{outputs} outputs for one input"
        );
    }
    let snapshot = b.snapshot();
    for id in sent {
        assert!(
            accounted.contains(&id) || snapshot.contains(&format!("\"{id}\"")),
            "message {id} was neither confirmed, failed nor kept: {snapshot}"
        );
    }
}

/// 300 cases per backend in `scripts/test`; `PROPTEST_CASES=100000` for a long run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn push_never_panics(inputs in prop::collection::vec(input(), 0..40)) {
        let c = PushConfig { host: "wss://p.test".into(), channel_uuid: "u".into(), host_api: "https://a.test".into(), session_id: None, init_payload: None };
        run(PushBackend::new(&c, 1, None), inputs);
    }

    #[test]
    fn gms_never_panics(inputs in prop::collection::vec(input(), 0..40)) {
        let c = GmsConfig { cometd_url: "https://g.test/cometd".into(), service: "s".into(), subject: None, user_data: None, transport: Default::default(), restore_timeout_ms: 60_000 };
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
        let c = PushConfig { host: "wss://p.test".into(), channel_uuid: "u".into(), host_api: "https://a.test".into(), session_id: None, init_payload: None };
        let mut b = PushBackend::new(&c, 1, Some(&s));
        b.start(0);
    }
}
