//! Push (SocketCluster v9) transcripts: frames in, exact frames and events out. Frame shapes
//! are the ones recorded against socketcluster-server 9.1.3 in the protocol notes.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use chat_widget::config::PushConfig;
use chat_widget::core::push::PushBackend;
use chat_widget::core::{ChatBackend, ChatEvent, ConnectionState, DeliveryStatus, Role};
use common::{json, Peer};
use serde_json::json as j;

const URN: &str = "c24be8c2-764a-4945-97b3-9886c62c28b9";

fn config() -> PushConfig {
    PushConfig {
        host: "https://socket.push.test".into(),
        channel_uuid: "cf3d62bc-5cab-4561-a96b-3abed4e5be44".into(),
        host_api: "https://new.push.al".into(),
    }
}

/// Connects, handshakes, registers Push-style (urn in `error`) and subscribes.
fn ready() -> Peer<PushBackend> {
    let mut p = Peer::new(PushBackend::new(&config(), 7, None));
    p.start();
    p.open();
    p.recv(r##"{"rid":1,"data":{"id":"F6g9SrQBpR-oiyzmAAAA","pingTimeout":20000,"isAuthenticated":false}}"##);
    p.recv(&format!(r##"{{"rid":2,"error":"{{\"urn\":\"{URN}\"}}"}}"##));
    p.recv(r##"{"rid":3}"##);
    p.take_frames();
    p.take_events();
    p
}

fn agent_publish(text: &str) -> String {
    j!({"event":"#publish","data":{"channel":URN,"data":{"to":URN,"from":"agent","text":text,"quick_replies":["Yes","No"]}}}).to_string()
}

#[test]
fn happy_path_handshake_register_subscribe_send_receive() {
    let mut p = Peer::new(PushBackend::new(&config(), 7, None));
    p.start();
    assert_eq!(
        p.opens,
        ["wss://socket.push.test/socketcluster/?channelUUID=cf3d62bc-5cab-4561-a96b-3abed4e5be44&hostApi=https%3A%2F%2Fnew.push.al"]
    );
    p.open();
    assert_eq!(
        p.take_frames(),
        [r##"{"cid":1,"data":{"authToken":null},"event":"#handshake"}"##]
    );
    p.recv(r##"{"rid":1,"data":{"id":"F6g9SrQBpR-oiyzmAAAA","pingTimeout":20000,"isAuthenticated":false}}"##);
    assert_eq!(
        json(&p.take_frames()[0]),
        j!({"event":"registerUser","data":{},"cid":2})
    );
    p.recv(&format!(r##"{{"rid":2,"error":"{{\"urn\":\"{URN}\"}}"}}"##));
    assert_eq!(
        json(&p.take_frames()[0]),
        j!({"event":"#subscribe","data":{"channel":URN},"cid":3})
    );
    assert_ne!(
        p.last_connection(),
        Some(ConnectionState::Online),
        "not online before the subscription is confirmed"
    );
    p.recv(r##"{"rid":3}"##);
    assert_eq!(p.last_connection(), Some(ConnectionState::Online));
    p.take_events();

    p.backend.send_message("c-1", "Hello", p.now);
    p.drain();
    assert_eq!(
        json(&p.take_frames()[0]),
        j!({"event":"sendMessageToChannel","data":{"text":"Hello","userUrn":URN,"clientId":"c-1"},"cid":4})
    );
    p.recv(r##"{"rid":4,"data":"success"}"##);
    p.recv(&agent_publish("Echo: Hello"));
    let events = p.take_events();
    assert!(
        matches!(&events[0], ChatEvent::MessageUpdated(m) if m.client_id.as_deref() == Some("c-1") && m.status == DeliveryStatus::Sent)
    );
    match &events[1] {
        ChatEvent::MessageAdded(m) => {
            assert_eq!(m.text, "Echo: Hello");
            assert_eq!(m.author.role, Role::Agent);
            assert_eq!(m.quick_replies, ["Yes", "No"]);
        }
        other => panic!("expected the agent message, got {other:?}"),
    }
}

#[test]
fn urn_is_read_from_data_when_the_server_answers_socketcluster_style() {
    let mut p = Peer::new(PushBackend::new(&config(), 7, None));
    p.start();
    p.open();
    p.recv(r##"{"rid":1,"data":{"id":"x","pingTimeout":20000,"isAuthenticated":false}}"##);
    p.recv(r##"{"rid":2,"data":"{\"urn\":\"00c94dd4-7f52-4cab-8bd9-277e4518fc66\"}"}"##);
    assert_eq!(
        p.backend.urn(),
        Some("00c94dd4-7f52-4cab-8bd9-277e4518fc66")
    );
}

#[test]
fn ping_is_answered_with_bare_pong_and_silence_reconnects_at_once() {
    let mut p = ready();
    p.recv("#1");
    assert_eq!(p.take_frames(), ["#2"]);
    p.advance(19_999);
    assert!(p.closes.is_empty());
    p.advance(1);
    assert_eq!(p.closes, [4000], "client ping timeout closes with 4000");
    assert!(matches!(
        p.last_connection(),
        Some(ConnectionState::Reconnecting { .. })
    ));
    p.advance(0);
    assert_eq!(p.opens.len(), 2, "4000 reconnects immediately");
}

#[test]
fn payloads_for_other_urns_and_channels_are_ignored() {
    let mut p = ready();
    p.recv(&j!({"event":"#publish","data":{"channel":URN,"data":{"to":"someone-else","text":"not for you"}}}).to_string());
    p.recv(&j!({"event":"#publish","data":{"channel":"other","data":{"to":URN,"text":"wrong channel"}}}).to_string());
    assert!(p.message_texts().is_empty());
}

#[test]
fn batched_frames_are_processed_in_order() {
    let mut p = ready();
    let batch = format!("[{},{}]", agent_publish("one"), agent_publish("two"));
    p.recv(&batch);
    assert_eq!(p.message_texts(), ["one", "two"]);
}

#[test]
fn messages_sent_while_down_wait_in_the_outbox_and_go_once_after_reconnect() {
    let mut p = ready();
    p.close(1006);
    let Some(ConnectionState::Reconnecting {
        next_attempt_at, ..
    }) = p.last_connection()
    else {
        panic!("reconnecting")
    };
    let delay = next_attempt_at - p.now;
    assert!(
        (10_000..20_000).contains(&delay),
        "v9 backoff starts at 10-20 s, got {delay}"
    );
    for i in 0..5 {
        p.backend
            .send_message(&format!("c{i}"), &format!("m{i}"), p.now);
    }
    p.drain();
    assert!(p.take_frames().is_empty(), "nothing sent while down");
    p.advance(delay);
    assert_eq!(p.opens.len(), 2);
    p.open();
    p.recv(r##"{"rid":1,"data":{"id":"y","pingTimeout":20000,"isAuthenticated":false}}"##);
    let sub = p.take_frames();
    assert_eq!(
        json(&sub[1]),
        j!({"event":"#subscribe","data":{"channel":URN},"cid":2}),
        "the urn is reused, not re-registered"
    );
    p.recv(r##"{"rid":2}"##);
    let sent: Vec<_> = p
        .take_frames()
        .iter()
        .map(|f| json(f)["data"]["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sent, ["m0", "m1", "m2", "m3", "m4"]);
    // Reconnecting again before acks: the unacknowledged ones go again, the acknowledged do not.
    p.recv(r##"[{"rid":3,"data":"success"},{"rid":4,"data":"success"}]"##);
    p.close(4001);
    p.advance(0);
    p.open();
    p.recv(r##"{"rid":1,"data":{"id":"z","pingTimeout":20000,"isAuthenticated":false}}"##);
    p.recv(r##"{"rid":2}"##);
    let resent: Vec<_> = p
        .take_frames()
        .iter()
        .filter_map(|f| json(f)["data"]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(resent, ["m2", "m3", "m4"]);
}

#[test]
fn server_that_never_acks_sends_still_marks_them_sent() {
    let mut p = ready();
    p.backend.send_message("c1", "hi", p.now);
    p.drain();
    p.recv("#1");
    p.advance(10_000);
    assert!(p
        .events
        .iter()
        .any(|e| matches!(e, ChatEvent::MessageUpdated(m) if m.status == DeliveryStatus::Sent)));
    assert!(
        p.closes.is_empty(),
        "a missing send ack does not drop the connection"
    );
}

#[test]
fn close_codes_follow_the_v9_client_rules() {
    for (code, reconnects, immediately) in [
        (4000, true, true),
        (4001, true, true),
        (1005, true, true),
        (1006, true, false),
        (4005, true, false),
        (1000, false, false),
        (4500, false, false),
    ] {
        let mut p = ready();
        p.close(code);
        match p.last_connection() {
            Some(ConnectionState::Reconnecting {
                next_attempt_at, ..
            }) => {
                assert!(reconnects, "{code} should not reconnect");
                assert_eq!(next_attempt_at == p.now, immediately, "{code}");
            }
            Some(ConnectionState::Offline) => assert!(!reconnects, "{code} should reconnect"),
            other => panic!("{code}: {other:?}"),
        }
    }
}

#[test]
fn server_disconnect_and_kick_out() {
    let mut p = ready();
    p.recv(r##"{"event":"#kickOut","data":{"message":"kicked!","channel":"c24be8c2-764a-4945-97b3-9886c62c28b9"}}"##);
    assert_eq!(json(&p.take_frames()[0])["event"], "#subscribe");
    p.recv(r##"{"event":"#disconnect","data":{"code":4500,"data":"server says bye"}}"##);
    assert_eq!(p.closes, [4500]);
    assert_eq!(p.last_connection(), Some(ConnectionState::Offline));
}

#[test]
fn server_emits_with_cid_get_an_answer_and_unknown_events_are_reported() {
    let mut p = ready();
    p.recv(r##"{"event":"agentTyping","data":{"typing":true},"cid":1}"##);
    assert_eq!(p.take_frames(), [r##"{"rid":1}"##]);
    assert!(matches!(p.take_events()[..], [ChatEvent::Error(_)]));
    p.recv(r##"{"event":"#setAuthToken","data":{"token":"eyJ"}}"##);
    assert!(p.take_events().is_empty());
}

#[test]
fn reload_resumes_with_the_same_urn_history_and_outbox() {
    let mut p = ready();
    p.recv(&agent_publish("before reload"));
    p.close(1006);
    p.backend.send_message("c9", "typed while down", p.now);
    let snapshot = p.backend.snapshot();

    let mut q = Peer::new(PushBackend::new(&config(), 8, Some(&snapshot)));
    q.start();
    assert_eq!(q.message_texts(), ["before reload", "typed while down"]);
    q.open();
    q.recv(r##"{"rid":1,"data":{"id":"n","pingTimeout":20000,"isAuthenticated":false}}"##);
    assert_eq!(
        json(&q.take_frames()[1])["event"],
        "#subscribe",
        "no second registerUser"
    );
    q.recv(r##"{"rid":2}"##);
    assert_eq!(
        json(&q.take_frames()[0])["data"]["text"],
        "typed while down"
    );
}

#[test]
fn end_chat_closes_and_forgets_the_urn() {
    let mut p = ready();
    p.backend.end_chat(p.now);
    p.drain();
    assert_eq!(p.closes, [1000]);
    assert_eq!(p.last_connection(), Some(ConnectionState::Ended));
    assert_eq!(p.backend.urn(), None);
    p.backend.send_message("c1", "late", p.now);
    p.drain();
    assert!(p.take_frames().iter().all(|f| !f.contains("late")));
}

#[test]
fn malformed_and_oversized_frames_are_reported_and_ignored() {
    let mut p = ready();
    for bad in [
        "{",
        "42",
        "null",
        "[1,2]",
        r##"{"rid":"x"}"##,
        r##"{"event":"#publish","data":7}"##,
    ] {
        p.recv(bad);
    }
    p.recv(&"x".repeat(2 << 20));
    p.recv(&agent_publish("still working"));
    assert_eq!(p.message_texts(), ["still working"]);
}

#[test]
fn media_links_in_agent_messages_are_kept_and_unsafe_ones_dropped() {
    let mut p = ready();
    p.recv(&j!({"event":"#publish","data":{"channel":URN,"data":{"to":URN,"text":"see","image":"https://x.test/a.png","media_url":"javascript:alert(1)"}}}).to_string());
    match &p.events[0] {
        ChatEvent::MessageAdded(m) => assert_eq!(m.attachments.len(), 1),
        other => panic!("{other:?}"),
    }
}
