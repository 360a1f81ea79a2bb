// Batches, as OpenAI's Batch API serves them: list, detail (polled while running),
// cancel, and a form that makes one from an uploaded file.

import { json } from "./api.js";
import { announce, append, bytes, clear, field, h, heading, select, when } from "./dom.js";
import { fileLink, listPage } from "./listing.js";
import { attempt, confirmAction } from "./ui.js";

const POLL_MS = 3000;
const TERMINAL = new Set(["completed", "failed", "expired", "cancelled"]);
const CANCELLABLE = new Set(["validating", "in_progress", "finalizing"]);
// CreateBatchRequest.endpoint in OpenAI's spec.
const ENDPOINTS = [
  "/v1/chat/completions",
  "/v1/responses",
  "/v1/embeddings",
  "/v1/completions",
  "/v1/moderations",
  "/v1/images/generations",
  "/v1/images/edits",
  "/v1/videos",
];
const OUTPUT_EXPIRIES = [
  ["", "Default"],
  ["86400", "1 day"],
  ["604800", "7 days"],
  ["2592000", "30 days"],
];
const TIMES = [
  ["in_progress_at", "Started"],
  ["finalizing_at", "Finalizing since"],
  ["completed_at", "Completed"],
  ["failed_at", "Failed"],
  ["expired_at", "Expired"],
  ["cancelling_at", "Cancelling since"],
  ["cancelled_at", "Cancelled"],
  ["expires_at", "Expires"],
];
const COLUMNS = ["Batch", "Status", "Progress", "Endpoint", "Input file", "Created"];
const history = [];

export async function render(view, route) {
  const id = route.parts[0];
  if (id === "new") return renderCreate(view, route);
  if (id) return renderDetail(view, id, route);
  return renderList(view, route);
}

// A progress bar from request_counts: done (completed + failed) of total.
export function progress(batch) {
  const counts = batch.request_counts ?? { total: 0, completed: 0, failed: 0 };
  const done = (counts.completed ?? 0) + (counts.failed ?? 0);
  const bar = h("progress", { max: Math.max(counts.total, 1), class: "batch-progress" });
  // No value while nothing is counted and the batch runs: an indeterminate bar.
  if (counts.total > 0 || TERMINAL.has(batch.status)) bar.value = done;
  const text = counts.total
    ? `${counts.completed} done, ${counts.failed} failed of ${counts.total}`
    : "no requests counted yet";
  bar.setAttribute("aria-label", `Progress of ${batch.id}: ${text}`);
  return h("div", { class: "progress" }, bar, h("small", { text }));
}

function renderList(view, route) {
  return listPage(view, route, {
    apiPath: "/v1/batches",
    hash: "#/batches",
    title: "Batches",
    noun: "batches",
    create: { href: "#/batches/new", text: "New batch" },
    columns: COLUMNS,
    cells: (b) => [
      h("a", { href: `#/batches/${encodeURIComponent(b.id)}`, text: b.id }),
      h("span", { class: `status status-${b.status}`, text: b.status }),
      progress(b),
      b.endpoint,
      fileLink(b.input_file_id),
      when(b.created_at),
    ],
    hooks: (b) => ({ testid: "batch-row", dataset: { batchId: b.id } }),
    history,
  });
}

async function renderDetail(view, id, route) {
  const body = h("div");
  const cancel = h("button", { type: "button", class: "danger", text: "Cancel batch" });
  let timer = null;

  async function load() {
    const batch = await json(`/v1/batches/${encodeURIComponent(id)}`, { signal: route.signal });
    append(clear(body), details(batch));
    cancel.hidden = !CANCELLABLE.has(batch.status);
    clearTimeout(timer);
    if (!TERMINAL.has(batch.status)) {
      timer = setTimeout(() => load().catch(() => {}), POLL_MS);
    }
    return batch;
  }
  cancel.addEventListener("click", () =>
    attempt(async () => {
      if (!(await confirmAction(`Cancel batch ${id}?`, "Cancel batch"))) return;
      await json(`/v1/batches/${encodeURIComponent(id)}/cancel`, { method: "POST" });
      announce(`Cancelling ${id}.`);
      await load();
    }, cancel),
  );
  view.append(
    h("p", {}, h("a", { href: "#/batches", text: "← All batches" })),
    heading(`Batch ${id}`),
    body,
    h("div", { class: "actions" }, cancel),
  );
  await load();
  return () => clearTimeout(timer);
}

