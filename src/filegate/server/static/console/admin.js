// Admin (the master key): virtual keys, teams, their limits, the audit trail.

import { json } from "./api.js";
import { announce, bytes, clear, field, h, heading, row, select, table, when } from "./dom.js";
import { attempt, confirmAction, copyText, cursorPager } from "./ui.js";
import { UPLOAD_PURPOSES } from "./files.js";

const TABS = [
  ["keys", "Keys"],
  ["teams", "Teams"],
  ["audit", "Audit trail"],
];
const SIZE_LIMITS = ["max_file_size", "max_stored_bytes"];
const COUNT_LIMITS = [
  "max_files",
  "rpm",
  "upload_rpm",
  "max_concurrent_uploads",
  "max_batches_in_progress",
  "max_fine_tuning_jobs_in_progress",
];
const LIMIT_LABELS = {
  max_file_size: "Largest file (e.g. 100MB)",
  max_stored_bytes: "Bytes stored in all (e.g. 50GB)",
  max_files: "Files held at once",
  rpm: "Requests per minute",
  upload_rpm: "Uploads per minute",
  max_concurrent_uploads: "Uploads at once",
  max_batches_in_progress: "Batches in progress",
  max_fine_tuning_jobs_in_progress: "Fine-tuning jobs in progress",
  allowed_purposes: "Allowed purposes (none ticked: all)",
};
const ACTIONS = [
  "file.create",
  "file.download",
  "file.delete",
  "key.generate",
  "key.update",
  "key.delete",
  "team.new",
  "team.update",
  "team.delete",
];
const AUDIT_PAGE = 50;
const auditHistory = [];

export async function render(view, route) {
  const tab = TABS.some(([t]) => t === route.parts[0]) ? route.parts[0] : "keys";
  view.append(
    heading("Admin"),
    h(
      "nav",
      { class: "tabs", "aria-label": "Admin sections" },
      TABS.map(([t, label]) =>
        h("a", { href: `#/admin/${t}`, text: label, "aria-current": t === tab ? "page" : null }),
      ),
    ),
  );
  if (tab === "teams") return renderTeams(view, route);
  if (tab === "audit") return renderAudit(view, route);
  return renderKeys(view, route);
}

function limitsSummary(obj) {
  const parts = [];
  for (const name of SIZE_LIMITS) if (obj[name] != null) parts.push(`${name} ${bytes(obj[name])}`);
  for (const name of COUNT_LIMITS) if (obj[name] != null) parts.push(`${name} ${obj[name]}`);
  if (obj.allowed_purposes) parts.push(`purposes ${obj.allowed_purposes.join(", ") || "none"}`);
  return parts.length ? parts.join("; ") : "none";
}

// The limit inputs, filled from `current`; read() gives what changed (null clears).
function limitsFieldset(current = {}) {
  const inputs = {};
  const fields = [];
  for (const name of [...SIZE_LIMITS, ...COUNT_LIMITS]) {
    const isSize = SIZE_LIMITS.includes(name);
    inputs[name] = h("input", {
      name,
      type: isSize ? "text" : "number",
      min: isSize ? null : 0,
      inputmode: isSize ? null : "numeric",
      value: current[name] ?? "",
    });
    fields.push(field(LIMIT_LABELS[name], inputs[name]));
  }
  const boxes = UPLOAD_PURPOSES.map((p) =>
    h("input", { type: "checkbox", value: p, checked: current.allowed_purposes?.includes(p) }),
  );
  const purposes = h(
    "fieldset",
    { class: "checks" },
    h("legend", { text: LIMIT_LABELS.allowed_purposes }),
    boxes.map((box) => h("label", {}, box, ` ${box.value}`)),
  );
  const element = h(
    "fieldset",
    { class: "limits" },
    h("legend", { text: "Limits (empty: none)" }),
    h("div", { class: "grid" }, fields),
    purposes,
  );
  function read() {
    const out = {};
    for (const [name, input] of Object.entries(inputs)) {
      const text = input.value.trim();
      const value =
        text === "" ? null : SIZE_LIMITS.includes(name) && /\D/.test(text) ? text : Number(text);
      if (value !== (current[name] ?? null)) out[name] = value;
    }
    const ticked = boxes.filter((b) => b.checked).map((b) => b.value);
    const before = current.allowed_purposes ?? null;
    const after = ticked.length ? ticked : null;
    if (JSON.stringify(after) !== JSON.stringify(before)) out.allowed_purposes = after;
    return out;
  }
  return { element, read };
}

// "Edit limits" and "Delete" for one key or team, named for screen readers.
function rowActions(name, onEdit, onDelete) {
  return h(
    "div",
    { class: "row-actions" },
    h("button", {
      type: "button",
      text: "Edit limits",
      "aria-label": `Edit the limits of ${name}`,
      onclick: onEdit,
    }),
    h("button", {
      type: "button",
      class: "danger",
      text: "Delete",
      "aria-label": `Delete ${name}`,
      onclick: (e) => attempt(onDelete, e.currentTarget),
    }),
  );
}

