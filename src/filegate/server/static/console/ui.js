// What every page shares: the error banner, the confirmation dialog, busy buttons,
// the pager over the API's cursors.

import { h } from "./dom.js";

export function showError(error) {
  const banner = document.getElementById("error");
  // The API's own message, as the server wrote it.
  banner.textContent = error instanceof Error ? error.message : String(error);
  banner.hidden = false;
}

export function clearError() {
  const banner = document.getElementById("error");
  banner.textContent = "";
  banner.hidden = true;
}

// Runs `action` with `button` disabled; a failure lands in the banner.
export async function attempt(action, button) {
  clearError();
  if (button) button.disabled = true;
  try {
    return await action();
  } catch (error) {
    if (error?.name !== "AbortError") showError(error);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// A modal question; resolves true when the person confirms. Focus returns to
// whatever had it before (the dialog element does that itself).
export function confirmAction(text, okLabel = "Delete") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard permission: leave the text selected for Ctrl+C.
    input?.select();
    return false;
  }
}

// Buttons over the API's cursors. `history` holds the cursors of the pages before
// this one; `go(cursor)` shows the page after it ("" is the first page).
export function cursorPager(label, { history, after, page, go }, names = {}) {
  const { previous = "Previous page", next = "Next page", first = "First page" } = names;
  const nav = h("nav", { class: "pager", "aria-label": label });
  if (after) {
    nav.append(
      h("button", {
        type: "button",
        text: history.length ? previous : first,
        onclick: () => go(history.pop() ?? ""),
      }),
    );
  }
  if (page.has_more) {
    nav.append(
      h("button", {
        type: "button",
        text: next,
        onclick: () => {
          history.push(after);
          go(page.last_id);
        },
      }),
    );
  }
  return nav;
}