function details(batch) {
  const facts = [
    ["Status", h("span", { class: `status status-${batch.status}`, text: batch.status })],
    ["Progress", progress(batch)],
    ["Endpoint", batch.endpoint],
    ["Model", batch.model],
    ["Completion window", batch.completion_window],
    ["Input file", fileLink(batch.input_file_id)],
    ["Output file", fileLink(batch.output_file_id)],
    ["Error file", fileLink(batch.error_file_id)],
    ["Created", when(batch.created_at)],
    ...TIMES.filter(([k]) => batch[k]).map(([k, label]) => [label, when(batch[k])]),
  ];
  if (batch.usage) facts.push(["Tokens", `${batch.usage.total_tokens} total`]);
  const meta = Object.entries(batch.metadata ?? {});
  if (meta.length)
    facts.push([
      "Metadata",
      h(
        "ul",
        {},
        meta.map(([k, v]) => h("li", { text: `${k}: ${v}` })),
      ),
    ]);
  const out = [
    h(
      "dl",
      { class: "facts" },
      facts
        .filter(([, v]) => v !== undefined && v !== null)
        .map(([k, v]) => [h("dt", { text: k }), h("dd", {}, v)]),
    ),
  ];
  const errors = batch.errors?.data ?? [];
  if (errors.length) {
    out.push(
      h("h2", { text: "Errors" }),
      h(
        "ul",
        { class: "batch-errors" },
        errors.map((e) =>
          h("li", {
            text: [e.line != null ? `line ${e.line}` : null, e.code, e.message]
              .filter(Boolean)
              .join(": "),
          }),
        ),
      ),
    );
  }
  return out;
}

async function renderCreate(view, route) {
  const input = h("input", {
    name: "input_file_id",
    required: true,
    list: "batch-files",
    autocomplete: "off",
    spellcheck: "false",
    value: route.query.get("input") ?? "",
  });
  const choices = h("datalist", { id: "batch-files" });
  const endpoint = select("endpoint", ENDPOINTS, "/v1/chat/completions");
  const window_ = select("completion_window", ["24h"], "24h");
  const metadata = h("textarea", { name: "metadata", rows: 3 });
  const expiry = select("output_expires_after", OUTPUT_EXPIRIES, "");
  const deployment = h("input", { name: "model", autocomplete: "off", spellcheck: "false" });
  const submit = h("button", { type: "submit", class: "primary", text: "Create batch" });
  const form = h(
    "form",
    { class: "card" },
    field("Input file (purpose batch)", input, "A file id; your batch files are suggested."),
    choices,
    field("Endpoint", endpoint),
    field("Completion window", window_),
    field("Metadata", metadata, "Optional: one key=value per line (up to 16)."),
    field("Output files expire", expiry),
    field(
      "Deployment (optional)",
      deployment,
      "Where the batch runs; by default the deployment holding the file, or the default one.",
    ),
    submit,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(async () => {
      const body = {
        input_file_id: input.value.trim(),
        endpoint: endpoint.value,
        completion_window: window_.value,
      };
      const pairs = metadata.value
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean)
        .map((l) => {
          const at = l.indexOf("=");
          return at < 0 ? [l, ""] : [l.slice(0, at).trim(), l.slice(at + 1).trim()];
        });
      if (pairs.length) body.metadata = Object.fromEntries(pairs);
      if (expiry.value) {
        body.output_expires_after = { anchor: "created_at", seconds: Number(expiry.value) };
      }
      if (deployment.value.trim()) body.model = deployment.value.trim();
      const batch = await json("/v1/batches", { method: "POST", body });
      location.hash = `#/batches/${encodeURIComponent(batch.id)}`;
    }, submit);
  });
  view.append(
    h("p", {}, h("a", { href: "#/batches", text: "← All batches" })),
    heading("New batch"),
    form,
  );
  // Suggestions only: a failure here leaves the form usable.
  const files = await json("/v1/files", {
    query: { purpose: "batch", limit: 100, order: "desc" },
    signal: route.signal,
  }).catch(() => ({ data: [] }));
  for (const f of files.data) {
    choices.append(h("option", { value: f.id, text: `${f.filename} (${bytes(f.bytes)})` }));
  }
}
