// The audit log: every admin action, newest first (who, what, on whose book, when).
import { t } from "../web/text.js";
import { el, timeOf } from "./dom.js";
import { Listing } from "./listing.js";

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
  constructor(console) {
    this.listing = new Listing(document.getElementById("audit-view"), (entry) => this.#row(entry), console.fail);
  }

  #row(entry) {
    return el(
      "tr",
      {},
      el("td", {}, timeOf(entry.at)),
      el("td", {}, el("span", { className: "user-id", textContent: entry.admin_id })),
      el("td", { textContent: actionName(entry.action) }),
      el("td", {}, entry.user_id ? el("span", { className: "user-id", textContent: entry.user_id }) : "—"),
      el("td", {}, entry.book_id ? el("code", { className: "book-id", textContent: entry.book_id }) : "—"),
      el("td", { textContent: detailText(entry.detail) || "—" }),
    );
  }

  open(_, signal) {
    return this.listing.load("/v1/admin/audit", {}, signal);
  }
}
