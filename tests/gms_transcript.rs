//! GMS Chat V2 over CometD transcripts. Bayeux frames follow the CometD JS client and Java
//! server shapes in the protocol notes; Chat V2 payloads follow GMS' documented responses.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use chat_widget::config::{GmsConfig, GmsTransport};
use chat_widget::core::gms::GmsBackend;
use chat_widget::core::{
    ChatBackend, ChatError, ChatEvent, ConnectionState, DeliveryStatus, Presence, Role,
    VisitorProfile,
};
use common::{json, Peer};
use serde_json::{json as j, Value};

const CH: &str = "/service/chatV2/customer-support";

fn config() -> GmsConfig {
    GmsConfig {
        cometd_url: "https://gms.test/genesys/cometd".into(),
        service: "customer-support".into(),
        subject: Some("Order help".into()),
        user_data: Some(j!({"interests": "javascript"}).as_object().unwrap().clone()),
        transport: GmsTransport::WebSocket,
        restore_timeout_ms: 60_000,
    }
}

fn handshake_ok(id: &str) -> String {
    j!([{"id":id,"channel":"/meta/handshake","version":"1.0","minimumVersion":"1.0","supportedConnectionTypes":["websocket"],
        "clientId":"Un1q31d3nt1f13r","successful":true,"advice":{"reconnect":"retry","interval":0,"timeout":30000}}]).to_string()
}

fn connect_ok(id: &str) -> String {
    j!([{"id":id,"channel":"/meta/connect","successful":true,"advice":{"reconnect":"retry","interval":0,"timeout":30000}}]).to_string()
}

fn chat(data: Value) -> String {
    j!([{"channel":CH,"data":data}]).to_string()
}

fn transcript(start: u64, events: Value) -> String {
    let mut data = j!({"statusCode":0,"alias":"117","userId":"007555677B20000A","secureKey":"4ee15d7e1c343c8e","chatId":"00048aAPEQJ8000U","chatEnded":false});
    data["messages"] = events;
    data["nextPosition"] = j!(start);
    chat(data)
}

fn frames(p: &mut Peer<GmsBackend>) -> Vec<Value> {
    p.take_frames().iter().map(|f| json(f)[0].clone()).collect()
}

/// Connected, with a chat started by a first message.
fn chatting() -> Peer<GmsBackend> {
    let mut p = Peer::new(GmsBackend::new(&config(), 3, None));
    p.start();
    p.open();
    p.recv(&handshake_ok("1"));
    p.recv(&connect_ok("2"));
    p.backend.send_message("c1", "Hi there", p.now);
    p.drain();
    // requestChat's answer, then the message goes and comes back as event 2.
    p.recv(&transcript(2, j!([
        {"from":{"nickname":"Visitor","participantId":1,"type":"Client"},"index":1,"type":"ParticipantJoined","utcTime":1432845088000u64}
    ])));
    p.recv(&transcript(3, j!([
        {"from":{"nickname":"Visitor","participantId":1,"type":"Client"},"index":2,"type":"Message","text":"Hi there","utcTime":1432845089000u64}
    ])));
    p.take_frames();
    p.take_events();
    p
}

/// The operations of every Chat V2 request among `frames`.
fn operations(frames: &[Value]) -> Vec<Value> {
    frames
        .iter()
        .filter(|f| f["channel"] == CH)
        .map(|f| f["data"].clone())
        .collect()
}

