// Settings of the reference GMS server that a real deployment decides. Each one is an env var
// and can be changed at run time with POST /_control/config {key: value, ...} (GET shows them,
// POST /_control/reset puts them back). Every default is either what the real software does,
// with the file or page that shows it, or — said so in its comment — a guess kept as a flag
// because we could not read what GMS does.
"use strict";

const { bool, num, str, settings } = require("../lib/settings");

const DEFAULTS = Object.freeze({
  // GMS_WEBSOCKET. CometD's server offers "websocket" first whenever the WebSocket transport is
  // installed (cometd-java-server BayeuxServerImpl.getAllowedTransports, default allowed
  // transports websocket,long-polling,callback-polling), and Genesys' sample turns it on
  // (seed ChatV2CometDWebSocketSample: objCometD.websocketEnabled). false = a proxy in front of
  // GMS that refuses the upgrade: HTTP 403 on upgrade, "websocket" left out of the handshake's
  // supportedConnectionTypes.
  websocket: bool("GMS_WEBSOCKET", true),
  // GMS_LONG_POLLING. Bayeux 1.0: a server MUST support long-polling (cometd-documentation
  // bayeux.adoc); CometD always installs it (AsyncJSONTransport). false = POSTs to the CometD
  // path are answered HTTP 400 "Unknown Bayeux Transport" (CometDServlet.service).
  long_polling: bool("GMS_LONG_POLLING", true),
  // GMS_BROWSER_COOKIE. Since CometD 3.0.6 (cometd/cometd #608 "Improve protection against
  // stolen clientId", commit 2d64adbd9; reworked for several tabs in 3.0.7, #612, 95368d9fc) a
  // long-polling request finds its session only through the BAYEUX_BROWSER cookie that the
  // handshake reply sets (AbstractHttpTransport.findCurrentSessions / findSession /
  // setBrowserId); without the cookie every request after the handshake is answered
  // 402::Unknown client. A deployment can turn that off with trustClientSession=true (added in
  // 3.0.10, #641 "Unable to connect from browsers that block 3rd party cookies"); CometD before
  // 3.0.6 looked the clientId up alone. Over WebSocket the session is found by clientId
  // (AbstractWebSocketTransport.processMessages). Which CometD GMS ships and whether it trusts
  // client sessions is UNKNOWN: default false (found by clientId); true = CometD 3.0.6+
  // defaults. The cookie is set on every long-polling handshake reply either way.
  browser_cookie: bool("GMS_BROWSER_COOKIE", false),
  // GMS_ERRORS: how an unknown (forgotten, expired) clientId is answered.
  //  "cometd"  402::Unknown client, advice {reconnect: "handshake", interval: 0} on handshake and
  //            connect replies (BayeuxServerImpl.unknownSession before cometd/cometd commit
  //            67ead91ca, i.e. CometD < 4.0.4, the generation GMS 8.5 ships; the seed sample
  //            compares response.error with "402:: Unknown client").
  //  "cometd4" 402::session_unknown, same advice (CometD >= 4.0.4, commit 67ead91ca).
  //  "faye"    401:<clientId>:Unknown client, advice {reconnect: "handshake"} without interval
  //            (faye src/protocol/error.js clientUnknown, server.js _advize), and — as faye's
  //            _handle does — a publish from an unknown client is NOT checked: it is accepted
  //            and performed, and any answer to it is lost.
  errors: str("GMS_ERRORS", "cometd"),
  // GMS_BATCHING. CometD's metaConnectDeliverOnly (AbstractServerTransport
  // META_CONNECT_DELIVERY_OPTION, default false): when true, events are never pushed on their own
  // or piggybacked on other replies, only returned with the next /meta/connect reply, over
  // WebSocket too (AbstractWebSocketEndPoint.WebSocketScheduler.schedule).
  batching: bool("GMS_BATCHING", false),
  // GMS_ECHO_ID. Whether a Chat V2 data answer carries the Bayeux id of the request. CometD's
  // service answers are new messages without an id (AbstractService.doInvoke -> send ->
  // ServerSessionImpl.deliver(sender, channel, data) builds the message from channel and data
  // only); only CometD's remote calls echo it, and Genesys' sample publishes and listens instead.
  // GMS's own service code is not public: default false, from CometD's behaviour.
  echo_id: bool("GMS_ECHO_ID", false),
  // GMS_REPLY_TO_SEND. Whether sendMessage gets its own statusCode 0 answer (messages [], no new
  // event) besides the pushed Message event. GMS's REST send answers
  // {"messages":[],"chatEnded":false,"statusCode":0,"alias":..,"secureKey":..,"userId":..,
  // "chatId":..,"nextPosition":3} (a captured answer in a public GMS client, HttpReqHandler.java
  // "codedepot.sms.utils"), and "the positive response is identical for any Chat V2 request"
  // (docs.genesys.com GMS API/APIResponses); whether the CometD API forwards it is UNKNOWN:
  // neither the seed sample nor GMSLibrary waits for one. Default false.
  reply_to_send: bool("GMS_REPLY_TO_SEND", false),
  // GMS_NORMALIZE. Whether sendMessage text is trimmed, CRLF -> LF and cut to max_length
  // characters before it is stored. UNKNOWN for GMS/Chat Server (Genesys Widgets only limits the
  // input box: WebChat maxMessageLength, docs.genesys.com GWC WidgetsAPI WebChatConfiguration).
  // Default false: stored as sent.
  normalize: bool("GMS_NORMALIZE", false),
  // GMS_MAX_LENGTH. The cut used by normalize (a guess: 4096 characters).
  max_length: num("GMS_MAX_LENGTH", 4096),
  // GMS_REORDER. CometD delivers a session's queue in order (ServerSessionImpl._queue, FIFO), so
  // default false. true = each live event is pushed alone after a random 0-300 ms, so a later
  // index can arrive first (GMS nodes in a cluster; "alias ... may change several times within
  // the same session", docs.genesys.com GMS API/APIResponses).
  reorder: bool("GMS_REORDER", false),
  // GMS_TRANSCRIPT_POSITION: how requestNotifications.transcriptPosition is read.
  //  "inclusive" events with index >= position, nextPosition = last index + 1 (APIResponses:
  //              "nextPosition: which event index to use to request a transcript in the next
  //              operation"; the seed sample passes the last index it has and skips
  //              index <= it, i.e. expects that one again).
  //  "exclusive" events with index > position, nextPosition = last index.
  transcript_position: str("GMS_TRANSCRIPT_POSITION", "inclusive"),
  // GMS_ERROR_SHAPE: the fields of a statusCode 1/2 answer.
  //  "full" {messages: [], chatEnded, statusCode, alias, chatId, errors: [{code, advice}]}, the
  //         only real GMS error answer we found: {"messages":[],"chatEnded":true,"statusCode":2,
  //         "alias":"1323","chatId":"0008TaFN3SE300RT","errors":[{"code":249,"advice":"Media
  //         server was not able to execute request. referenceId[10016629]"}]} (HttpReqHandler.java
  //         above, REST send). chatEnded is true when the chat is over (statusCode 2).
  //  "bare" {statusCode, errors} only: "other fields are not valid" (APIResponses); a client
  //         then has no chatEnded, which GMSLibrary ChatV2CometClient reads as ended
  //         (response.chatEnded ?? true).
  error_shape: str("GMS_ERROR_SHAPE", "full"),
  // GMS_CONNECT_TIMEOUT: how long /meta/connect is held (CometD AbstractServerTransport
  // _timeout = 30000; sent as advice.timeout). A client's own advice.timeout on a connect wins
  // for that connect (ServerSessionImpl.calculateTimeout, the transient timeout).
  timeout: num("GMS_CONNECT_TIMEOUT", 30000),
  // GMS_MAX_INTERVAL: a client without an outstanding /meta/connect for this long is forgotten
  // (CometD _maxInterval = 10000, ServerSessionImpl.scheduleExpiration; GMS "closes the socket
  // and sets a 10-second timer", docs.genesys.com GMS API/ChatPushNotification).
  max_interval: num("GMS_MAX_INTERVAL", 10000),
});

const CHOICES = {
  errors: ["cometd", "cometd4", "faye"],
  transcript_position: ["inclusive", "exclusive"],
  error_shape: ["full", "bare"],
};

module.exports = settings(DEFAULTS, CHOICES);