// Deletes after a confirmation, then shows the list again.
async function confirmDelete(question, call, refresh) {
  if (!(await confirmAction(question))) return;
  await call();
  announce("Deleted.");
  await refresh();
}

// A form for the limits of one key or team; `save(changes)` sends what changed.
function editLimits(area, title, current, save, refresh) {
  const form = editor(
    title,
    [],
    limitsFieldset(current),
    async (limits) => {
      await save(limits);
      clear(area);
      announce("Limits saved.");
      await refresh();
    },
    "Save limits",
  );
  clear(area).append(form);
  form.querySelector("input")?.focus();
}

function input(name, attrs = {}) {
  return h("input", { name, autocomplete: "off", spellcheck: "false", ...attrs });
}

// One card for making or editing a key or a team; `send(body)` does the call.
function editor(title, controls, limits, send, submitText) {
  const submit = h("button", { type: "submit", class: "primary", text: submitText });
  const form = h(
    "form",
    { class: "card" },
    h("h2", { text: title }),
    controls,
    limits.element,
    submit,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(() => send(limits.read()), submit);
  });
  return form;
}

async function renderKeys(view, route) {
  const [keyList, teams] = await Promise.all([
    json("/key/list", { query: { return_full_object: "true", size: 1000 }, signal: route.signal }),
    json("/team/list", { signal: route.signal }),
  ]);
  const shown = h("div", { "aria-live": "polite" });
  const editArea = h("div");
  const teamChoices = h(
    "datalist",
    { id: "team-ids" },
    teams.map((t) => h("option", { value: t.team_id, text: t.team_alias ?? t.team_id })),
  );

  const alias = input("key_alias");
  const userId = input("user_id");
  const teamId = input("team_id", { list: "team-ids" });
  const teamAccess = h("input", { type: "checkbox", name: "team_access" });
  const duration = input("duration", { placeholder: "30d" });
  const createForm = editor(
    "New key",
    [
      h(
        "div",
        { class: "grid" },
        field("Alias", alias),
        field("User id", userId),
        field("Team", teamId),
        field("Lifetime", duration, "e.g. 12h, 30d, 2w; empty: no expiry"),
      ),
      h("label", { class: "check" }, teamAccess, " Sees its team's files"),
      teamChoices,
    ],
    limitsFieldset(),
    async (limits) => {
      const body = { ...limits, team_access: teamAccess.checked };
      for (const el of [alias, userId, teamId, duration])
        if (el.value.trim()) body[el.name] = el.value.trim();
      const made = await json("/key/generate", { method: "POST", body });
      showNewKey(shown, made);
      await refresh();
    },
    "Create key",
  );

  const listArea = h("div", { class: "table-wrap" });
  const columns = ["Alias", "Key", "Team", "Created", "Expires", "Limits", "Actions"];
  function fill(keys) {
    const rows = keys.map((k) =>
      row(
        columns,
        [
          k.key_alias ?? "",
          [k.key_name, h("small", { class: "id", text: k.token })],
          k.team_id ? `${k.team_id}${k.team_access ? " (sees team files)" : ""}` : "",
          when(k.created_at),
          k.expires ? when(k.expires) : "never",
          limitsSummary(k),
          rowActions(
            k.key_alias ?? k.token,
            () => editKey(k),
            () =>
              confirmDelete(
                `Delete key ${k.key_alias ?? ""} ${k.token}?`,
                () => json("/key/delete", { method: "POST", body: { keys: [k.token] } }),
                refresh,
              ),
          ),
        ],
        { dataset: { keyId: k.token } },
      ),
    );
    clear(listArea).append(
      rows.length
        ? table("Virtual keys", columns, rows)
        : h("p", { class: "empty", text: "No keys." }),
    );
  }
  function editKey(k) {
    const save = (limits) =>
      json("/key/update", { method: "POST", body: { key: k.token, ...limits } });
    editLimits(editArea, `Limits of ${k.key_alias ?? k.token}`, k, save, refresh);
  }
  async function refresh() {
    fill((await json("/key/list", { query: { return_full_object: "true", size: 1000 } })).keys);
  }
  fill(keyList.keys);
  view.append(shown, editArea, listArea, createForm);
}