#[test]
fn handshake_connect_loop_and_lazy_request_chat() {
    let mut p = Peer::new(GmsBackend::new(&config(), 3, None));
    p.start();
    assert_eq!(p.opens, ["wss://gms.test/genesys/cometd"]);
    p.open();
    assert_eq!(
        frames(&mut p),
        [
            j!({"id":"1","version":"1.0","minimumVersion":"1.0","channel":"/meta/handshake","supportedConnectionTypes":["websocket"],"advice":{"timeout":60000,"interval":0}})
        ]
    );
    p.recv(&handshake_ok("1"));
    assert_eq!(
        frames(&mut p),
        [
            j!({"id":"2","channel":"/meta/connect","connectionType":"websocket","clientId":"Un1q31d3nt1f13r","advice":{"timeout":0}})
        ]
    );
    assert_eq!(p.last_connection(), Some(ConnectionState::Online));
    p.recv(&connect_ok("2"));
    // The next connect goes at once (interval 0) and is held by the server.
    p.advance(0);
    assert_eq!(
        frames(&mut p),
        [
            j!({"id":"3","channel":"/meta/connect","connectionType":"websocket","clientId":"Un1q31d3nt1f13r"})
        ]
    );
    assert!(p.events.iter().all(|e| !matches!(e, ChatEvent::Error(_))));

    // Nothing is requested until the visitor writes.
    p.backend.send_message("c1", "Hi there", p.now);
    p.drain();
    let sent = frames(&mut p);
    assert_eq!(sent[0]["channel"], CH);
    assert_eq!(
        sent[0]["data"],
        j!({"operation":"requestChat","nickname":"Visitor","subject":"Order help","userData":{"interests":"javascript"}})
    );
    assert!(
        !sent[0].as_object().unwrap().contains_key("subscription"),
        "no /meta/subscribe for /service channels"
    );

    p.recv(&transcript(3, j!([
        {"from":{"nickname":"Visitor","participantId":1,"type":"Client"},"index":1,"type":"ParticipantJoined","utcTime":1432845088000u64}
    ])));
    let sent = frames(&mut p);
    assert_eq!(
        sent[0]["data"],
        j!({"operation":"sendMessage","message":"Hi there","secureKey":"4ee15d7e1c343c8e","userId":"007555677B20000A","alias":"117"})
    );
    p.recv(&transcript(3, j!([
        {"from":{"nickname":"Visitor","participantId":1,"type":"Client"},"index":2,"type":"Message","text":"Hi there","utcTime":1432845089000u64}
    ])));
    assert!(p.events.iter().any(|e| matches!(e, ChatEvent::MessageUpdated(m)
        if m.client_id.as_deref() == Some("c1") && m.status == DeliveryStatus::Sent && m.id == "gms-00048aAPEQJ8000U-2")));
}

