// One upload with a progress bar: a multipart POST /v1/files, or, past PART_BYTES,
// OpenAI's Uploads API (create, parts in parallel, complete; cancel on failure).

import { json, postForm } from "./api.js";
import { bytes, h } from "./dom.js";
import { showError } from "./ui.js";

// Larger files go in parts this size: a failed part is all that is lost, and a
// file may be as large as the Uploads API takes (8 GiB) rather than one POST.
export const PART_BYTES = 16 * 1024 * 1024;
const PARALLEL_PARTS = 3;
const JSONL_PURPOSES = new Set(["batch", "fine-tune", "evals"]);

export async function upload(file, purpose, seconds, list) {
  const bar = h("progress", { max: Math.max(file.size, 1), value: 0 });
  const status = h("span", { class: "upload-status", text: "Starting…" });
  const controller = new AbortController();
  const cancel = h("button", {
    type: "button",
    text: "Cancel",
    "aria-label": `Cancel the upload of ${file.name}`,
    onclick: () => controller.abort(),
  });
  const label = h("span", { class: "upload-name", text: file.name });
  bar.setAttribute("aria-label", `Upload of ${file.name}`);
  const item = h("li", {}, label, bar, status, cancel);
  list.prepend(item);

  const onProgress = (sent) => {
    bar.value = Math.min(sent, file.size);
    status.textContent = `${bytes(Math.min(sent, file.size))} of ${bytes(file.size)}`;
  };
  try {
    const made =
      file.size > PART_BYTES
        ? await inParts(file, purpose, seconds, onProgress, controller.signal)
        : await whole(file, purpose, seconds, onProgress, controller.signal);
    bar.value = bar.max;
    status.textContent = `Uploaded as ${made.id}`;
    item.classList.add("done");
    return made;
  } catch (error) {
    // A refused upload keeps its reason beside it: for JSONL the line that failed.
    status.textContent = `Refused: ${error.message}`;
    item.classList.add("failed");
    showError(error);
    return null;
  } finally {
    cancel.remove();
  }
}

function whole(file, purpose, seconds, onProgress, signal) {
  const form = new FormData();
  // The purpose first: the gateway checks it before it reads a byte of the file.
  form.append("purpose", purpose);
  if (seconds) {
    form.append("expires_after[anchor]", "created_at");
    form.append("expires_after[seconds]", String(seconds));
  }
  form.append("file", file, file.name);
  return postForm("/v1/files", form, { onProgress, signal });
}

function mimeType(file, purpose) {
  // Browsers rarely know a type for .jsonl; the gateway checks the lines anyway.
  if (JSONL_PURPOSES.has(purpose)) return "application/jsonl";
  return file.type || "application/octet-stream";
}

async function inParts(file, purpose, seconds, onProgress, signal) {
  const body = {
    filename: file.name,
    purpose,
    bytes: file.size,
    mime_type: mimeType(file, purpose),
  };
  if (seconds) body.expires_after = { anchor: "created_at", seconds };
  const made = await json("/v1/uploads", { method: "POST", body });
  const id = encodeURIComponent(made.id);
  const count = Math.ceil(file.size / PART_BYTES);
  const partIds = new Array(count);
  const sent = new Array(count).fill(0);
  let next = 0;
  let failed = false;
  const report = () => onProgress(sent.reduce((a, b) => a + b, 0));
  async function worker() {
    // One failed part stops every worker; the upload is then cancelled.
    while (next < count && !failed) {
      const index = next++;
      const form = new FormData();
      form.append("data", file.slice(index * PART_BYTES, (index + 1) * PART_BYTES), "part");
      try {
        const part = await postForm(`/v1/uploads/${id}/parts`, form, {
          signal,
          onProgress: (n) => {
            sent[index] = Math.min(n, PART_BYTES);
            report();
          },
        });
        partIds[index] = part.id;
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, count) }, worker));
    const done = await json(`/v1/uploads/${id}/complete`, {
      method: "POST",
      body: { part_ids: partIds },
    });
    return done.file;
  } catch (error) {
    // Nothing half-made is left: the upload and its parts are dropped.
    await json(`/v1/uploads/${id}/cancel`, { method: "POST" }).catch(() => {});
    throw error;
  }
}
