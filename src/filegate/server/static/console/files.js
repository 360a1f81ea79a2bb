// Files: the caller's files page by page, uploads, downloads, deletes, a detail view.

import { json, raw } from "./api.js";
import { bytes, clear, field, h, heading, row, select, table, when, announce } from "./dom.js";
import { attempt, confirmAction, cursorPager, showError } from "./ui.js";
import { download } from "./download.js";
import { upload } from "./upload.js";

const PAGE_SIZE = 20;
export const UPLOAD_PURPOSES = ["user_data", "batch", "fine-tune", "assistants", "vision", "evals"];
// Purposes a file may have without being uploaded as such (outputs of jobs).
const LIST_PURPOSES = [...UPLOAD_PURPOSES, "batch_output", "fine-tune-results"];
const JSONL_PURPOSES = new Set([
  "batch",
  "fine-tune",
  "evals",
  "batch_output",
  "fine-tune-results",
]);
const EXPIRIES = [
  ["", "Never (batch files: 30 days)"],
  ["3600", "1 hour"],
  ["86400", "1 day"],
  ["604800", "7 days"],
  ["2592000", "30 days"],
];
const COLUMNS = [
  "Name",
  "Purpose",
  "Size",
  "Created",
  "Expires",
  "Stored at",
  "Status",
  "Actions",
];
// Only the head of a file is read for its preview, however large the file is.
const PREVIEW_BYTES = 64 * 1024;
const PREVIEW_LINES = 20;

// Cursors of the pages before this one, so "Previous" can go back.
const history = [];

export async function render(view, route) {
  if (route.parts[0]) return renderDetail(view, route.parts[0], route);
  return renderList(view, route);
}

function goTo(query) {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v));
  location.hash = `#/files${q.size ? `?${q}` : ""}`;
}

async function renderList(view, route) {
  const purpose = route.query.get("purpose") ?? "";
  const after = route.query.get("after") ?? "";
  if (!after) history.length = 0;

  const list = h("div", { class: "table-wrap" });
  const pager = h("div");
  view.append(
    heading("Files"),
    uploadPanel(() => load()),
    filterBar(purpose),
    list,
    pager,
  );

  async function load() {
    const page = await json("/v1/files", {
      query: { limit: PAGE_SIZE, order: "desc", purpose, after, include: "locations" },
      signal: route.signal,
    });
    const rows = page.data.map((file) => fileRow(file, load));
    clear(list).append(
      rows.length
        ? table("Your files", COLUMNS, rows)
        : h("p", { class: "empty", text: "No files." }),
    );
    const go = (cursor) => goTo({ purpose, after: cursor });
    clear(pager).append(cursorPager("Pages of files", { history, after, page, go }));
    announce(`${page.data.length} files shown.`);
  }
  await load();
}

function filterBar(purpose) {
  const choice = select(
    "purpose",
    [["", "All purposes"], ...LIST_PURPOSES.map((p) => [p, p])],
    purpose,
  );
  choice.addEventListener("change", () => goTo({ purpose: choice.value }));
  return h("div", { class: "toolbar" }, field("Show purpose", choice));
}

function fileRow(file, reload) {
  const name = h("a", { href: `#/files/${encodeURIComponent(file.id)}`, text: file.filename });
  const actions = h(
    "div",
    { class: "row-actions" },
    h("button", {
      type: "button",
      testid: "download-file",
      text: "Download",
      "aria-label": `Download ${file.filename}`,
      onclick: (e) => attempt(() => download(file), e.currentTarget),
    }),
    h("button", {
      type: "button",
      class: "danger",
      testid: "delete-file",
      text: "Delete",
      "aria-label": `Delete ${file.filename}`,
      onclick: (e) => attempt(() => remove(file).then((gone) => gone && reload()), e.currentTarget),
    }),
  );
  return row(
    COLUMNS,
    [
      [name, h("small", { class: "id", text: file.id })],
      file.purpose,
      bytes(file.bytes),
      when(file.created_at),
      file.expires_at ? when(file.expires_at) : "never",
      storedAt(file),
      file.status,
      actions,
    ],
    { testid: "file-row", dataset: { fileId: file.id } },
  );
}

// Where the bytes are (the gateway's include=locations): its own store and/or the
// deployments, by the names its config gives them; a copy still processing says so.
function storedAt(file) {
  const places = (file.locations ?? []).map((loc) => {
    let label = loc.deployment === "filegate" ? "filegate store" : loc.deployment;
    if (loc.provider !== loc.deployment && loc.provider !== "filegate") {
      label += ` (${loc.provider})`;
    }
    if (loc.status !== "processed") label += `, ${loc.status}`;
    return h("li", { text: label });
  });
  return places.length ? h("ul", { class: "places", testid: "stored-at" }, places) : "";
}

async function remove(file) {
  if (!(await confirmAction(`Delete ${file.filename} (${file.id})? This cannot be undone.`))) {
    return false;
  }
  await json(`/v1/files/${encodeURIComponent(file.id)}`, { method: "DELETE" });
  announce(`Deleted ${file.filename}.`);
  return true;
}