#[test]
fn every_transcript_event_type_is_handled_or_deliberately_ignored() {
    let mut p = chatting();
    let agent = j!({"nickname":"Ana","participantId":2,"type":"Agent"});
    let client = j!({"nickname":"Visitor","participantId":1,"type":"Client"});
    p.recv(&transcript(20, j!([
        {"from":agent,"index":3,"type":"ParticipantJoined","utcTime":1},
        {"from":agent,"index":4,"type":"TypingStarted","utcTime":2},
        {"from":agent,"index":5,"type":"Message","text":"Hello, I'm Ana","utcTime":3},
        {"from":agent,"index":6,"type":"TypingStopped","utcTime":4},
        {"from":agent,"index":7,"type":"PushUrl","text":"https://shop.test/help","utcTime":5},
        {"from":{"nickname":"system","participantId":0,"type":"External"},"index":8,"type":"Notice","text":"Chat transferred","utcTime":6},
        {"from":agent,"index":9,"type":"CustomNotice","text":"Custom!","utcTime":7},
        {"from":{"nickname":"Ana B.","participantId":2,"type":"Agent"},"index":10,"type":"NicknameUpdated","utcTime":8},
        {"from":agent,"index":11,"type":"FileUploaded","userData":{"file-name":"invoice.pdf"},"utcTime":9},
        {"from":agent,"index":12,"type":"FileDeleted","utcTime":10},
        {"from":client,"index":13,"type":"TypingStarted","utcTime":11},
        {"from":agent,"index":14,"type":"IdleAlert","text":"Are you still there?","utcTime":12},
        {"from":{"nickname":"system","participantId":0,"type":"External"},"index":15,"type":"Notice","text":"file-client-cfg-get","utcTime":13},
        {"from":agent,"index":16,"type":"ParticipantLeft","utcTime":14},
        {"from":agent,"index":17,"type":"SomethingNew","utcTime":15}
    ])));
    let e = p.take_events();
    let has = |f: &dyn Fn(&ChatEvent) -> bool| e.iter().any(f);
    assert!(has(
        &|e| matches!(e, ChatEvent::AgentChanged(Some(a)) if a.name.as_deref() == Some("Ana"))
    ));
    assert!(has(&|e| matches!(
        e,
        ChatEvent::PresenceChanged(Presence::Online)
    )));
    assert!(has(
        &|e| matches!(e, ChatEvent::TypingStarted(a) if a.role == Role::Agent)
    ));
    assert!(has(&|e| matches!(e, ChatEvent::TypingStopped(_))));
    assert!(has(
        &|e| matches!(e, ChatEvent::AgentChanged(Some(a)) if a.name.as_deref() == Some("Ana B."))
    ));
    assert!(has(&|e| matches!(
        e,
        ChatEvent::PresenceChanged(Presence::Offline)
    )));
    let texts: Vec<_> = e
        .iter()
        .filter_map(|e| match e {
            ChatEvent::MessageAdded(m) => Some((m.author.role, m.text.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        texts,
        [
            (Role::Agent, "Hello, I'm Ana"),
            (Role::Agent, "https://shop.test/help"),
            (Role::System, "Chat transferred"),
            (Role::System, "Custom!"),
            (Role::Agent, "📎 invoice.pdf"),
            (Role::System, "Are you still there?"),
        ]
    );
    // Only the unknown type is reported; the visitor's own typing echo is silently ignored.
    let errors: Vec<_> = e
        .iter()
        .filter(|e| matches!(e, ChatEvent::Error(_)))
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
}

#[test]
fn transcript_events_are_never_applied_twice() {
    let mut p = chatting();
    let agent = j!({"nickname":"Ana","participantId":2,"type":"Agent"});
    let ev = j!([{"from":agent,"index":3,"type":"Message","text":"once","utcTime":1}]);
    p.recv(&transcript(4, ev.clone()));
    p.recv(&transcript(4, ev));
    assert_eq!(p.message_texts(), ["once"]);
}

#[test]
fn unknown_client_triggers_a_new_handshake_then_resume_from_position() {
    let mut p = chatting();
    p.recv(&j!([{"advice":{"interval":0,"reconnect":"handshake"},"channel":"/meta/connect","error":"402::Unknown client","successful":false}]).to_string());
    p.advance(0);
    let hs = frames(&mut p);
    assert_eq!(hs[0]["channel"], "/meta/handshake");
    assert!(hs[0].get("clientId").is_none());
    p.recv(&handshake_ok("9"));
    p.recv(&connect_ok("10"));
    let after = frames(&mut p);
    // From one before the last event applied (2): the answer repeats it whether the server
    // reads the position as inclusive or exclusive, which tells it from a live notification.
    assert_eq!(
        operations(&after),
        [
            j!({"operation":"requestNotifications","transcriptPosition":1,"secureKey":"4ee15d7e1c343c8e","userId":"007555677B20000A","alias":"117"})
        ]
    );
}

#[test]
fn faye_style_unknown_client_error_also_rehandshakes() {
    let mut p = chatting();
    p.recv(
        &j!([{"channel":"/meta/connect","error":"401:abc:Unknown client","successful":false}])
            .to_string(),
    );
    p.advance(0);
    assert_eq!(frames(&mut p)[0]["channel"], "/meta/handshake");
}

#[test]
fn reconnect_none_gives_up_with_an_error() {
    let mut p = Peer::new(GmsBackend::new(&config(), 3, None));
    p.start();
    p.open();
    p.recv(&j!([{"id":"1","channel":"/meta/handshake","successful":false,"error":"Authentication failed","advice":{"reconnect":"none"}}]).to_string());
    assert_eq!(p.last_connection(), Some(ConnectionState::Offline));
    assert!(p
        .events
        .iter()
        .any(|e| matches!(e, ChatEvent::Error(ChatError::Unauthorized(_)))));
    assert_eq!(
        p.backend.poll_timeout(),
        None,
        "no retry after reconnect: none"
    );
}

#[test]
fn drop_while_agent_sends_then_resume_loses_and_duplicates_nothing() {
    let mut p = chatting();
    let agent = j!({"nickname":"Ana","participantId":2,"type":"Agent"});
    p.recv(&transcript(
        4,
        j!([{"from":agent,"index":3,"type":"Message","text":"m0","utcTime":1}]),
    ));
    p.close(1006);
    // The visitor writes while down.
    p.backend.send_message("c2", "while down", p.now);
    p.drain();
    assert!(p.take_frames().is_empty());
    let delay = p.reconnect_delay();
    assert!(
        (1000..=1100).contains(&delay),
        "CometD backoff starts at +1 s"
    );
    p.advance(delay);
    assert_eq!(p.opens.len(), 2);
    p.open();
    p.recv(&handshake_ok("1"));
    p.recv(&connect_ok("2"));
    let ops = operations(&frames(&mut p));
    assert_eq!(
        ops.len(),
        1,
        "nothing is sent before the transcript is back: {ops:?}"
    );
    assert_eq!(ops[0]["operation"], "requestNotifications");
    assert_eq!(ops[0]["transcriptPosition"], 2);
    // The server replays from position 2, overlapping what we have; the agent wrote 20 more.
    let client = j!({"nickname":"Visitor","participantId":1,"type":"Client"});
    let mut events = vec![
        j!({"from":client,"index":2,"type":"Message","text":"Hi there","utcTime":1}),
        j!({"from":agent,"index":3,"type":"Message","text":"m0","utcTime":1}),
    ];
    for i in 4..24 {
        events.push(
            j!({"from":agent,"index":i,"type":"Message","text":format!("m{}", i - 3),"utcTime":i}),
        );
    }
    p.recv(&transcript(24, Value::Array(events)));
    let expected: Vec<String> = (0..21).map(|i| format!("m{i}")).collect();
    assert_eq!(
        p.message_texts(),
        expected,
        "every agent message once, in order"
    );
    // The message typed while down goes once, after the transcript.
    let sent = frames(&mut p);
    let sends: Vec<_> = sent
        .iter()
        .filter(|f| f["data"]["operation"] == "sendMessage")
        .collect();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0]["data"]["message"], "while down");
}

#[test]
fn message_acknowledged_by_transcript_after_drop_is_not_resent() {
    let mut p = chatting();
    p.backend.send_message("c2", "in flight", p.now);
    p.drain();
    assert_eq!(frames(&mut p)[0]["data"]["message"], "in flight");
    p.close(1006);
    p.advance(1_100);
    p.open();
    p.recv(&handshake_ok("1"));
    p.recv(&connect_ok("2"));
    assert!(
        operations(&frames(&mut p)).is_empty(),
        "the lookup waits until a send still on its way must have arrived"
    );
    p.advance(2_000);
    let ops = operations(&frames(&mut p));
    assert_eq!(ops[0]["operation"], "requestNotifications");
    assert_eq!(ops[0]["transcriptPosition"], 1);
    // The server had it: the replayed transcript shows a Client message after the position
    // it was sent at, so it is confirmed, not resent (its text is never compared).
    p.recv(&transcript(4, j!([
        {"from":{"nickname":"Visitor","type":"Client"},"index":2,"type":"Message","text":"Hi there","utcTime":4},
        {"from":{"nickname":"Visitor","type":"Client"},"index":3,"type":"Message","text":"in flight (trimmed)","utcTime":5}
    ])));
    p.advance(60_000);
    assert!(operations(&frames(&mut p))
        .iter()
        .all(|op| op["operation"] != "sendMessage"));
    assert!(p.events.iter().any(
        |e| matches!(e, ChatEvent::MessageUpdated(m) if m.client_id.as_deref() == Some("c2") && m.id == "gms-00048aAPEQJ8000U-3")
    ));
}

#[test]
fn a_message_the_transcript_lacks_is_sent_again_once() {
    let mut p = chatting();
    p.backend.send_message("c2", "ok", p.now);
    p.drain();
    p.take_frames();
    p.close(1006);
    p.advance(1_100);
    p.open();
    p.recv(&handshake_ok("1"));
    p.recv(&connect_ok("2"));
    p.advance(3_000);
    assert_eq!(
        operations(&frames(&mut p))[0]["operation"],
        "requestNotifications"
    );
    // Only the earlier message: "ok" never arrived. It goes again, once.
    p.recv(&transcript(3, j!([
        {"from":{"nickname":"Visitor","type":"Client"},"index":2,"type":"Message","text":"Hi there","utcTime":4}
    ])));
    let ops = operations(&frames(&mut p));
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0]["message"], "ok");
}

