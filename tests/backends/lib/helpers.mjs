// Shared helpers for the reference-backend tests.
export const ports = {
  voxsig: Number(process.env.VOXSIG_PORT || 3101),
  gms: Number(process.env.GMS_PORT || 3102),
  push: Number(process.env.PUSH_PORT || 3103),
};

export async function control(backend, path, body) {
  const res = await fetch(`http://127.0.0.1:${ports[backend]}/_control${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res.json();
}

/** The server's copy of the conversation holding a visitor message `text`, per its control API. */
export async function conversationWith(backend, text) {
  const { conversations } = await control(backend, "/conversations");
  return conversations.find((c) => c.messages.some((m) => m.from === "visitor" && m.text === text));
}

/** Resolves when `predicate()` is truthy, polling; rejects after `ms`. */
export async function until(predicate, ms = 5000, what = "condition") {
  const end = Date.now() + ms;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A raw Bayeux client over HTTP long-polling, for what the official CometD client hides
 * (message ids, HTTP codes, headers, reply order). Keeps the cookies the server sets unless
 * `cookies` is false. `post(messages, {path, headers})` -> {status, headers, body}. */
export function bayeuxHttp(url, { cookies = true } = {}) {
  let cookie = null;
  let n = 0;
  const client = {
    clientId: null,
    id: () => String(++n),
    async post(messages, { path = "", headers = {} } = {}) {
      const res = await fetch(url + path, {
        method: "POST",
        headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}), ...headers },
        body: JSON.stringify(messages),
      });
      const set = res.headers.get("set-cookie");
      if (set && cookies) cookie = set.split(";")[0];
      const text = await res.text();
      let body = text;
      try { body = JSON.parse(text); } catch { /* not JSON: keep the text */ }
      return { status: res.status, headers: res.headers, body };
    },
    async handshake(types = ["long-polling"]) {
      const r = await client.post([{ id: client.id(), channel: "/meta/handshake", version: "1.0", supportedConnectionTypes: types }]);
      client.clientId = Array.isArray(r.body) && r.body[0] ? r.body[0].clientId : null;
      return r;
    },
    connect(extra = {}) {
      return client.post([{ id: client.id(), channel: "/meta/connect", clientId: client.clientId, connectionType: "long-polling", ...extra }]);
    },
    publish(channel, data, extra = {}) {
      return client.post([{ id: client.id(), channel, clientId: client.clientId, data, ...extra }]);
    },
  };
  return client;
}

/** A raw Bayeux client over WebSocket (the `ws` package in tools/node_modules). `frames` is
 * every frame received, each an array of messages; `waitFor(predicate, ms)` resolves with the
 * first received message that matches. Rejects with "HTTP <code>" when the upgrade is refused. */
export async function bayeuxSocket(url) {
  const { default: WebSocket } = await import("../../../tools/node_modules/ws/wrapper.mjs");
  const ws = new WebSocket(url.replace(/^http/, "ws"));
  const frames = [];
  ws.on("message", (raw) => { const v = JSON.parse(String(raw)); frames.push(Array.isArray(v) ? v : [v]); });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  let n = 0;
  const client = {
    ws, frames, clientId: null,
    id: () => String(++n),
    messages: () => frames.flat(),
    send(messages) { ws.send(JSON.stringify(messages)); },
    waitFor(predicate, ms = 3000, what = "message") {
      return until(() => client.messages().find(predicate), ms, what);
    },
    async handshake(types = ["websocket"]) {
      const id = client.id();
      client.send([{ id, channel: "/meta/handshake", version: "1.0", supportedConnectionTypes: types }]);
      const reply = await client.waitFor((m) => m.id === id && m.channel === "/meta/handshake", 3000, "handshake reply");
      client.clientId = reply.clientId;
      return reply;
    },
    connect(extra = {}) {
      const id = client.id();
      client.send([{ id, channel: "/meta/connect", clientId: client.clientId, connectionType: "websocket", ...extra }]);
      return id;
    },
    publish(channel, data, extra = {}) {
      const id = client.id();
      client.send([{ id, channel, clientId: client.clientId, data, ...extra }]);
      return id;
    },
    close() { ws.terminate(); },
  };
  return client;
}
