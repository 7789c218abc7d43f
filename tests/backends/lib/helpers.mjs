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