function uploadPanel(onUploaded) {
  const purpose = select("purpose", UPLOAD_PURPOSES, "user_data");
  purpose.dataset.testid = "upload-purpose";
  const expiry = select("expires", EXPIRIES, "");
  const input = h("input", {
    type: "file",
    multiple: true,
    class: "file-input",
    testid: "upload-input",
  });
  const zone = h(
    "div",
    { class: "dropzone" },
    field("Choose files, or drop them here", input, "Large files go up in parts."),
  );
  const progress = h("ul", { class: "uploads", "aria-label": "Uploads" });

  async function start(fileList) {
    const chosen = [...fileList];
    input.value = "";
    for (const file of chosen) {
      const seconds = expiry.value ? Number(expiry.value) : null;
      const done = await upload(file, purpose.value, seconds, progress);
      if (done) await onUploaded().catch(showError);
    }
  }
  input.addEventListener("change", () => start(input.files));
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer?.files?.length) start(e.dataTransfer.files);
  });
  return h(
    "section",
    { class: "card", "aria-labelledby": "upload-title" },
    h("h2", { id: "upload-title", text: "Upload" }),
    h("div", { class: "row-fields" }, field("Purpose", purpose), field("Expires", expiry)),
    zone,
    progress,
  );
}

async function renderDetail(view, id, route) {
  const file = await json(`/v1/files/${encodeURIComponent(id)}`, {
    query: { include: "locations" },
    signal: route.signal,
  });
  const facts = [
    ["ID", file.id],
    ["Name", file.filename],
    ["Purpose", file.purpose],
    ["Size", `${bytes(file.bytes)} (${file.bytes} bytes)`],
    ["Created", when(file.created_at)],
    ["Expires", file.expires_at ? when(file.expires_at) : "never"],
    ["Stored at", storedAt(file)],
    ["Status", file.status],
  ];
  if (file.status_details) facts.push(["Status details", file.status_details]);
  const actions = h(
    "div",
    { class: "actions" },
    h("button", {
      type: "button",
      text: "Download",
      onclick: (e) => attempt(() => download(file), e.currentTarget),
    }),
    file.purpose === "batch" &&
      h("a", {
        class: "button",
        href: `#/batches/new?input=${encodeURIComponent(file.id)}`,
        text: "Create a batch from this file",
      }),
    file.purpose === "fine-tune" &&
      h("a", {
        class: "button",
        href: `#/fine-tuning/new?training=${encodeURIComponent(file.id)}`,
        text: "Fine-tune on this file",
      }),
    h("button", {
      type: "button",
      class: "danger",
      text: "Delete",
      onclick: (e) =>
        attempt(async () => {
          if (await remove(file)) location.hash = "#/files";
        }, e.currentTarget),
    }),
  );
  view.append(
    h("p", {}, h("a", { href: "#/files", text: "← All files" })),
    heading(file.filename),
    h(
      "dl",
      { class: "facts" },
      facts.map(([k, v]) => [h("dt", { text: k }), h("dd", {}, v)]),
    ),
    actions,
  );
  if (JSONL_PURPOSES.has(file.purpose) || /\.(jsonl|ndjson)$/i.test(file.filename)) {
    view.append(await preview(file, route.signal));
  }
}

// The first lines of a JSONL file, from one ranged request for its first bytes.
async function preview(file, signal) {
  const section = h(
    "section",
    { class: "card", "aria-labelledby": "preview-title" },
    h("h2", { id: "preview-title", text: `First lines` }),
  );
  if (file.bytes === 0) {
    section.append(h("p", { class: "empty", text: "The file is empty." }));
    return section;
  }
  const response = await raw(`/v1/files/${encodeURIComponent(file.id)}/content`, {
    extraHeaders: { Range: `bytes=0-${PREVIEW_BYTES - 1}` },
    signal,
  });
  const reader = response.body.getReader();
  const chunks = [];
  let received = 0;
  // A server that ignored the range would send it all: stop reading at the cap.
  while (received < PREVIEW_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
  }
  await reader.cancel().catch(() => {});
  const text = new TextDecoder().decode(await new Blob(chunks).arrayBuffer());
  const lines = text.split("\n");
  const whole = received >= file.bytes;
  if (!whole) lines.pop(); // cut off mid-line
  const shown = lines.filter((l) => l.trim()).slice(0, PREVIEW_LINES);
  section.append(
    h("p", {
      class: "hint",
      text: `${shown.length} line${shown.length === 1 ? "" : "s"} from the first ${bytes(
        Math.min(received, file.bytes),
      )}${whole ? "" : ` of ${bytes(file.bytes)}`}.`,
    }),
    h(
      "ol",
      { class: "lines" },
      shown.map((line) => h("li", {}, h("pre", { text: pretty(line) }))),
    ),
  );
  return section;
}

function pretty(line) {
  try {
    return JSON.stringify(JSON.parse(line), null, 2);
  } catch {
    return line;
  }
}