#[test]
fn the_same_text_twice_across_a_reload_is_sent_twice() {
    // "ok" was sent and confirmed; after a reload the visitor sends "ok" again while the
    // replayed transcript still shows the first one: that one must not confirm the new one.
    let mut p = chatting();
    p.backend.send_message("c2", "ok", p.now);
    p.drain();
    p.recv(&transcript(4, j!([
        {"from":{"nickname":"Visitor","type":"Client"},"index":3,"type":"Message","text":"ok","utcTime":4}
    ])));
    let snap = p.backend.snapshot();
    let mut q = Peer::new(GmsBackend::new(&config(), 4, Some(&snap)));
    q.start();
    q.backend.send_message("c3", "ok", q.now);
    q.open();
    q.recv(&handshake_ok("1"));
    q.recv(&connect_ok("2"));
    let ops = operations(&frames(&mut q));
    assert_eq!(ops.len(), 1, "the transcript first: {ops:?}");
    assert_eq!(ops[0]["operation"], "requestNotifications");
    q.recv(&transcript(4, j!([
        {"from":{"nickname":"Visitor","participantId":1,"type":"Client"},"index":1,"type":"ParticipantJoined","utcTime":1},
        {"from":{"nickname":"Visitor","type":"Client"},"index":2,"type":"Message","text":"Hi there","utcTime":2},
        {"from":{"nickname":"Visitor","type":"Client"},"index":3,"type":"Message","text":"ok","utcTime":3}
    ])));
    let ops = operations(&frames(&mut q));
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0]["operation"], "sendMessage");
    assert_eq!(ops[0]["message"], "ok");
    assert!(q.events.iter().all(
        |e| !matches!(e, ChatEvent::MessageUpdated(m) if m.client_id.as_deref() == Some("c3"))
    ));
}

