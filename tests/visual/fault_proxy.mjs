// A loopback TCP proxy in front of a reference backend that injects the faults real networks
// have, for the soak tests: it drops connections (RST, as a lost route does), delays and
// throttles data, stalls them half-open (data vanishes both ways, nothing closes: a NAT or a
// phone that lost its state), cuts a connection in the middle of what the server is sending, and
// refuses new connections for a while. Every byte goes through unchanged otherwise: the widget
// talks HTTP and WebSocket to the proxy exactly as to the backend.
import net from "node:net";

/** Starts a proxy to 127.0.0.1:`targetPort`. Resolves to its controls; see each method. */
export function faultProxy(targetPort) {
  const pairs = new Set();
  const history = []; // every connection ever accepted, for delivered()
  const stats = { connections: 0, refused: 0, dropped: 0, stalled: 0, cut: 0 };
  const connectedAt = []; // when each accepted connection came, for stall detection times
  let refuseUntil = 0;
  let delayMs = 0;
  let bytesPerSecond = 0;

  // One direction of a pair: chunks leave in order, each no sooner than `delayMs` after it came
  // in and, when throttled, no sooner than the previous chunk's bytes took at `bytesPerSecond`.
  function forward(pair, from, to, fromServer) {
    let lastDue = 0;
    from.on("data", (chunk) => {
      if (fromServer) pair.fromServer.push({ at: Date.now(), chunk });
      if (pair.stalled) return;
      if (fromServer && pair.cutNext && chunk.length > 1) {
        pair.cutNext = false;
        stats.cut++;
        const half = chunk.subarray(0, Math.floor(chunk.length / 2));
        pair.toClient.push({ at: Date.now(), chunk: half });
        to.write(half, () => pair.close(true));
        return;
      }
      const now = Date.now();
      let due = Math.max(now + delayMs, lastDue);
      if (bytesPerSecond > 0) due = Math.max(due, lastDue) + (chunk.length * 1000) / bytesPerSecond;
      lastDue = due;
      const send = () => {
        if (pair.stalled || to.destroyed) return;
        (fromServer ? pair.toClient : pair.upstream).push({ at: Date.now(), chunk });
        to.write(chunk);
      };
      if (due <= now) send();
      else setTimeout(send, due - now);
    });
  }

  const server = net.createServer((client) => {
    if (Date.now() < refuseUntil) {
      stats.refused++;
      client.resetAndDestroy();
      return;
    }
    stats.connections++;
    connectedAt.push(Date.now());
    const upstream = net.connect(targetPort, "127.0.0.1");
    const pair = {
      id: stats.connections,
      upstream: [], // {at, chunk}: what reached the server, when
      fromServer: [], // {at, chunk}: what the server sent, when it reached the proxy
      toClient: [], // {at, chunk}: what of that the proxy passed on to the page, when
      openedAt: Date.now(),
      closedAt: null,
      stalled: false,
      cutNext: false,
      closed: false,
      close(reset = false) {
        if (pair.closed) return;
        pair.closed = true;
        pair.closedAt = Date.now();
        pairs.delete(pair);
        if (reset) client.resetAndDestroy();
        else client.destroy();
        upstream.destroy();
      },
    };
    pairs.add(pair);
    history.push(pair);
    client.on("error", () => pair.close());
    client.on("close", () => pair.close());
    // A stalled connection hides the server's close from the client too: only the client's own
    // heartbeat can tell it is dead.
    upstream.on("error", () => (pair.stalled ? upstream.destroy() : pair.close()));
    upstream.on("close", () => (pair.stalled ? upstream.destroy() : pair.close()));
    forward(pair, client, upstream, false);
    forward(pair, upstream, client, true);
  });

  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => {
    const port = server.address().port;
    resolve({
      port,
      origin: `http://127.0.0.1:${port}`,
      stats,
      connectedAt,
      /** Everything that has reached the server, as {conn, at, text}: each HTTP request as sent,
       * each WebSocket frame from the client (unmasked; the reference servers do not compress). */
      delivered: () => history.flatMap((p) => messagesTo(p).map((m) => ({ conn: p.id, ...m }))),
      /** Every WebSocket frame the server sent, as {conn, text, sentAt, passedAt}: when it reached
       * the proxy, and when the proxy passed it on to the page (null: never, the connection ended
       * or stalled first). For telling a frame the network lost from one the page lost. */
      fromServer: () => history.flatMap((p) => {
        const passed = wsFrames(p.toClient);
        return wsFrames(p.fromServer).map((f, k) => ({ conn: p.id, text: f.text, sentAt: f.at, passedAt: passed[k] ? passed[k].at : null }));
      }),
      /** Each connection ever accepted, as {conn, openedAt, closedAt (null: open), stalled}. */
      connections: () => history.map((p) => ({ conn: p.id, openedAt: p.openedAt, closedAt: p.closedAt, stalled: p.stalled })),
      /** Connections open now (stalled ones included). */
      open: () => pairs.size,
      /** Resets every open connection now. */
      drop() { for (const p of [...pairs]) { stats.dropped++; p.close(true); } },
      /** Makes every open connection silent both ways without closing it; new ones are fine. */
      stall() { for (const p of pairs) if (!p.stalled) { stats.stalled++; p.stalled = true; } },
      /** Each open connection forwards half of the next chunk the server sends, then is reset. */
      cut() { for (const p of pairs) p.cutNext = true; },
      /** New connections are reset at once for `ms`. */
      refuse(ms) { refuseUntil = Date.now() + ms; },
      /** Every chunk waits `ms` (0: none). */
      delay(ms) { delayMs = ms; },
      /** Data flows at most `bps` bytes per second per direction and connection (0: no limit). */
      throttle(bps) { bytesPerSecond = bps; },
      /** Ends every fault in effect (stalled connections stay dead, as they would). */
      clear() { refuseUntil = 0; delayMs = 0; bytesPerSecond = 0; for (const p of pairs) p.cutNext = false; },
      close() { for (const p of [...pairs]) p.close(); return new Promise((r) => server.close(r)); },
    });
  }));
}

