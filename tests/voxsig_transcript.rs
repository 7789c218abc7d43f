//! Voxsig (ActionCable + public REST API) transcripts. Frames follow Rails ActionCable and the
//! event payloads follow the Voxsig document's object shapes.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use chat_widget::config::VoxsigConfig;
use chat_widget::core::voxsig::{self, VoxsigBackend};
use chat_widget::core::{
    ChatBackend, ChatError, ChatEvent, ConnectionState, ConversationStatus, DeliveryStatus,
    HttpMethod, Presence, Role,
};
use common::{json, Peer};
use serde_json::{json as j, Value};

const API: &str = "https://chat.test/public/api/v1/inboxes/inbox-abc";
const IDENT: &str = r#"{"channel":"RoomChannel","pubsub_token":"tok-123"}"#;

fn config() -> VoxsigConfig {
    VoxsigConfig {
        base_url: "https://chat.test".into(),
        inbox_identifier: "inbox-abc".into(),
        account_id: None,
        user_id: None,
        presence_interval_ms: 30_000,
    }
}

fn cable(event: &str, data: Value) -> String {
    j!({"identifier": IDENT, "message": {"event": event, "data": data}}).to_string()
}

fn agent() -> Value {
    j!({"id": 7, "name": "Ana Lima", "available_name": "Ana", "avatar_url": "https://chat.test/a.png", "type": "user", "availability_status": "online", "thumbnail": ""})
}

fn message(id: u64, message_type: u64, content: &str) -> Value {
    j!({"id": id, "content": content, "account_id": 1, "inbox_id": 2, "conversation_id": 42, "message_type": message_type,
        "created_at": 1_700_000_000 + id, "private": false, "status": "sent", "source_id": null, "content_type": "text",
        "content_attributes": {}, "sender_type": if message_type == 0 { "Contact" } else { "User" }, "sender_id": 7,
        "sender": if message_type == 0 { j!({"id": 3, "name": "Visitor", "type": "contact"}) } else { agent() }})
}