function showNewKey(area, made) {
  const secret = h("input", {
    readonly: true,
    value: made.key,
    testid: "new-key",
    class: "secret",
  });
  const copy = h("button", { type: "button", text: "Copy" });
  copy.addEventListener("click", async () => {
    copy.textContent = (await copyText(made.key, secret)) ? "Copied" : "Press Ctrl+C";
  });
  const dismiss = h("button", {
    type: "button",
    text: "Done, hide it",
    onclick: () => clear(area),
  });
  clear(area).append(
    h(
      "section",
      { class: "card notice", "aria-labelledby": "new-key-title" },
      h("h2", { id: "new-key-title", text: `New key ${made.key_alias ?? made.token}` }),
      h("p", { text: "Copy it now: it is shown this once, and only its digest is kept." }),
      field("Secret", secret),
      h("div", { class: "actions" }, copy, dismiss),
    ),
  );
  secret.focus();
  secret.select();
}

async function renderTeams(view, route) {
  const teams = await json("/team/list", { signal: route.signal });
  const editArea = h("div");
  const listArea = h("div", { class: "table-wrap" });
  const columns = ["Team", "Alias", "Created", "Limits", "Actions"];
  function fill(list) {
    const rows = list.map((t) =>
      row(
        columns,
        [
          t.team_id,
          t.team_alias ?? "",
          when(t.created_at),
          limitsSummary(t),
          rowActions(
            `team ${t.team_id}`,
            () => editTeam(t),
            () =>
              confirmDelete(
                `Delete team ${t.team_id}? It must have no keys.`,
                () => json("/team/delete", { method: "POST", body: { team_ids: [t.team_id] } }),
                refresh,
              ),
          ),
        ],
        { dataset: { teamId: t.team_id } },
      ),
    );
    clear(listArea).append(
      rows.length ? table("Teams", columns, rows) : h("p", { class: "empty", text: "No teams." }),
    );
  }
  function editTeam(t) {
    const save = (limits) =>
      json("/team/update", { method: "POST", body: { team_id: t.team_id, ...limits } });
    editLimits(editArea, `Limits of team ${t.team_id}`, t, save, refresh);
  }
  async function refresh() {
    fill(await json("/team/list"));
  }
  const teamId = input("team_id");
  const alias = input("team_alias");
  const createForm = editor(
    "New team",
    [
      h(
        "div",
        { class: "grid" },
        field("Team id", teamId, "Empty: one is made up"),
        field("Alias", alias),
      ),
    ],
    limitsFieldset(),
    async (limits) => {
      const body = { ...limits };
      if (teamId.value.trim()) body.team_id = teamId.value.trim();
      if (alias.value.trim()) body.team_alias = alias.value.trim();
      await json("/team/new", { method: "POST", body });
      teamId.value = "";
      alias.value = "";
      announce("Team created.");
      await refresh();
    },
    "Create team",
  );
  fill(teams);
  view.append(editArea, listArea, createForm);
}

async function renderAudit(view, route) {
  const q = route.query;
  const filters = {
    actor: q.get("actor") ?? "",
    action: q.get("action") ?? "",
    subject: q.get("subject") ?? "",
  };
  const after = q.get("after") ?? "";
  if (!after) auditHistory.length = 0;
  const page = await json("/audit", {
    query: { limit: AUDIT_PAGE, after, ...filters },
    signal: route.signal,
  });
  const go = (extra) => {
    const params = new URLSearchParams(
      Object.entries({ ...filters, ...extra }).filter(([, v]) => v),
    );
    location.hash = `#/admin/audit${params.size ? `?${params}` : ""}`;
  };
  const actor = input("actor", { value: filters.actor, placeholder: "key-… or master" });
  const action = select(
    "action",
    [["", "Any action"], ...ACTIONS.map((a) => [a, a])],
    filters.action,
  );
  const subject = input("subject", { value: filters.subject, placeholder: "file-… or key-…" });
  const filterForm = h(
    "form",
    { class: "toolbar" },
    field("Actor", actor),
    field("Action", action),
    field("Subject", subject),
    h("button", { type: "submit", text: "Filter" }),
  );
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    filters.actor = actor.value.trim();
    filters.action = action.value;
    filters.subject = subject.value.trim();
    go({});
  });
  const columns = ["When", "Actor", "Action", "Subject", "Bytes", "Detail"];
  const rows = page.data.map((e) =>
    row(columns, [
      when(e.created_at),
      e.actor,
      e.action,
      e.subject?.startsWith("file-")
        ? h("a", { href: `#/files/${encodeURIComponent(e.subject)}`, text: e.subject })
        : (e.subject ?? ""),
      e.bytes == null ? "" : bytes(e.bytes),
      e.detail && Object.keys(e.detail).length ? h("code", { text: JSON.stringify(e.detail) }) : "",
    ]),
  );
  const pager = cursorPager(
    "Pages of the audit trail",
    { history: auditHistory, after, page, go: (cursor) => go({ after: cursor }) },
    { previous: "Newer", next: "Older", first: "Newest" },
  );
  view.append(
    filterForm,
    h(
      "div",
      { class: "table-wrap" },
      rows.length
        ? table("Audit events, newest first", columns, rows)
        : h("p", { class: "empty", text: "No events." }),
    ),
    pager,
  );
}
