// Settings of the reference Push server that a real deployment decides. Each one is an env var
// and can be changed at run time with POST /_control/config {key: value, ...} (GET shows them,
// POST /_control/reset puts them back). Every default is what the SocketCluster-era Push server
// did, with the file that shows it, or — said so in its comment — a guess kept as a flag because
// no source of that server is public (only its clients and the courier side are).
//
// Sources read (public repositories):
//  - Ilhasoft/weni-webchannel up to commit abbfa90 (= npm push-webchat 1.8.0, package.json):
//    src/components/Widget/index.js (initializeWidget: registerUser, subscribeBotMessages:
//    `data.to === localId`, trySendInitPayload), src/store/store.js (EMIT_NEW_USER_MESSAGE),
//    src/index.js (Socket wrapper, bundled socketcluster.min.js: client version "9.0.0").
//  - nyaruka/courier handlers/external/handler.go (Send; handlers/external/external.go and
//    handlers/utils.go at 8806637d, Nov 2020), handlers/split.go (SplitMsgByChannel, SplitText).
//  - push-platform/push-apps general/channels/types/pushinho/utils.py (create_config) and
//    views.py: Push's channel is an external channel posting JSON to PUSH_WEB_SOCKET_URL with
//    max_length 640, its address the channel name.
//  - A Push-compatible re-implementation, "CCL Websocket Server" (main.go of the Go module
//    github.com/greatnonprofits-nfp/ccl-chatbot/server/v2, seen in the public code index under
//    an unnamed repository): answers getHistory, sends every body both as #publish and as
//    receivedMessageFromChannel, its newMsgPayload has metadata and attachments fields.
//  - socketcluster-server 9.1.3 (tools/node_modules: scserver.js, scsocket.js), sc-simple-broker,
//    socketcluster-client 9 (lib/scsocket.js, lib/sctransport.js).
"use strict";

const { bool, num, str, settings } = require("../lib/settings");

const DEFAULTS = Object.freeze({
  // PUSH_ACK. Whether sendMessageToChannel emitted WITH a callback is answered (null, "success").
  // Push's own widget never passes one (weni-webchannel abbfa90 src/store/store.js
  // EMIT_NEW_USER_MESSAGE and Widget/index.js trySendInitPayload: socket.emit(
  // 'sendMessageToChannel', {text, userUrn}) with no third argument), so nothing shows the
  // SocketCluster-era server ever answered: default false, the emit is never acknowledged and
  // the v9 client's callback times out (ackTimeout 10 s). true = this reference server's older
  // behaviour, and what a later server may do (a guess kept as a flag). "success" is the body
  // Push-side courier code expects from the socket server (push-platform/courier-handlers
  // pushinho/pushinho.go: `string(response.Body) != "success"` is a failed send).
  ack: bool("PUSH_ACK", false),
  // PUSH_SPLIT_LENGTH. Courier's External channel splits text+attachments with
  // SplitMsgByChannel(channel, GetTextAndAttachments(msg), max) where max is the channel's
  // `max_length` config, 160 when unset (handlers/external/handler.go:
  // IntConfigForKey(ConfigMaxLength, 160)); Push's channel sets 640 (push-apps pushinho/utils.py
  // create_config: Channel.CONFIG_MAX_LENGTH: 640). Every part of one message carries the same
  // `id` (msg.ID()). 0 = never split (no real deployment; for tests).
  split_length: num("PUSH_SPLIT_LENGTH", 640),
  // PUSH_BOTH_PATHS. Whether each body is also emitted as the event receivedMessageFromChannel
  // to every socket subscribed to that urn, right after the #publish. The CCL re-implementation
  // does exactly that (main.go receiveMessage: SendChannelMessage(payload.To, "#publish"...) then
  // SendChannelMessage(payload.To, "receivedMessageFromChannel"...)); push-webchat 1.8.0 never
  // listens for it. Default false (SocketCluster's exchange.publish only).
  both_paths: bool("PUSH_BOTH_PATHS", false),
  // PUSH_SUBSCRIBE_ANSWER. socketcluster-server answers every #subscribe (scserver.js
  // _handleSocketConnection, scSocket.on('#subscribe') -> res()), default true. false = the
  // subscription takes effect (publishes are delivered) but the answer is never sent, as the
  // known re-implementation does (CCL main.go routes #subscribe to handlers.HandleSubscribe; that
  // it sends no answer is from the issue: its handlers' source is not public). The v9 client
  // sends #subscribe with noTimeout (lib/scsocket.js _trySubscribe), so its channel stays
  // "pending" for ever and still delivers publishes (isSubscribed(name, includePending)).
  subscribe_answer: bool("PUSH_SUBSCRIBE_ANSWER", true),
  // PUSH_SET_AUTH_TOKEN. Whether registerUser also calls socket.setAuthToken({urn}): the server
  // sends #setAuthToken {token} (scsocket.js setAuthToken), the v9 client stores the JWT and
  // presents it in its next #handshake (lib/sctransport.js _handshake: {authToken}). Nothing shows
  // Push did this: a guess kept as a flag, default false.
  set_auth_token: bool("PUSH_SET_AUTH_TOKEN", false),
  // PUSH_HISTORY. Whether the emit getHistory {urn, after?} is answered (null, [bodies]). The
  // SocketCluster-era server had no history: SocketCluster delivers a publish to current
  // subscribers only (sc-simple-broker _handleExchangeMessage loops over _clientSubscribers) and
  // an emit nobody listens for is never answered. A later Push-compatible server answers it
  // (CCL main.go: msg.Event == "getHistory" -> handlers.HandleGetHistory; its answer's shape is
  // not public: here the published bodies of that urn, oldest first). Default false.
  history: bool("PUSH_HISTORY", false),
  // PUSH_UNKNOWN_URN: what sendMessageToChannel does with a userUrn the server does not know
  // (never registered, or forgotten by POST /_control/restart {forget: true}). UNKNOWN for the
  // real server.
  //  "drop"   not stored, not answered (there is no ack), one log line (default).
  //  "accept" stored and answered by the agent as a new conversation: what a server that only
  //           relays to courier would do (courier's receive creates the contact from `from`:
  //           handlers/external/handler.go receiveMessage -> NewIncomingMsg).
  unknown_urn: str("PUSH_UNKNOWN_URN", "drop"),
  // PUSH_ATTACHMENTS_FIELD. Whether bodies also carry `attachments: [url]` (on the last part)
  // besides the URLs courier appends to the text. Courier's External form has no such field
  // (handler.go Send: id, text, to, to_no_plus, from, from_no_plus, channel, session_status,
  // quick_replies); the CCL server's newMsgPayload has one. Default false.
  attachments_field: bool("PUSH_ATTACHMENTS_FIELD", false),
});

const CHOICES = {
  unknown_urn: ["drop", "accept"],
};

module.exports = settings(DEFAULTS, CHOICES);