#[test]
fn reload_resumes_from_snapshot_with_full_transcript() {
    let mut p = chatting();
    p.backend.send_message("c5", "unsent", p.now);
    p.close(1006);
    let snap = p.backend.snapshot();
    let mut q = Peer::new(GmsBackend::new(&config(), 4, Some(&snap)));
    q.start();
    assert_eq!(
        q.message_texts(),
        ["unsent"],
        "pending message shown at once"
    );
    q.open();
    q.recv(&handshake_ok("1"));
    q.recv(&connect_ok("2"));
    q.advance(3_000);
    let ops = operations(&frames(&mut q));
    assert_eq!(
        ops[0]["transcriptPosition"], 0,
        "a new page replays the whole transcript"
    );
    assert_eq!(ops[0]["secureKey"], "4ee15d7e1c343c8e");
    assert!(ops.iter().all(|op| op["operation"] != "requestChat"));
}

#[test]
fn a_restore_older_than_the_restore_timeout_starts_afresh() {
    let mut p = chatting();
    p.backend.send_message("c5", "unsent", p.now);
    p.close(1006);
    let snap = p.backend.snapshot();
    let mut q = Peer::new(GmsBackend::new(&config(), 4, Some(&snap)));
    q.now += 61_000;
    q.start();
    assert!(q
        .events
        .iter()
        .any(|e| matches!(e, ChatEvent::Error(ChatError::SendFailed(id)) if id == "c5")));
    q.open();
    q.recv(&handshake_ok("1"));
    q.recv(&connect_ok("2"));
    assert!(
        operations(&frames(&mut q)).is_empty(),
        "nothing of the old chat"
    );
    // Retry: a new chat.
    q.backend.send_message("c5", "unsent", q.now);
    q.drain();
    assert_eq!(operations(&frames(&mut q))[0]["operation"], "requestChat");
}

#[test]
fn status_codes_and_chat_end() {
    let mut p = chatting();
    p.recv(&chat(
        j!({"statusCode":1,"errors":[{"code":102,"advice":"Chat server is offline, retry"}]}),
    ));
    assert!(matches!(
        p.last_connection(),
        Some(ConnectionState::Reconnecting { .. })
    ));
    assert!(p.take_events().iter().any(
        |e| matches!(e, ChatEvent::Error(ChatError::Protocol(s)) if s.contains("Chat server is offline"))
    ));
    // After the backoff it looks at the transcript before doing anything else.
    p.advance(2_000);
    let ops = operations(&frames(&mut p));
    assert_eq!(ops[0]["operation"], "requestNotifications");
    p.recv(&transcript(3, j!([
        {"from":{"nickname":"Visitor","type":"Client"},"index":2,"type":"Message","text":"Hi there","utcTime":4}
    ])));
    assert_eq!(p.last_connection(), Some(ConnectionState::Online));
    p.backend.end_chat(p.now);
    p.drain();
    assert_eq!(frames(&mut p)[0]["data"]["operation"], "disconnect");
    p.recv(&chat(j!({"statusCode":0,"chatEnded":true,"messages":[]})));
    assert_eq!(p.last_connection(), Some(ConnectionState::Ended));
    let disconnect = frames(&mut p)[0].clone();
    assert_eq!(disconnect["channel"], "/meta/disconnect");
    assert!(
        p.closes.is_empty(),
        "the disconnect deserves its reply first"
    );
    p.recv(
        &j!([{"id":disconnect["id"],"channel":"/meta/disconnect","successful":true}]).to_string(),
    );
    assert_eq!(p.closes, [1000]);
}