/// Contact created, socket subscribed, conversation 42 exists.
fn subscribed() -> Peer<VoxsigBackend> {
    let snapshot = j!({"contact": {"source_id": "src-1", "pubsub_token": "tok-123"}, "conversation_id": 42, "outbox": {"items": []}});
    let mut p = Peer::new(VoxsigBackend::new(
        &config(),
        5,
        Some(&snapshot.to_string()),
    ));
    p.start();
    p.open();
    p.recv(r#"{"type":"welcome"}"#);
    p.recv(r#"{"identifier":"{\"channel\":\"RoomChannel\",\"pubsub_token\":\"tok-123\"}","type":"confirm_subscription"}"#);
    // The history fetch at start and the catch-up after the subscription: an empty conversation.
    for _ in 0..2 {
        let fetch = p.take_http().pop().expect("catch-up fetch");
        assert_eq!(fetch.method, HttpMethod::Get);
        p.respond(fetch.id, 200, "[]");
    }
    assert!(p.take_http().is_empty());
    p.take_frames();
    p.take_events();
    p
}

#[test]
fn happy_path_contact_socket_subscription_conversation_message() {
    let mut p = Peer::new(VoxsigBackend::new(&config(), 5, None));
    p.start();
    let req = p.take_http().pop().unwrap();
    assert_eq!(
        (req.method, req.url.as_str(), req.body.as_deref()),
        (
            HttpMethod::Post,
            format!("{API}/contacts").as_str(),
            Some("{}")
        )
    );
    assert!(p.opens.is_empty(), "no socket before there is a token");
    p.respond(req.id, 200, r#"{"source_id":"src-1","pubsub_token":"tok-123","id":3,"name":"","email":null,"phone_number":null}"#);
    assert_eq!(p.opens, ["wss://chat.test/cable"]);
    p.open();
    assert!(p.take_frames().is_empty(), "ActionCable: wait for welcome");
    p.recv(r#"{"type":"welcome"}"#);
    assert_eq!(
        p.take_frames(),
        [j!({"command":"subscribe","identifier":IDENT}).to_string()]
    );
    assert_ne!(p.last_connection(), Some(ConnectionState::Online));
    p.recv(&j!({"identifier":IDENT,"type":"confirm_subscription"}).to_string());
    assert_eq!(p.last_connection(), Some(ConnectionState::Online));
    assert_eq!(
        json(&p.take_frames()[0]),
        j!({"command":"message","identifier":IDENT,"data":"{\"action\":\"update_presence\"}"})
    );
    assert!(
        p.take_http().is_empty(),
        "no conversation yet, nothing to catch up"
    );

    // The first message creates the conversation, then posts with echo_id.
    p.backend.send_message("c-1", "Hello", p.now);
    p.drain();
    let create = p.take_http().pop().unwrap();
    assert_eq!(create.url, format!("{API}/contacts/src-1/conversations"));
    p.respond(create.id, 200, r#"{"id":42,"uuid":"u","inbox_id":2,"contact_last_seen_at":0,"status":"open","messages":[]}"#);
    let post = p.take_http().pop().unwrap();
    assert_eq!(
        post.url,
        format!("{API}/contacts/src-1/conversations/42/messages")
    );
    assert_eq!(
        json(post.body.as_deref().unwrap()),
        j!({"content":"Hello","echo_id":"c-1"})
    );
    // The socket echo may beat the REST answer; either way, one message.
    let mut echo = message(100, 0, "Hello");
    echo["echo_id"] = "c-1".into();
    p.recv(&cable("message.created", echo));
    p.respond(post.id, 200, &message(100, 0, "Hello").to_string());
    let updates: Vec<_> = p
        .events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::MessageUpdated(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(updates.len(), 2);
    assert!(updates
        .iter()
        .all(|m| m.client_id.as_deref() == Some("c-1") && m.id == "100"));
    assert!(
        !p.events
            .iter()
            .any(|e| matches!(e, ChatEvent::MessageAdded(_))),
        "never shown twice"
    );
}

#[test]
fn every_documented_event_is_handled_or_deliberately_ignored() {
    let mut p = subscribed();
    let conversation = j!({"id": 42, "inbox_id": 2, "status": "open", "meta": {"sender": {"id": 3}, "assignee": agent()}, "unread_count": 0, "timestamp": 1});
    p.recv(&cable("conversation.created", conversation.clone()));
    p.recv(&cable("message.created", message(101, 1, "Hi, I'm Ana")));
    let mut edited = message(101, 1, "Hi, I'm Ana (edited)");
    edited["status"] = "read".into();
    p.recv(&cable("message.updated", edited));
    p.recv(&cable(
        "conversation.typing_on",
        j!({"conversation": conversation, "user": agent(), "is_private": false, "account_id": 1}),
    ));
    p.recv(&cable(
        "conversation.typing_off",
        j!({"conversation": conversation, "user": agent(), "account_id": 1}),
    ));
    p.recv(&cable(
        "presence.update",
        j!({"account_id": 1, "users": {"7": "busy"}}),
    ));
    let mut resolved = conversation.clone();
    resolved["status"] = "resolved".into();
    p.recv(&cable("conversation.status_changed", resolved));
    p.recv(&cable("assignee.changed", conversation.clone()));
    for ignored in [
        "conversation.read",
        "team.changed",
        "conversation.contact_changed",
    ] {
        p.recv(&cable(ignored, conversation.clone()));
    }
    p.recv(&cable("contact.created", j!({"id": 3, "name": "Visitor"})));
    p.recv(&cable("contact.updated", j!({"id": 3, "name": "Visitor"})));
    p.recv(&cable(
        "notification_created",
        j!({"notification": {"id": 1}, "unread_count": 1, "count": 1}),
    ));
    p.recv(&cable(
        "notification.created",
        j!({"notification": {"id": 1}, "unread_count": 1, "count": 1}),
    ));
    let e = p.take_events();
    let has = |f: &dyn Fn(&ChatEvent) -> bool| e.iter().any(f);
    assert!(has(
        &|e| matches!(e, ChatEvent::AgentChanged(Some(a)) if a.name.as_deref() == Some("Ana") && a.avatar_url.is_some())
    ));
    assert!(has(
        &|e| matches!(e, ChatEvent::MessageAdded(m) if m.author.role == Role::Agent && m.sent_at == 1_700_000_101_000)
    ));
    assert!(has(
        &|e| matches!(e, ChatEvent::MessageUpdated(m) if m.text.ends_with("(edited)"))
    ));
    assert!(has(
        &|e| matches!(e, ChatEvent::TypingStarted(a) if a.role == Role::Agent)
    ));
    assert!(has(&|e| matches!(e, ChatEvent::TypingStopped(_))));
    assert!(has(&|e| matches!(
        e,
        ChatEvent::PresenceChanged(Presence::Away)
    )));
    assert!(has(&|e| matches!(
        e,
        ChatEvent::ConversationStatusChanged(ConversationStatus::Resolved)
    )));
    assert!(
        !has(&|e| matches!(e, ChatEvent::Error(_))),
        "documented agent-only events are ignored silently: {e:?}"
    );
    p.recv(&cable("brand.new_event", j!({})));
    assert!(matches!(
        p.take_events()[..],
        [ChatEvent::Error(ChatError::Protocol(_))]
    ));
}

#[test]
fn private_notes_activity_other_conversations_and_private_typing_are_not_shown() {
    let mut p = subscribed();
    let mut private = message(102, 1, "internal note");
    private["private"] = true.into();
    p.recv(&cable("message.created", private));
    p.recv(&cable(
        "message.created",
        message(103, 2, "Conversation was resolved"),
    ));
    let mut other = message(104, 1, "other conversation");
    other["conversation_id"] = 43.into();
    p.recv(&cable("message.created", other));
    p.recv(&cable(
        "conversation.typing_on",
        j!({"conversation": {"id": 42}, "user": agent(), "is_private": true}),
    ));
    assert!(p.take_events().is_empty());
}

#[test]
fn pings_keep_it_alive_and_silence_reconnects_then_catches_up_after_confirmation() {
    let mut p = subscribed();
    p.recv(&cable("message.created", message(110, 1, "before drop")));
    for _ in 0..3 {
        p.advance(3_000);
        p.recv(r#"{"type":"ping","message":1700000000}"#);
    }
    assert!(p.closes.is_empty());
    p.advance(6_000);
    assert_eq!(p.closes.len(), 1, "two missed pings make it stale");
    p.advance(p.reconnect_delay());
    assert_eq!(p.opens.len(), 2);
    p.open();
    p.recv(r#"{"type":"welcome"}"#);
    assert!(
        p.take_http().is_empty(),
        "no catch-up before the subscription is confirmed"
    );
    p.recv(&j!({"identifier":IDENT,"type":"confirm_subscription"}).to_string());
    // Chatwoot ignores after=: the latest page, then pages backwards to the newest known id.
    let fetch = p.take_http().pop().unwrap();
    assert_eq!(
        fetch.url,
        format!("{API}/contacts/src-1/conversations/42/messages")
    );
    // 20 messages arrived while away: the latest page holds exactly them.
    let page: Vec<Value> = (111..131)
        .map(|id| message(id, 1, &format!("m{}", id - 111)))
        .collect();
    p.respond(fetch.id, 200, &Value::Array(page).to_string());
    let fetch = p.take_http().pop().expect("the page before");
    assert_eq!(
        fetch.url,
        format!("{API}/contacts/src-1/conversations/42/messages?before=111")
    );
    let older: Vec<Value> = (95..111).map(|id| message(id, 1, "old")).collect();
    p.respond(fetch.id, 200, &Value::Array(older).to_string());
    // 110 came over the socket just before the drop: broadcasts older than it may have been
    // lost with the socket, so paging goes on down to what a catch-up last proved complete.
    let fetch = p.take_http().pop().expect("the page before");
    assert!(fetch.url.ends_with("?before=95"));
    p.respond(fetch.id, 200, "[]");
    assert!(p.take_http().is_empty(), "the gap is closed");
    let mut expected = vec!["before drop".to_string()];
    expected.extend((0..20).map(|i| format!("m{i}")));
    assert_eq!(p.message_texts(), expected, "all 20, once");
    // Older than what was shown: placed quietly, not announced as new.
    let quiet = p
        .events
        .iter()
        .filter(|e| matches!(e, ChatEvent::MessageRestored(m) if m.text == "old"))
        .count();
    assert_eq!(quiet, 15);
}

#[test]
fn silent_subscription_is_a_failure_and_starts_over_on_a_new_socket() {
    let snapshot = j!({"contact": {"source_id": "src-1", "pubsub_token": "bad"}, "conversation_id": null, "outbox": {"items": []}});
    let mut p = Peer::new(VoxsigBackend::new(
        &config(),
        5,
        Some(&snapshot.to_string()),
    ));
    p.start();
    p.open();
    p.recv(r#"{"type":"welcome"}"#);
    p.advance(2_999);
    p.recv(r#"{"type":"ping","message":1}"#);
    p.advance(2_001);
    assert!(p
        .events
        .iter()
        .any(|e| matches!(e, ChatEvent::Error(ChatError::Unauthorized(_)))));
    assert_eq!(p.closes.len(), 1);
    assert!(matches!(
        p.last_connection(),
        Some(ConnectionState::Reconnecting { .. })
    ));
}

#[test]
fn rejected_subscription_and_unauthorized_disconnect_stop_for_good() {
    let mut p = subscribed();
    p.recv(&j!({"identifier":IDENT,"type":"reject_subscription"}).to_string());
    assert_eq!(p.last_connection(), Some(ConnectionState::Offline));
    assert_eq!(p.backend.poll_timeout(), None);

    let mut q = subscribed();
    q.recv(r#"{"type":"disconnect","reason":"unauthorized","reconnect":false}"#);
    assert_eq!(q.last_connection(), Some(ConnectionState::Offline));

    let mut r = subscribed();
    r.recv(r#"{"type":"disconnect","reason":"server_restart","reconnect":true}"#);
    // A working connection that drops is tried again within a second, not after 3 s.
    assert!(r.reconnect_delay() < 1_000);
}

#[test]
fn messages_go_one_at_a_time_in_order_and_survive_server_errors() {
    let mut p = subscribed();
    for i in 0..5 {
        p.backend
            .send_message(&format!("c{i}"), &format!("m{i}"), p.now);
    }
    p.drain();
    let mut bodies = Vec::new();
    let mut first = true;
    let mut lookups = 0;
    while let Some(req) = p.take_http().pop() {
        if req.method == HttpMethod::Get {
            // Before sending again, the message is looked for: not there.
            lookups += 1;
            p.respond(req.id, 200, "[]");
            continue;
        }
        bodies.push(
            json(req.body.as_deref().unwrap())["content"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        if first {
            // A server error: the message may or may not be stored; looked for, then sent again.
            first = false;
            p.respond(req.id, 503, "");
            bodies.pop();
            // Looked for once a request still on its way would have arrived.
            p.advance(voxsig::LOOKUP_GRACE + 1_000);
            continue;
        }
        let id = 200 + bodies.len() as u64;
        p.respond(
            req.id,
            200,
            &message(id, 0, bodies.last().unwrap()).to_string(),
        );
    }
    assert_eq!(lookups, 1);
    assert_eq!(bodies, ["m0", "m1", "m2", "m3", "m4"]);
    let sent = p
        .events
        .iter()
        .filter(|e| matches!(e, ChatEvent::MessageUpdated(m) if m.status == DeliveryStatus::Sent))
        .count();
    assert_eq!(sent, 5);
}

#[test]
fn a_send_whose_answer_was_lost_is_found_on_the_server_not_sent_twice() {
    let mut p = subscribed();
    p.recv(&cable("message.created", message(300, 1, "hi")));
    p.backend.send_message("c1", "ok", p.now);
    p.drain();
    let post = p.take_http().pop().unwrap();
    p.respond(post.id, 0, ""); // Stored, but the answer never came.
    p.advance(voxsig::LOOKUP_GRACE);
    let page = p.take_http().pop().expect("looked for first");
    assert_eq!(page.method, HttpMethod::Get);
    // An older "ok" (id 290) is someone else's; 305 was stored after the send began.
    p.respond(
        page.id,
        200,
        &j!([
            message(290, 0, "ok"),
            message(300, 1, "hi"),
            message(305, 0, "ok")
        ])
        .to_string(),
    );
    assert!(p.take_http().is_empty(), "not posted again");
    assert!(p.events.iter().any(|e| matches!(e,
        ChatEvent::MessageUpdated(m) if m.client_id.as_deref() == Some("c1") && m.id == "305")));
    assert!(!p.backend.snapshot().contains("\"ok\""), "confirmed");
}

#[test]
fn a_refused_message_is_marked_failed_not_dropped_silently() {
    let mut p = subscribed();
    p.backend.send_message("c1", "x", p.now);
    p.drain();
    let req = p.take_http().pop().unwrap();
    p.respond(req.id, 422, r#"{"error":"invalid"}"#);
    assert!(p
        .events
        .iter()
        .any(|e| matches!(e, ChatEvent::Error(ChatError::SendFailed(id)) if id == "c1")));
}

#[test]
fn unknown_inbox_is_a_configuration_error() {
    let mut p = Peer::new(VoxsigBackend::new(&config(), 5, None));
    p.start();
    let req = p.take_http().pop().unwrap();
    p.respond(req.id, 404, r#"{"error":"not found"}"#);
    assert!(p
        .events
        .iter()
        .any(|e| matches!(e, ChatEvent::Error(ChatError::Config(s)) if s.contains("voxsigInbox"))));
}

#[test]
fn network_failure_creating_the_contact_is_retried() {
    let mut p = Peer::new(VoxsigBackend::new(&config(), 5, None));
    p.start();
    let req = p.take_http().pop().unwrap();
    p.respond(req.id, 0, "");
    assert!(p.take_http().is_empty());
    p.advance_to_next_deadline();
    assert_eq!(p.take_http().pop().unwrap().url, format!("{API}/contacts"));
}

#[test]
fn reload_resumes_with_the_full_transcript_and_pending_outbox() {
    let mut p = subscribed();
    p.recv(&cable("message.created", message(2, 1, "hi!")));
    p.backend.send_message("c9", "typed before reload", p.now);
    p.drain();
    let snap = p.backend.snapshot();
    assert!(snap.contains("typed before reload"));
    let mut q = Peer::new(VoxsigBackend::new(&config(), 6, Some(&snap)));
    q.start();
    assert_eq!(q.message_texts(), ["typed before reload"]);
    // In flight at the reload: looked for in the whole transcript before anything is posted.
    let fetch = q.take_http().pop().unwrap();
    assert_eq!(
        fetch.url,
        format!("{API}/contacts/src-1/conversations/42/messages"),
        "the whole transcript after a reload"
    );
    q.respond(
        fetch.id,
        200,
        &j!([
            message(1, 0, "hello"),
            message(2, 1, "hi!"),
            message(3, 1, "new")
        ])
        .to_string(),
    );
    let fetch = q.take_http().pop().unwrap();
    assert!(fetch.url.ends_with("?before=1"));
    q.respond(fetch.id, 200, "[]");
    assert!(
        q.take_http().is_empty(),
        "not yet: the old page's request may still be on its way"
    );
    q.advance(voxsig::LOOKUP_GRACE);
    let fetch = q.take_http().pop().expect("looked for again");
    q.respond(fetch.id, 200, "[]");
    let post = q.take_http().pop().expect("not on the server: sent again");
    assert_eq!(json(post.body.as_deref().unwrap())["echo_id"], "c9");
    // Messages shown before the reload come back quietly; only "new" is new.
    assert_eq!(q.message_texts(), ["typed before reload", "new"]);
    let restored = q
        .events
        .iter()
        .filter(|e| matches!(e, ChatEvent::MessageRestored(_)))
        .count();
    assert_eq!(restored, 2);
}

#[test]
fn typing_read_and_end_use_the_public_api() {
    let mut p = subscribed();
    p.backend.mark_read(p.now); // Nothing new seen: nothing to report.
    p.recv(&cable("message.created", message(7, 1, "hi")));
    p.backend.set_typing(true, p.now);
    p.backend.mark_read(p.now);
    p.backend.mark_read(p.now);
    p.backend.end_chat(p.now);
    p.drain();
    let urls: Vec<_> = p
        .take_http()
        .into_iter()
        .map(|r| (r.url.replace(API, ""), r.body.unwrap_or_default()))
        .collect();
    assert_eq!(
        urls,
        [
            (
                "/contacts/src-1/conversations/42/toggle_typing".to_string(),
                r#"{"typing_status":"on"}"#.to_string()
            ),
            (
                "/contacts/src-1/conversations/42/update_last_seen".to_string(),
                "{}".to_string()
            ),
            (
                "/contacts/src-1/conversations/42/toggle_status".to_string(),
                "{}".to_string()
            ),
        ]
    );
    assert_eq!(p.last_connection(), Some(ConnectionState::Ended));
}

#[test]
fn messages_read_as_they_come_mark_read_once_per_gap() {
    let mut p = subscribed();
    let last_seen = |p: &mut Peer<VoxsigBackend>| {
        p.drain();
        p.take_http()
            .into_iter()
            .filter(|r| r.url.ends_with("/update_last_seen"))
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    p.recv(&cable("message.created", message(7, 1, "one")));
    p.backend.mark_read(p.now);
    let first = last_seen(&mut p);
    assert_eq!(first.len(), 1, "the first read is reported at once");
    p.respond(first[0], 200, "");
    // A burst, each message read as it comes, the server answering at once.
    for id in 8..20 {
        p.advance(10);
        p.recv(&cable("message.created", message(id, 1, "more")));
        p.backend.mark_read(p.now);
        assert!(last_seen(&mut p).is_empty(), "no call within the gap");
    }
    p.advance(2_000);
    let second = last_seen(&mut p);
    assert_eq!(second.len(), 1, "the rest is reported once the gap is over");
    p.respond(second[0], 200, "");
    p.advance(5_000);
    assert!(last_seen(&mut p).is_empty(), "nothing new seen: no call");
}

#[test]
fn account_and_user_ids_go_into_the_identifier() {
    let mut c = config();
    c.account_id = Some(1);
    c.user_id = Some(9);
    let snapshot = j!({"contact": {"source_id": "s", "pubsub_token": "t"}, "conversation_id": null, "outbox": {"items": []}});
    let mut p = Peer::new(VoxsigBackend::new(&c, 5, Some(&snapshot.to_string())));
    p.start();
    p.open();
    p.recv(r#"{"type":"welcome"}"#);
    let frame = json(&p.take_frames()[0]);
    assert_eq!(
        json(frame["identifier"].as_str().unwrap()),
        j!({"channel":"RoomChannel","pubsub_token":"t","account_id":1,"user_id":9})
    );
}

#[test]
fn malformed_frames_are_reported_and_ignored() {
    let mut p = subscribed();
    for bad in [
        "{",
        "[]",
        "3",
        r#"{"identifier":"x"}"#,
        r#"{"type":"mystery"}"#,
    ] {
        p.recv(bad);
    }
    p.recv(&cable("message.created", j!({"content": "no id"})));
    p.recv(&cable("message.created", message(120, 1, "fine")));
    assert_eq!(p.message_texts(), ["fine"]);
}
