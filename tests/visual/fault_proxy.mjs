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
      if (pair.stalled) return;
      if (fromServer && pair.cutNext && chunk.length > 1) {
        pair.cutNext = false;
        stats.cut++;
        to.write(chunk.subarray(0, Math.floor(chunk.length / 2)), () => pair.close(true));
        return;
      }
      const now = Date.now();
      let due = Math.max(now + delayMs, lastDue);
      if (bytesPerSecond > 0) due = Math.max(due, lastDue) + (chunk.length * 1000) / bytesPerSecond;
      lastDue = due;
      const send = () => { if (!pair.stalled && !to.destroyed) to.write(chunk); };
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
      stalled: false,
      cutNext: false,
      closed: false,
      close(reset = false) {
        if (pair.closed) return;
        pair.closed = true;
        pairs.delete(pair);
        if (reset) client.resetAndDestroy();
        else client.destroy();
        upstream.destroy();
      },
    };
    pairs.add(pair);
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
