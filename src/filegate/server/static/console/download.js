// Downloads. Where the service worker (sw.js) runs, it streams the bytes straight
// into the browser's download manager; elsewhere the file is fetched into a blob
// first (which Chromium keeps on disk when it is large).

import { ApiError, raw, session, url } from "./api.js";
import { h } from "./dom.js";

const READY_MS = 5000;
const WORKER = "sw.js";

// The page's CSP lets Trusted Types make script URLs through this one policy,
// which admits the worker's URL and nothing else.
const policy = self.trustedTypes?.createPolicy("filegate-console", {
  createScriptURL(value) {
    if (value !== WORKER) throw new TypeError(`Not a console script: ${value}`);
    return value;
  },
});

export function startWorker() {
  const script = policy ? policy.createScriptURL(WORKER) : WORKER;
  navigator.serviceWorker?.register(script, { scope: "./" }).catch(() => {});
}

export function forgetKeys() {
  navigator.serviceWorker?.controller?.postMessage({ forget: true });
}

export async function download(file) {
  const worker = navigator.serviceWorker?.controller;
  const path = `/v1/files/${encodeURIComponent(file.id)}/content`;
  if (worker && (await streamed(worker, url(path).href, file))) return;
  await whole(path, file);
}

function follow(href, filename) {
  const link = h("a", { href, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
}

// A hidden frame's navigation, unlike a link with `download`, goes through the
// worker; its answer is an attachment, so the browser saves it.
function viaFrame(href) {
  const frame = h("iframe", { src: href, hidden: true, title: "Download" });
  document.body.append(frame);
  setTimeout(() => frame.remove(), 60_000);
}

// Resolves true once the worker has the bytes coming, false if it never answered;
// rejects with the API's error when the gateway refused.
function streamed(worker, target, file) {
  const token = crypto.randomUUID();
  const channel = new MessageChannel();
  return new Promise((resolve, reject) => {
    const silent = setTimeout(() => {
      channel.port1.close();
      resolve(false);
    }, READY_MS);
    channel.port1.onmessage = ({ data }) => {
      if (data.ready) {
        clearTimeout(silent);
        viaFrame(`download/${token}`);
        return;
      }
      channel.port1.close();
      if (data.ok) resolve(true);
      else reject(new ApiError(data.status, data.body ?? { error: { message: data.message } }));
    };
    worker.postMessage({ token, url: target, key: session.key }, [channel.port2]);
  });
}

async function whole(path, file) {
  const response = await raw(path);
  const href = URL.createObjectURL(await response.blob());
  follow(href, file.filename || file.id);
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}
