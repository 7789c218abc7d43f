// The control API every reference backend offers on loopback, for tests, the demo and the
// agent console (console/). Where a body takes `conversation_id`, leaving it out means every
// open conversation.
//   GET  /_control/health            {ok: true}
//   GET  /_control/received          what visitors sent, in arrival order (duplicates included)
//   GET  /_control/conversations     {backend, features: {typing, presence, rich: [kind]},
//                                     conversations: [{id, status, visitor,
//                                       messages: [{id, from: visitor|agent|bot|system, text, kind, at}]}]}
//   POST /_control/agent/say         {text, conversation_id?}        the agent writes
//   POST /_control/agent/rich        {kind, conversation_id?}        a canned example of a rich
//                                    message (voxsig: input_select, cards, form, input_email,
//                                    article, csat, image; gms: push_url, notice; push:
//                                    quick_replies, image); 501 for a kind the backend lacks
//   POST /_control/agent/typing      {on, conversation_id?}          (push: 501, no such event)
//   POST /_control/agent/presence    {status}  online | away | offline (push: 501)
//   POST /_control/agent/end         {conversation_id?}              end / resolve
//   POST /_control/drop                               drop every connection now
//   POST /_control/refuse            {seconds}        refuse new connections for a while
//   POST /_control/restart                            forget connection state, as a restart would
// The Voxsig server has more (faults, deletions, bursts): see tests/backends/voxsig/rest.rb.
// The Push server has more (GET/POST /config, POST /reset, GET /published, /dropped, /sessions,
// POST /kickout, /restart {forget}): see tests/backends/push/server.js and options.js.
"use strict";

function readJson(req) {
  return new Promise((resolve) => {
    let body = "";
    req.on("data", (c) => { body += c; if (body.length > 4e6) req.destroy(); });
    req.on("end", () => { try { resolve(body ? JSON.parse(body) : {}); } catch { resolve(null); } });
  });
}

function send(res, status, value) {
  res.writeHead(status, {
    "content-type": "application/json",
    "access-control-allow-origin": "*",
    "access-control-allow-headers": "content-type",
    "access-control-allow-methods": "GET, POST, PATCH, OPTIONS",
  });
  res.end(JSON.stringify(value));
}

/** Handles /_control/* with `handlers`; returns false for other paths. */
async function handleControl(req, res, handlers) {
  const url = new URL(req.url, "http://x");
  if (!url.pathname.startsWith("/_control/")) return false;
  if (req.method === "OPTIONS") { send(res, 204, {}); return true; }
  const route = `${req.method} ${url.pathname.slice("/_control".length)}`;
  const handler = handlers[route];
  if (!handler) { send(res, 404, { error: `no control route ${route}` }); return true; }
  const body = req.method === "POST" ? await readJson(req) : {};
  if (body === null) { send(res, 400, { error: "body is not JSON" }); return true; }
  try {
    const out = await handler(body, url);
    send(res, out && out.status ? out.status : 200, out && out.status ? out.body : out ?? { ok: true });
  } catch (e) {
    send(res, 500, { error: String(e && e.message || e) });
  }
  return true;
}

/** Milliseconds the scripted agent waits before typing/answering (AGENT_DELAY_MS). */
const agentDelay = Number(process.env.AGENT_DELAY_MS || 400);
const later = (ms, fn) => setTimeout(fn, ms);

/** Refusal window shared by a server's connection paths. */
class Refusal {
  constructor() { this.until = 0; }
  refuse(seconds) { this.until = Date.now() + Math.max(0, Number(seconds) || 0) * 1000; }
  get active() { return Date.now() < this.until; }
}

module.exports = { handleControl, send, readJson, agentDelay, later, Refusal };
