// The control API every reference backend offers on loopback, for tests and the demo:
//   GET  /_control/health            {ok: true}
//   GET  /_control/received          what visitors sent, in arrival order
//   POST /_control/agent/say         {text}           the agent writes
//   POST /_control/agent/typing      {on}             the agent starts/stops typing
//   POST /_control/agent/presence    {status}         online | away | offline
//   POST /_control/agent/end                          the agent ends the conversation(s)
//   POST /_control/drop                               drop every connection now
//   POST /_control/refuse            {seconds}        refuse new connections for a while
//   POST /_control/restart                            forget connection state, as a restart would
"use strict";

function readJson(req) {
  return new Promise((resolve) => {
    let body = "";
    req.on("data", (c) => { body += c; if (body.length > 1e6) req.destroy(); });
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
