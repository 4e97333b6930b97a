// The audit log: every admin action, newest first (who, what, on whose book, when).
import { t } from "../web/text.js";
import { el, timeOf } from "./dom.js";
import { Listing } from "./listing.js";

/** The value in a `tag` of this class, or a dash when there is none. */
function orDash(value, tag, className) {
  return value ? el(tag, { className, textContent: value }) : "—";
}

function detailText(detail) {
  return Object.entries(detail ?? {})
    .map(([name, value]) => `${name}: ${value}`)
    .join(", ");
}

function actionName(action) {
  const key = `action_${action}`;
  const named = t(key);
  return named === key ? action : named;
}

export class Audit {
  constructor(shell) {
    const section = document.getElementById("audit-view");
    this.listing = new Listing(section, (entry) => this.#row(entry), shell.fail);
  }

  #row(entry) {
    return el(
      "tr",
      {},
      el("td", {}, timeOf(entry.at)),
      el("td", {}, el("span", { className: "user-id", textContent: entry.admin_id })),
      el("td", { textContent: actionName(entry.action) }),
      el("td", {}, orDash(entry.user_id, "span", "user-id")),
      el("td", {}, orDash(entry.book_id, "code", "book-id")),
      el("td", { textContent: detailText(entry.detail) || "—" }),
    );
  }

  open(_, signal) {
    return this.listing.load("/v1/admin/audit", {}, signal);
  }
}