/** What a connection carried to the server, as {text, at}: one entry per WebSocket frame after an
 * upgrade, else one per HTTP request (at: when its last byte reached the server). */
function messagesTo(pair) {
  const bytes = Buffer.concat(pair.upstream.map((c) => c.chunk));
  const head = bytes.indexOf("\r\n\r\n");
  if (head < 0 || !/^GET [^\r]*\r\n(?:[^\r]*\r\n)*?upgrade: websocket/im.test(bytes.subarray(0, head).toString("latin1"))) {
    // HTTP: one entry per request (a request line starts it), arrived when its last byte did.
    const arrivedBy = arrivals(pair.upstream);
    const text = bytes.toString("latin1");
    const starts = [...text.matchAll(/^(?:GET|POST|PUT|PATCH|DELETE|OPTIONS|HEAD) /gm)].map((m) => m.index);
    return starts.map((start, k) => {
      const end = k + 1 < starts.length ? starts[k + 1] : text.length;
      return { text: text.slice(start, end), at: arrivedBy(end) };
    });
  }
  return wsFrames(pair.upstream);
}

/** For chunks that arrived in order: when the byte before offset `end` had arrived. */
function arrivals(chunks) {
  const ends = []; // the offset where each chunk ends, with its time
  let offset = 0;
  for (const c of chunks) { offset += c.chunk.length; ends.push({ offset, at: c.at }); }
  return (end) => ends.find((e) => e.offset >= end).at;
}

/** The WebSocket frames after the HTTP head of one direction's chunks, as {text, at}: masked
 * (from the page) or not (from the server; the reference servers do not compress); at: when the
 * frame's last byte had come. None if the connection never upgraded. */
function wsFrames(chunks) {
  const bytes = Buffer.concat(chunks.map((c) => c.chunk));
  const head = bytes.indexOf("\r\n\r\n");
  const firstLine = bytes.subarray(0, Math.max(0, bytes.indexOf("\r\n"))).toString("latin1");
  if (head < 0 || !(/^GET /.test(firstLine) || /^HTTP\/1\.1 101/.test(firstLine))) return [];
  const arrivedBy = arrivals(chunks);
  const frames = [];
  let i = head + 4;
  while (i + 2 <= bytes.length) {
    let len = bytes[i + 1] & 0x7f;
    let at = i + 2;
    if (len === 126) { if (at + 2 > bytes.length) break; len = bytes.readUInt16BE(at); at += 2; }
    else if (len === 127) { if (at + 8 > bytes.length) break; len = Number(bytes.readBigUInt64BE(at)); at += 8; }
    const masked = bytes[i + 1] & 0x80;
    const key = masked ? bytes.subarray(at, at + 4) : null;
    if (masked) at += 4;
    if (at + len > bytes.length) break;
    const payload = Buffer.from(bytes.subarray(at, at + len));
    if (key) for (let j = 0; j < payload.length; j++) payload[j] ^= key[j & 3];
    frames.push({ text: payload.toString("utf8"), at: arrivedBy(at + len) });
    i = at + len;
  }
  return frames;
}
