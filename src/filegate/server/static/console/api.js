// The gateway's HTTP API as the console uses it. The key lives in this tab's
// sessionStorage and leaves it only as an Authorization header.

const STORAGE_KEY = "filegate.key";
// The console is served at <root>/ui/, the API at <root>/.
const ROOT = new URL("../", document.baseURI);

export const session = {
  get key() {
    return sessionStorage.getItem(STORAGE_KEY);
  },
  set key(value) {
    if (value) sessionStorage.setItem(STORAGE_KEY, value);
    else sessionStorage.removeItem(STORAGE_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    const err = body && typeof body === "object" ? body.error : null;
    const message =
      err && typeof err.message === "string" && err.message
        ? err.message
        : `The server answered ${status}.`;
    super(message);
    this.status = status;
    this.code = err?.code ?? null;
    this.param = err?.param ?? null;
  }
}

export function url(path, query = {}) {
  const u = new URL(path.replace(/^\//, ""), ROOT);
  for (const [name, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") u.searchParams.set(name, value);
  }
  return u;
}

function headers(extra = {}) {
  const out = { ...extra };
  if (session.key) out.Authorization = `Bearer ${session.key}`;
  return out;
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's page, a dropped connection): the status says enough.
  }
  return new ApiError(response.status, body);
}

// fetch, with the key, credentials never sent (no cookies are used at all).
export async function raw(path, { method = "GET", query, body, extraHeaders, signal } = {}) {
  const init = { method, headers: headers(extraHeaders), credentials: "omit", signal };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(url(path, query), init);
  } catch (exc) {
    if (exc.name === "AbortError") throw exc;
    throw new ApiError(0, { error: { message: `Could not reach the gateway: ${exc.message}` } });
  }
  if (!response.ok) throw await failure(response);
  return response;
}

export async function json(path, options) {
  const response = await raw(path, options);
  return response.json();
}

// A POST of a multipart form through XMLHttpRequest, the one browser API that
// reports upload progress. `onProgress(sentBytes)` is called as bytes leave.
export function postForm(path, form, { onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url(path));
    xhr.withCredentials = false;
    for (const [name, value] of Object.entries(headers())) xhr.setRequestHeader(name, value);
    xhr.responseType = "json";
    if (onProgress) xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded));
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response);
      else reject(new ApiError(xhr.status, xhr.response));
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError(0, { error: { message: "The upload was interrupted." } })),
    );
    xhr.addEventListener("abort", () =>
      reject(new ApiError(0, { error: { message: "The upload was cancelled." } })),
    );
    signal?.addEventListener("abort", () => xhr.abort());
    xhr.send(form);
  });
}
