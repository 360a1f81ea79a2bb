// Fine-tuning jobs, as OpenAI's fine-tuning API serves them: list, detail with its
// files and events (polled while the job runs), cancel, pause and resume, and a form
// that starts one from an uploaded training file.

import { json } from "./api.js";
import { announce, append, bytes, clear, field, h, heading, when } from "./dom.js";
import { fileLink, listPage } from "./listing.js";
import { attempt, confirmAction } from "./ui.js";

const EVENTS_PAGE = 20;
const POLL_MS = 3000;
const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const CANCELLABLE = new Set(["validating_files", "queued", "running", "paused"]);
const COLUMNS = ["Job", "Status", "Model", "Training file", "Fine-tuned model", "Created"];
const history = [];

export async function render(view, route) {
  const id = route.parts[0];
  if (id === "new") return renderCreate(view, route);
  if (id) return renderDetail(view, id, route);
  return renderList(view, route);
}

const jobPath = (id) => `/v1/fine_tuning/jobs/${encodeURIComponent(id)}`;
const status = (job) => h("span", { class: `status status-${job.status}`, text: job.status });

function renderList(view, route) {
  return listPage(view, route, {
    apiPath: "/v1/fine_tuning/jobs",
    hash: "#/fine-tuning",
    title: "Fine-tuning jobs",
    noun: "fine-tuning jobs",
    create: { href: "#/fine-tuning/new", text: "New fine-tuning job" },
    columns: COLUMNS,
    cells: (job) => [
      h("a", { href: `#/fine-tuning/${encodeURIComponent(job.id)}`, text: job.id }),
      status(job),
      job.model,
      fileLink(job.training_file),
      job.fine_tuned_model ?? "",
      when(job.created_at),
    ],
    hooks: (job) => ({ testid: "ft-job-row", dataset: { jobId: job.id } }),
    history,
  });
}

async function renderDetail(view, id, route) {
  const body = h("div");
  const events = h("ol", { class: "events", testid: "ft-events" });
  const older = h("button", { type: "button", text: "Older events", hidden: true });
  const buttons = {
    pause: h("button", { type: "button", text: "Pause job" }),
    resume: h("button", { type: "button", text: "Resume job" }),
    cancel: h("button", { type: "button", class: "danger", text: "Cancel job" }),
  };
  let timer = null;
  let oldest = null;

  async function load() {
    const job = await json(jobPath(id), { signal: route.signal });
    append(clear(body), details(job));
    buttons.cancel.hidden = !CANCELLABLE.has(job.status);
    buttons.pause.hidden = job.status !== "running";
    buttons.resume.hidden = job.status !== "paused";
    await newestEvents();
    clearTimeout(timer);
    if (!TERMINAL.has(job.status)) timer = setTimeout(() => load().catch(() => {}), POLL_MS);
    return job;
  }

  // The newest page, replacing what is shown (a poll brings the latest on top).
  async function newestEvents() {
    const page = await json(`${jobPath(id)}/events`, {
      query: { limit: EVENTS_PAGE },
      signal: route.signal,
    });
    clear(events).append(...page.data.map(eventItem));
    oldest = page.data.at(-1)?.id ?? null;
    older.hidden = !page.has_more;
    if (!page.data.length) events.append(h("li", { class: "empty", text: "No events yet." }));
  }

  older.addEventListener("click", () =>
    attempt(async () => {
      const page = await json(`${jobPath(id)}/events`, {
        query: { limit: EVENTS_PAGE, after: oldest },
        signal: route.signal,
      });
      events.append(...page.data.map(eventItem));
      oldest = page.data.at(-1)?.id ?? oldest;
      older.hidden = !page.has_more;
    }, older),
  );

  for (const [action, button] of Object.entries(buttons)) {
    button.addEventListener("click", () =>
      attempt(async () => {
        if (action === "cancel" && !(await confirmAction(`Cancel job ${id}?`, "Cancel job"))) {
          return;
        }
        await json(`${jobPath(id)}/${action}`, { method: "POST" });
        announce(`${button.textContent}: ${id}.`);
        await load();
      }, button),
    );
  }
  view.append(
    h("p", {}, h("a", { href: "#/fine-tuning", text: "← All fine-tuning jobs" })),
    heading(`Fine-tuning job ${id}`),
    body,
    h("div", { class: "actions" }, buttons.pause, buttons.resume, buttons.cancel),
    h(
      "section",
      { class: "card", "aria-labelledby": "events-title" },
      h("h2", { id: "events-title", text: "Events (newest first)" }),
      events,
      older,
    ),
  );
  await load();
  return () => clearTimeout(timer);
}