#[test]
fn refused_request_chat_fails_the_waiting_messages() {
    let mut p = Peer::new(GmsBackend::new(&config(), 3, None));
    p.start();
    p.open();
    p.recv(&handshake_ok("1"));
    p.backend.send_message("c1", "hello", p.now);
    p.drain();
    p.recv(&chat(
        j!({"statusCode":2,"errors":[{"advice":"Service not available"}]}),
    ));
    assert!(p
        .events
        .iter()
        .any(|e| matches!(e, ChatEvent::Error(ChatError::SendFailed(id)) if id == "c1")));
}

#[test]
fn connect_reply_timeout_drops_the_socket() {
    let mut p = chatting();
    p.recv(&connect_ok("2"));
    p.advance(0);
    p.advance(30_000 + 10_000 - 1);
    assert!(p.closes.is_empty());
    p.advance(1);
    assert_eq!(p.closes.len(), 1);
    assert!(matches!(
        p.last_connection(),
        Some(ConnectionState::Reconnecting { .. })
    ));
}

#[test]
fn typing_and_nickname_operations() {
    let mut p = chatting();
    p.backend.set_typing(true, p.now);
    p.backend.set_typing(false, p.now);
    p.backend.set_visitor(
        VisitorProfile {
            name: Some("Lee".into()),
            email: None,
        },
        p.now,
    );
    p.drain();
    let ops: Vec<_> = frames(&mut p)
        .iter()
        .map(|f| f["data"]["operation"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ops, ["startTyping", "stopTyping", "updateNickname"]);
}

#[test]
fn malformed_frames_are_reported_and_ignored() {
    let mut p = chatting();
    for bad in [
        "[",
        "7",
        r#"[{"no":"channel"}]"#,
        r#"[{"channel":"/elsewhere","data":{}}]"#,
    ] {
        p.recv(bad);
    }
    p.recv(&transcript(
        4,
        j!([{"from":{"type":"Agent"},"type":"Message","text":"no index"}]),
    ));
    p.recv(&transcript(4, j!([{"from":{"nickname":"Ana","type":"Agent"},"index":3,"type":"Message","text":"fine","utcTime":1}])));
    // An event without an index is applied (nothing to order it by), not dropped.
    assert_eq!(p.message_texts(), ["no index", "fine"]);
    assert!(
        p.events
            .iter()
            .filter(|e| matches!(e, ChatEvent::Error(ChatError::Protocol(_))))
            .count()
            >= 4
    );
}

fn lp_config(transport: GmsTransport) -> GmsConfig {
    GmsConfig {
        transport,
        ..config()
    }
}

/// The Bayeux messages of each HTTP request, with its id.
fn posts(p: &mut Peer<GmsBackend>) -> Vec<(u64, Vec<Value>)> {
    p.take_http()
        .into_iter()
        .map(|r| {
            assert_eq!(r.url, "https://gms.test/genesys/cometd");
            let body = json(r.body.as_deref().unwrap_or("[]"));
            (r.id, body.as_array().cloned().unwrap_or_default())
        })
        .collect()
}

#[test]
fn long_polling_handshakes_holds_connects_and_carries_chat_operations_over_http() {
    let mut p = Peer::new(GmsBackend::new(
        &lp_config(GmsTransport::LongPolling),
        3,
        None,
    ));
    p.start();
    assert!(p.opens.is_empty(), "no WebSocket at all");
    let hs = posts(&mut p);
    assert_eq!(hs[0].1[0]["channel"], "/meta/handshake");
    assert_eq!(hs[0].1[0]["supportedConnectionTypes"], j!(["long-polling"]));
    p.respond(hs[0].0, 200, &j!([{"id":hs[0].1[0]["id"],"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"],
        "clientId":"lp1","successful":true,"advice":{"reconnect":"retry","interval":0,"timeout":30000}}]).to_string());
    let c = posts(&mut p);
    assert_eq!(c[0].1[0]["channel"], "/meta/connect");
    assert_eq!(c[0].1[0]["connectionType"], "long-polling");
    p.respond(c[0].0, 200, &j!([{"id":c[0].1[0]["id"],"channel":"/meta/connect","successful":true,"advice":{"reconnect":"retry","interval":0,"timeout":30000}}]).to_string());
    assert_eq!(p.last_connection(), Some(ConnectionState::Online));
    p.advance(0);
    let held = posts(&mut p);
    assert_eq!(held.len(), 1, "one connect held by the server");
    // A chat operation goes in its own POST while the connect is held.
    p.backend.send_message("c1", "Hi", p.now);
    p.drain();
    let rc = posts(&mut p);
    assert_eq!(rc[0].1[0]["data"]["operation"], "requestChat");
    assert_eq!(rc[0].1[0]["clientId"], "lp1");
    // Its answer comes inside the held connect's reply (CometD delivers queued messages there).
    let answer = j!({"statusCode":0,"alias":"117","userId":"U","secureKey":"k","chatId":"ch","chatEnded":false,"nextPosition":2,
        "messages":[{"from":{"nickname":"Visitor","participantId":1,"type":"Client"},"index":1,"type":"ParticipantJoined","utcTime":1}]});
    p.respond(
        rc[0].0,
        200,
        &j!([{"id":rc[0].1[0]["id"],"channel":CH,"successful":true}]).to_string(),
    );
    p.respond(held[0].0, 200, &j!([{"id":held[0].1[0]["id"],"channel":"/meta/connect","successful":true},{"channel":CH,"data":answer}]).to_string());
    p.advance(0);
    let next = posts(&mut p);
    let ops: Vec<_> = next.iter().flat_map(|(_, m)| m.clone()).collect();
    assert!(
        ops.iter().any(|m| m["channel"] == "/meta/connect"),
        "the next connect"
    );
    assert!(ops
        .iter()
        .any(|m| m["data"]["operation"] == "sendMessage" && m["data"]["message"] == "Hi"));
}

