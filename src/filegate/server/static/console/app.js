// The console's shell: sign-in and sign-out, the section router (on the URL's
// fragment, which never reaches the server), and which sections a key may see.

import { ApiError, json, session } from "./api.js";
import { clear } from "./dom.js";
import { forgetKeys, startWorker } from "./download.js";
import { clearError, showError } from "./ui.js";
import * as files from "./files.js";
import * as batches from "./batches.js";
import * as finetuning from "./finetuning.js";
import * as admin from "./admin.js";

const SECTIONS = { files, batches, "fine-tuning": finetuning, admin };
const state = { admin: false, cleanup: null, controller: null };

const $ = (id) => document.getElementById(id);

function parseRoute() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?", 2);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { section: parts[0] || "files", parts: parts.slice(1), query: new URLSearchParams(query) };
}

async function whoAmI() {
  // A key that cannot list files is no key (401), whatever else it might do.
  await json("/v1/files", { query: { limit: 1 } });
  try {
    await json("/key/list", { query: { size: 1 } });
    return { admin: true, label: "master key" };
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 403) throw error;
  }
  const info = await json("/key/info").catch(() => null);
  const key = info?.info;
  const name = key?.key_alias || key?.key_name || "virtual key";
  return { admin: false, label: key?.team_id ? `${name} (team ${key.team_id})` : name };
}

function showSignedOut() {
  state.cleanup?.();
  state.controller?.abort();
  state.cleanup = null;
  clear($("view"));
  $("nav").hidden = true;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  $("signin").hidden = false;
  $("key-input").value = "";
  $("key-input").focus();
}

async function signIn(key) {
  session.key = key;
  try {
    const who = await whoAmI();
    state.admin = who.admin;
    $("who").textContent = `Signed in with ${who.label}`;
  } catch (error) {
    session.key = null;
    showSignedOut();
    showError(error);
    return false;
  }
  $("signin").hidden = true;
  $("nav").hidden = false;
  $("nav-admin").hidden = !state.admin;
  $("sign-out").hidden = false;
  return true;
}

function signOut() {
  session.key = null;
  forgetKeys();
  state.admin = false;
  clearError();
  showSignedOut();
  if (location.hash) history.replaceState(null, "", location.pathname);
}

async function route({ focus = true } = {}) {
  if (!session.key) return;
  state.cleanup?.();
  state.controller?.abort();
  state.controller = new AbortController();
  const current = parseRoute();
  const section = SECTIONS[current.section] ?? files;
  for (const link of $("nav").querySelectorAll("a")) {
    if (link.dataset.section === current.section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  clearError();
  const view = clear($("view"));
  current.signal = state.controller.signal;
  current.admin = state.admin;
  try {
    state.cleanup = (await section.render(view, current)) ?? null;
  } catch (error) {
    if (error?.name !== "AbortError") showError(error);
  }
  if (focus) $("main").focus({ preventScroll: true });
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = $("key-input").value.trim();
  if (!key) return;
  clearError();
  if (await signIn(key)) {
    $("key-input").value = "";
    await route();
  }
});
$("sign-out").addEventListener("click", signOut);
window.addEventListener("hashchange", () => route());

startWorker();
if (session.key) {
  signIn(session.key).then((ok) => ok && route({ focus: false }));
} else {
  showSignedOut();
}