function eventItem(event) {
  return h(
    "li",
    { class: `event event-${event.level}` },
    when(event.created_at),
    " ",
    h("span", { class: "event-level", text: event.level }),
    " ",
    h("span", { text: event.message }),
  );
}

function details(job) {
  const results = job.result_files ?? [];
  const hyper = Object.entries(job.hyperparameters ?? {});
  const facts = [
    ["Status", status(job)],
    ["Base model", job.model],
    ["Fine-tuned model", job.fine_tuned_model],
    ["Training file", fileLink(job.training_file)],
    ["Validation file", fileLink(job.validation_file)],
    [
      "Result files",
      results.length
        ? h(
            "ul",
            { class: "places" },
            results.map((f) => h("li", {}, fileLink(f))),
          )
        : "none yet",
    ],
    ["Trained tokens", job.trained_tokens],
    ["Suffix", job.user_provided_suffix],
    ["Seed", job.seed],
    ["Created", when(job.created_at)],
    ["Estimated finish", job.estimated_finish ? when(job.estimated_finish) : null],
    ["Finished", job.finished_at ? when(job.finished_at) : null],
  ];
  if (hyper.length) {
    facts.push([
      "Hyperparameters",
      h(
        "ul",
        { class: "places" },
        hyper.map(([k, v]) => h("li", { text: `${k}: ${v}` })),
      ),
    ]);
  }
  const meta = Object.entries(job.metadata ?? {});
  if (meta.length) {
    facts.push([
      "Metadata",
      h(
        "ul",
        { class: "places" },
        meta.map(([k, v]) => h("li", { text: `${k}: ${v}` })),
      ),
    ]);
  }
  const out = [
    h(
      "dl",
      { class: "facts" },
      facts
        .filter(([, v]) => v !== undefined && v !== null)
        .map(([k, v]) => [h("dt", { text: k }), h("dd", {}, v)]),
    ),
  ];
  if (job.error?.message) {
    out.push(
      h("h2", { text: "Error" }),
      h("p", {
        class: "batch-errors",
        text: [job.error.code, job.error.message].filter(Boolean).join(": "),
      }),
    );
  }
  return out;
}

async function renderCreate(view, route) {
  const text = (name, value = "") =>
    h("input", { name, autocomplete: "off", spellcheck: "false", value });
  const model = text("model");
  model.required = true;
  const training = text("training_file", route.query.get("training") ?? "");
  training.required = true;
  training.setAttribute("list", "ft-files");
  const validation = text("validation_file");
  validation.setAttribute("list", "ft-files");
  const choices = h("datalist", { id: "ft-files" });
  const suffix = text("suffix");
  const epochs = h("input", { name: "n_epochs", type: "number", min: 1, inputmode: "numeric" });
  const deployment = text("deployment");
  const submit = h("button", { type: "submit", class: "primary", text: "Create job" });
  const form = h(
    "form",
    { class: "card" },
    field("Base model", model, "As the provider names it, e.g. gpt-4o-mini-2024-07-18."),
    field("Training file (purpose fine-tune)", training, "A file id; yours are suggested."),
    field("Validation file (optional)", validation),
    choices,
    field("Suffix (optional)", suffix),
    field("Epochs (optional)", epochs, "Empty: the provider chooses."),
    field(
      "Deployment (optional)",
      deployment,
      "Where the job runs; by default the deployment holding the training file.",
    ),
    submit,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(async () => {
      const body = { model: model.value.trim(), training_file: training.value.trim() };
      if (validation.value.trim()) body.validation_file = validation.value.trim();
      if (suffix.value.trim()) body.suffix = suffix.value.trim();
      if (epochs.value) body.hyperparameters = { n_epochs: Number(epochs.value) };
      if (deployment.value.trim()) body.target_model_names = deployment.value.trim();
      const job = await json("/v1/fine_tuning/jobs", { method: "POST", body });
      location.hash = `#/fine-tuning/${encodeURIComponent(job.id)}`;
    }, submit);
  });
  view.append(
    h("p", {}, h("a", { href: "#/fine-tuning", text: "← All fine-tuning jobs" })),
    heading("New fine-tuning job"),
    form,
  );
  // Suggestions only: a failure here leaves the form usable.
  const files = await json("/v1/files", {
    query: { purpose: "fine-tune", limit: 100, order: "desc" },
    signal: route.signal,
  }).catch(() => ({ data: [] }));
  for (const f of files.data) {
    choices.append(h("option", { value: f.id, text: `${f.filename} (${bytes(f.bytes)})` }));
  }
}
