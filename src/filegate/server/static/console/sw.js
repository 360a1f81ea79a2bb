// Streams downloads into the browser's own download manager. A download needs the
// key in a header, which a plain link cannot send; so the page hands this worker
// one request (its URL and the key) under a random one-time path, and then
// follows a link to that path. The worker makes the request and passes the bytes
// on as they arrive: no copy of the whole file is ever held by the page.

const pending = new Map();
const TTL_MS = 30_000;

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("message", (event) => {
  const now = Date.now();
  for (const [token, entry] of pending) if (entry.expires < now) pending.delete(token);
  // Signing out forgets every key handed over and not used yet.
  if (event.data?.forget) {
    pending.clear();
    return;
  }
  const { token, url, key } = event.data ?? {};
  const port = event.ports[0];
  if (typeof token !== "string" || typeof url !== "string" || !port) return;
  const target = new URL(url);
  // Only this gateway's own API, never another origin.
  if (target.origin !== self.location.origin) return;
  pending.set(token, { url: target.href, key, port, expires: now + TTL_MS });
  port.postMessage({ ready: true });
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const prefix = new URL("download/", self.registration.scope).pathname;
  if (url.origin !== self.location.origin || !url.pathname.startsWith(prefix)) return;
  const token = url.pathname.slice(prefix.length);
  const entry = pending.get(token);
  pending.delete(token);
  if (!entry || entry.expires < Date.now()) {
    // 204: the frame that asked stays as it is, and nothing is saved.
    event.respondWith(new Response(null, { status: 204 }));
    return;
  }
  event.respondWith(download(entry));
});

async function download({ url, key, port }) {
  let upstream;
  try {
    upstream = await fetch(url, {
      headers: key ? { Authorization: `Bearer ${key}` } : {},
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    port.postMessage({ ok: false, status: 0, body: null, message: String(error) });
    return new Response(null, { status: 204 });
  }
  if (!upstream.ok) {
    // The page shows the API's own message; nothing is saved.
    const body = await upstream.json().catch(() => null);
    port.postMessage({ ok: false, status: upstream.status, body });
    return new Response(null, { status: 204 });
  }
  port.postMessage({ ok: true });
  const headers = new Headers();
  for (const name of ["content-type", "content-length", "content-disposition"]) {
    const value = upstream.headers.get(name);
    if (value) headers.set(name, value);
  }
  return new Response(upstream.body, { status: 200, headers });
}