#[test]
fn auto_falls_back_to_long_polling_when_the_websocket_never_opens() {
    let mut p = Peer::new(GmsBackend::new(&lp_config(GmsTransport::Auto), 3, None));
    p.start();
    assert_eq!(p.opens, ["wss://gms.test/genesys/cometd"]);
    // The upgrade is refused (a proxy): the socket closes without ever opening.
    p.close(1006);
    for _ in 0..5 {
        if !p.http.is_empty() {
            break;
        }
        p.advance_to_next_deadline();
        if p.opens.len() > 1 && p.http.is_empty() {
            p.close(1006);
        }
    }
    let hs = posts(&mut p);
    assert!(!hs.is_empty(), "falls back to HTTP");
    assert_eq!(hs[0].1[0]["channel"], "/meta/handshake");
    assert!(p.backend.is_long_polling());
}

#[test]
fn auto_uses_long_polling_when_the_handshake_does_not_offer_websocket() {
    let mut p = Peer::new(GmsBackend::new(&lp_config(GmsTransport::Auto), 3, None));
    p.start();
    p.open();
    let hs = frames(&mut p);
    p.recv(&j!([{"id":hs[0]["id"],"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"],
        "clientId":"x","successful":true,"advice":{"reconnect":"retry","interval":0,"timeout":30000}}]).to_string());
    let http = posts(&mut p);
    assert_eq!(
        http[0].1[0]["channel"], "/meta/handshake",
        "handshakes again over HTTP"
    );
    assert!(p.backend.is_long_polling());
}

#[test]
fn an_unanswered_request_chat_is_asked_again() {
    let mut p = Peer::new(GmsBackend::new(&config(), 3, None));
    p.start();
    p.open();
    p.recv(&handshake_ok("1"));
    p.recv(&connect_ok("2"));
    p.backend.send_message("c1", "hello", p.now);
    p.drain();
    assert_eq!(operations(&frames(&mut p))[0]["operation"], "requestChat");
    p.advance(19_000);
    assert!(operations(&frames(&mut p)).is_empty(), "not yet");
    p.advance(1_000);
    assert_eq!(operations(&frames(&mut p))[0]["operation"], "requestChat");
}
