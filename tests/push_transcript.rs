//! Push (SocketCluster v9) transcripts: frames in, exact frames and events out. Frame shapes
//! are the ones recorded against socketcluster-server 9.1.3 in the protocol notes.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use chat_widget::config::PushConfig;
use chat_widget::core::push::PushBackend;
use chat_widget::core::{ChatBackend, ChatEvent, ConnectionState, DeliveryStatus, Role};
use common::{json, Peer};
use serde_json::{json as j, Value};

const URN: &str = "c24be8c2-764a-4945-97b3-9886c62c28b9";

fn config() -> PushConfig {
    PushConfig {
        host: "https://socket.push.test".into(),
        channel_uuid: "cf3d62bc-5cab-4561-a96b-3abed4e5be44".into(),
        host_api: "https://new.push.al".into(),
        session_id: None,
        init_payload: None,
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
    // Some servers never answer #subscribe: the widget works at once.
    assert_eq!(p.last_connection(), Some(ConnectionState::Online));
    p.recv(r##"{"rid":3}"##);
    p.take_events();

    p.backend.send_message("c-1", "Hello", p.now);
    p.drain();
    let frames: Vec<Value> = p.take_frames().iter().map(|f| json(f)).collect();
    assert_eq!(
        frames,
        [
            j!({"event":"sendMessageToChannel","data":{"text":"Hello","userUrn":URN},"cid":4}),
            j!({"event":"#subscribe","data":{"channel":URN},"cid":5}),
        ],
        "no clientId (Push knows none); a barrier the server answers"
    );
    assert!(
        p.take_events()
            .iter()
            .all(|e| !matches!(e, ChatEvent::MessageUpdated(_))),
        "not sent before proof"
    );
    // The barrier's answer proves the send was read.
    p.recv(r##"{"rid":5}"##);
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
    assert!(p.reconnect_delay() <= 500, "at once, with a little jitter");
    p.advance(500);
    assert_eq!(p.opens.len(), 2);
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
    let delay = p.reconnect_delay();
    assert!(
        (100..=500).contains(&delay),
        "reconnects at once with jitter, got {delay}"
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
    let frames: Vec<Value> = p.take_frames().iter().map(|f| json(f)).collect();
    assert_eq!(
        frames[1],
        j!({"event":"#subscribe","data":{"channel":URN},"cid":2}),
        "the urn is reused, not re-registered"
    );
    let sent: Vec<_> = frames
        .iter()
        .filter_map(|f| f["data"]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(sent, ["m0", "m1", "m2", "m3", "m4"]);
    assert_eq!(
        frames.last().unwrap()["event"],
        "#subscribe",
        "then the barrier (cid 8)"
    );
    // An acknowledgement (from a server that gives them) proves the read of all before it.
    let m1 = frames.iter().find(|f| f["data"]["text"] == "m1").unwrap()["cid"].clone();
    p.recv(&j!({"rid": m1, "data": "success"}).to_string());
    p.close(4001);
    p.advance(2_000);
    p.open();
    p.recv(r##"{"rid":1,"data":{"id":"z","pingTimeout":20000,"isAuthenticated":false}}"##);
    let resent: Vec<_> = p
        .take_frames()
        .iter()
        .filter_map(|f| json(f)["data"]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        resent,
        ["m2", "m3", "m4"],
        "what was not proven read goes again"
    );
}

#[test]
fn a_server_that_answers_nothing_confirms_by_a_later_frame() {
    let mut p = ready();
    p.backend.send_message("c1", "hi", p.now);
    p.drain();
    p.take_frames();
    // Neither the subscription (cid 3 was answered in ready(), so re-learn: a fresh backend)…
    let mut q = Peer::new(PushBackend::new(&config(), 7, None));
    q.start();
    q.open();
    q.recv(r##"{"rid":1,"data":{"id":"x","pingTimeout":20000,"isAuthenticated":false}}"##);
    q.recv(&format!(r##"{{"rid":2,"error":"{{\"urn\":\"{URN}\"}}"}}"##));
    q.backend.send_message("c1", "hi", q.now);
    q.drain();
    q.recv("#1");
    q.advance(5_000);
    // …nor the barrier is ever answered: after 5 s with pings arriving, the server is one
    // that answers no #subscribe, and the next frame a round trip after the send confirms.
    q.recv("#1");
    assert!(q
        .events
        .iter()
        .any(|e| matches!(e, ChatEvent::MessageUpdated(m) if m.status == DeliveryStatus::Sent)));
    assert!(
        q.closes.is_empty(),
        "a missing answer does not drop the connection"
    );
}

#[test]
fn close_codes_follow_the_v9_client_rules() {
    for (code, reconnects) in [
        (4000, true),
        (4001, true),
        (1005, true),
        (1006, true),
        (4005, true),
        (1000, false),
        (4500, false),
    ] {
        let mut p = ready();
        p.close(code);
        match p.last_connection() {
            Some(ConnectionState::Reconnecting {
                next_attempt_at, ..
            }) => {
                assert!(reconnects, "{code} should not reconnect");
                assert!(
                    next_attempt_at - p.now <= 500,
                    "{code}: at once, with jitter"
                );
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
    assert!(
        p.take_frames().is_empty(),
        "no re-subscribe at once (a kick-out must not loop)"
    );
    p.advance(500);
    assert_eq!(
        json(&p.take_frames()[0])["event"],
        "#subscribe",
        "after a backoff"
    );
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
    // The token goes back in the next handshake.
    p.close(1006);
    p.advance(500);
    p.open();
    assert_eq!(
        json(&p.take_frames()[0]),
        j!({"event":"#handshake","data":{"authToken":"eyJ"},"cid":1})
    );
}

#[test]
fn reload_resumes_with_the_same_urn_history_and_outbox() {
    let mut p = ready();
    p.backend.send_message("c8", "asked first", p.now);
    p.recv(&agent_publish("before reload"));
    p.close(1006);
    p.backend.send_message("c9", "typed while down", p.now);
    let snapshot = p.backend.snapshot();

    let mut q = Peer::new(PushBackend::new(&config(), 8, Some(&snapshot)));
    q.start();
    // In the order the visitor saw them: a message sits where it was typed, not where it was
    // confirmed.
    assert_eq!(
        q.message_texts(),
        ["asked first", "before reload", "typed while down"]
    );
    q.open();
    q.recv(r##"{"rid":1,"data":{"id":"n","pingTimeout":20000,"isAuthenticated":false}}"##);
    let frames: Vec<Value> = q.take_frames().iter().map(|f| json(f)).collect();
    assert_eq!(frames[1]["event"], "#subscribe", "no second registerUser");
    let texts: Vec<_> = frames
        .iter()
        .filter_map(|f| f["data"]["text"].as_str())
        .collect();
    assert_eq!(texts, ["asked first", "typed while down"]);
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
    p.recv(&"x".repeat(5 << 20));
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

fn courier(id: u64, text: &str, quick_replies: &[&str]) -> Value {
    j!({"id": id.to_string(), "text": text, "to": URN, "to_no_plus": URN, "from": "Push Demo",
        "from_no_plus": "Push Demo", "channel": "cf3d62bc", "metadata": null, "quick_replies": quick_replies})
}

fn publish(body: &Value) -> String {
    j!({"event":"#publish","data":{"channel":URN,"data":body}}).to_string()
}

#[test]
fn parts_of_a_split_message_are_each_shown_once_and_both_paths_count_once() {
    let mut p = ready();
    let one = courier(41, "First part of a long answer", &[]);
    let two = courier(
        41,
        "second part, with the question?\nhttps://shop.test/receipt.png",
        &["Yes", "No"],
    );
    for body in [&one, &two] {
        p.recv(&publish(body));
        // The same body emitted directly as well.
        p.recv(&j!({"event":"receivedMessageFromChannel","data":body}).to_string());
    }
    assert_eq!(
        p.message_texts(),
        [
            "First part of a long answer",
            "second part, with the question?"
        ],
        "all parts, in order, once; never one replacing the other"
    );
    let last = p
        .events
        .iter()
        .rev()
        .find_map(|e| match e {
            ChatEvent::MessageAdded(m) => Some(m.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(last.quick_replies, ["Yes", "No"]);
    assert_eq!(
        last.attachments.len(),
        1,
        "the URL courier appended is an attachment"
    );
    assert!(
        p.events.iter().all(|e| !matches!(e, ChatEvent::Error(_))),
        "receivedMessageFromChannel is not an error"
    );
}

#[test]
fn after_a_drop_the_visitor_is_told_replies_may_be_missing() {
    let mut p = ready();
    p.recv("#1");
    p.close(1006);
    p.advance(4_000);
    p.advance(4_000);
    p.open();
    p.recv(r##"{"rid":1,"data":{"id":"y","pingTimeout":20000,"isAuthenticated":false}}"##);
    let frames: Vec<Value> = p
        .take_frames()
        .iter()
        .filter(|f| f.starts_with('{'))
        .map(|f| json(f))
        .collect();
    let history = frames
        .iter()
        .find(|f| f["event"] == "getHistory")
        .expect("asks for history");
    let subscribe = frames.iter().find(|f| f["event"] == "#subscribe").unwrap()["cid"].clone();
    p.recv(&j!({"rid": subscribe}).to_string());
    // This server has none: after 5 s the visitor is told.
    p.advance(5_000);
    let notice = p
        .events
        .iter()
        .find_map(|e| match e {
            ChatEvent::MessageAdded(m) if m.author.role == Role::System => Some(m.clone()),
            _ => None,
        })
        .expect("a notice");
    assert!(matches!(
        notice.rich,
        Some(chat_widget::core::RichContent::MissedWhileOffline { seconds }) if seconds >= 1
    ));
    // A server that answers getHistory fills the gap instead.
    let mut q = ready();
    q.recv("#1");
    q.close(1006);
    q.advance(2_000);
    q.open();
    q.recv(r##"{"rid":1,"data":{"id":"y","pingTimeout":20000,"isAuthenticated":false}}"##);
    let frames: Vec<Value> = q
        .take_frames()
        .iter()
        .filter(|f| f.starts_with('{'))
        .map(|f| json(f))
        .collect();
    let cid = frames.iter().find(|f| f["event"] == "getHistory").unwrap()["cid"].clone();
    q.recv(&j!({"rid": cid, "data": [courier(7, "sent while you were away", &[])]}).to_string());
    assert_eq!(q.message_texts(), ["sent while you were away"]);
    assert!(q
        .events
        .iter()
        .all(|e| !matches!(e, ChatEvent::MessageAdded(m) if m.author.role == Role::System)));
    let _ = history;
}

#[test]
fn session_id_registers_with_it_and_the_init_payload_goes_once_unseen() {
    let mut c = config();
    c.session_id = Some("visitor-42".into());
    c.init_payload = Some("start".into());
    let mut p = Peer::new(PushBackend::new(&c, 7, None));
    p.start();
    p.open();
    p.take_frames();
    p.recv(r##"{"rid":1,"data":{"id":"x","pingTimeout":20000,"isAuthenticated":false}}"##);
    assert_eq!(
        json(&p.take_frames()[0]),
        j!({"event":"registerUser","data":{"id":"visitor-42"},"cid":2})
    );
    p.recv(&format!(r##"{{"rid":2,"error":"{{\"urn\":\"{URN}\"}}"}}"##));
    let frames: Vec<Value> = p.take_frames().iter().map(|f| json(f)).collect();
    let texts: Vec<_> = frames
        .iter()
        .filter_map(|f| f["data"]["text"].as_str())
        .collect();
    assert_eq!(
        texts,
        ["start"],
        "the init payload goes once the session exists"
    );
    let barrier = frames.last().unwrap()["cid"].clone();
    p.recv(&j!({"rid": barrier}).to_string());
    assert!(
        p.message_texts().is_empty(),
        "never shown as a visitor message"
    );
    // A reload does not send it again.
    let snap = p.backend.snapshot();
    let mut q = Peer::new(PushBackend::new(&c, 8, Some(&snap)));
    q.start();
    q.open();
    q.recv(r##"{"rid":1,"data":{"id":"y","pingTimeout":20000,"isAuthenticated":false}}"##);
    assert!(q.take_frames().iter().all(|f| !f.contains("\"start\"")));
}

#[test]
fn a_connection_dropped_again_and_again_comes_back_at_once_each_time() {
    let mut p = ready();
    let reconnect = |p: &mut Peer<PushBackend>, lived: u64| {
        p.advance(lived);
        p.close(1006);
        let delay = p.reconnect_delay();
        p.advance(delay);
        p.open();
        p.recv(r##"{"rid":1,"data":{"id":"y","pingTimeout":20000,"isAuthenticated":false}}"##);
        p.recv(r##"{"rid":2}"##);
        p.take_frames();
        delay
    };
    // Handshaken and working for 1.5 s each time, as the official client counts it.
    for round in 0..8 {
        let delay = reconnect(&mut p, 1_500);
        assert!((100..=500).contains(&delay), "round {round}: {delay} ms");
    }
    // Dropped right after every handshake: the server is not hammered.
    let delays: Vec<u64> = (0..4).map(|_| reconnect(&mut p, 200)).collect();
    assert!(delays[3] > 1_500, "backs off: {delays:?}");
}

/// Drops the connection, reconnects, and returns the cid of the `getHistory` the core asks.
fn reconnect_for_history(p: &mut Peer<PushBackend>) -> Value {
    p.close(1006);
    p.advance(2_000);
    p.open();
    p.recv(r##"{"rid":1,"data":{"id":"y","pingTimeout":20000,"isAuthenticated":false}}"##);
    let frames = p.take_frames();
    let history = frames
        .iter()
        .filter(|f| f.starts_with('{'))
        .map(|f| json(f))
        .find(|f| f["event"] == "getHistory")
        .expect("asks for history");
    history["cid"].clone()
}

#[test]
fn what_a_history_answer_fills_in_is_kept_in_server_order_and_never_comes_back_as_new() {
    let mut p = ready();
    p.recv("#1");
    let body = |id: u64| courier(id, &format!("agent {id}"), &[]);
    for id in (1..=199).filter(|id| *id != 100) {
        p.recv(&publish(&body(id)));
    }
    // The answer is the whole conversation: 100 was missed, 200 and 201 came meanwhile.
    let cid = reconnect_for_history(&mut p);
    let all: Vec<Value> = (1..=201).map(body).collect();
    p.recv(&j!({"rid": cid, "data": all}).to_string());
    let texts = p.message_texts();
    assert!(texts.ends_with(&["agent 100".into(), "agent 200".into(), "agent 201".into()]));
    // More than the session keeps comes live: the oldest are dropped from it, in server order.
    for id in 202..=320 {
        p.recv(&publish(&body(id)));
    }
    let shown = p.events.len();
    let cid = reconnect_for_history(&mut p);
    let all: Vec<Value> = (1..=320).map(body).collect();
    p.recv(&j!({"rid": cid, "data": all}).to_string());
    let again: Vec<String> = p.events[shown..]
        .iter()
        .filter_map(|e| match e {
            ChatEvent::MessageAdded(m) => Some(m.text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        again,
        Vec::<String>::new(),
        "a part the session dropped as old is not new (shown again after newer ones)"
    );
}
