// A resource's list page, as batches and fine-tuning jobs show theirs: one API page
// in a table, a pager over the API's cursors, and a link to make a new one.

import { json } from "./api.js";
import { announce, h, heading, row, table } from "./dom.js";
import { cursorPager } from "./ui.js";

const PAGE_SIZE = 20;

export const fileLink = (id) =>
  id ? h("a", { href: `#/files/${encodeURIComponent(id)}`, text: id }) : "none";

// `spec`: apiPath, hash (this page's route), title, noun (plural, lower case),
// create ({ href, text }), columns, cells(item) and hooks(item) for each row, and
// history (the module's cursors of the pages before this one).
export async function listPage(view, route, spec) {
  const { apiPath, hash, title, noun, create, columns, cells, hooks, history } = spec;
  const after = route.query.get("after") ?? "";
  if (!after) history.length = 0;
  const page = await json(apiPath, { query: { limit: PAGE_SIZE, after }, signal: route.signal });
  const rows = page.data.map((item) => row(columns, cells(item), hooks(item)));
  const go = (cursor) => {
    location.hash = cursor ? `${hash}?after=${encodeURIComponent(cursor)}` : hash;
  };
  // A list without last_id (fine-tuning jobs) pages after the last item shown.
  const cursor = { ...page, last_id: page.last_id ?? page.data.at(-1)?.id ?? null };
  view.append(
    heading(title),
    h("p", {}, h("a", { class: "button primary", href: create.href, text: create.text })),
    h(
      "div",
      { class: "table-wrap" },
      rows.length
        ? table(`Your ${noun}`, columns, rows)
        : h("p", { class: "empty", text: `No ${noun}.` }),
    ),
    cursorPager(`Pages of ${noun}`, { history, after, page: cursor, go }),
  );
  announce(`${rows.length} ${noun} shown.`);
}
