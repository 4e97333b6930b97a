// Books in progress: the list (filtered by state and user, stuck ones marked), one book with its
// pages and pictures, and finishing it (with force when it is not done) after a confirmation.
import { api, ApiError } from "../web/api.js";
import { confirmWith } from "../web/dialog.js";
import { t } from "../web/text.js";
import { el, facts, timeOf, usageText } from "./dom.js";
import { Listing } from "./listing.js";
import { showPages } from "./pages.js";

const ADMIN = "/v1/admin";

function stateName(state) {
  return t(`state_${state}`);
}

function pagesWritten(written, total) {
  return t("pages_written", { written, total });
}

function stuckBadge() {
  const explained = t("stuck_explained");
  return el("strong", { className: "badge stuck", textContent: t("stuck"), title: explained });
}

/** 128 random bits in hex (`crypto.randomUUID` exists only on https and localhost). */
function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function userPath(user) {
  return `${ADMIN}/users/${encodeURIComponent(user)}/books/current`;
}

export class InProgress {
  constructor(shell) {
    this.shell = shell;
    this.section = document.getElementById("in-progress-view");
    this.filter = document.getElementById("in-progress-filter");
    this.listing = new Listing(this.section, (item) => this.#row(item), shell.fail);
    this.stuck = new Set(); // users whose book the list marked stuck
    this.filter.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#loadList().catch(shell.fail);
    });
    this.bookView = new BookInProgress(shell, this.stuck);
  }

  #row(item) {
    if (item.stuck) this.stuck.add(item.user_id);
    const state = el("td", {}, stateName(item.state));
    if (item.stuck) {
      state.append(" ", stuckBadge());
    }
    return el(
      "tr",
      { className: item.stuck ? "stuck" : "" },
      el("td", {}, el("span", { className: "user-id", textContent: item.user_id })),
      state,
      el("td", { textContent: pagesWritten(item.pages_written, item.page_count) }),
      el("td", {}, timeOf(item.updated_at)),
      el("td", {}, timeOf(item.expires_at)),
      el(
        "td",
        { className: "actions" },
        el("a", {
          className: "button quiet open",
          href: `#in-progress/${encodeURIComponent(item.user_id)}`,
          textContent: t("open"),
          attrs: { "aria-label": t("open_book_of", { user: item.user_id }) },
        }),
      ),
    );
  }

  #loadList(signal) {
    this.stuck.clear();
    const form = new FormData(this.filter);
    const params = { state: form.get("state"), user_id: String(form.get("user_id") ?? "").trim() };
    return this.listing.load(`${ADMIN}/books-in-progress`, params, signal);
  }

  async open(user, signal) {
    if (user) return this.bookView.open(user, signal);
    return this.#loadList(signal);
  }
}

class BookInProgress {
  constructor(shell, stuck) {
    this.shell = shell;
    this.stuck = stuck;
    this.form = document.getElementById("finish-form");
    this.title = document.getElementById("finish-book-title");
    this.titleError = document.getElementById("finish-book-title-error");
    this.force = document.getElementById("finish-force");
    this.forceHint = document.getElementById("finish-force-hint");
    this.pending = null; // {body, key}: a finish whose answer never came is repeated with its key
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#finish().catch(shell.fail);
    });
  }

  async open(user, signal) {
    const book = await api(userPath(user), { signal });
    this.user = user;
    this.book = book;
    document.getElementById("book-title").textContent = t("book_of", { user });
    const written = book.pages.length;
    const state = el("span", {}, stateName(book.state));
    if (this.stuck.has(user)) state.append(" ", stuckBadge());
    facts(document.getElementById("book-facts"), [
      [t("user"), user],
      [t("state"), state],
      [t("pages"), pagesWritten(written, book.page_count)],
      [t("language"), t(`language_${book.language}`)],
      [t("characters"), book.characters.map((c) => c.name).join(", ")],
      [t("setting"), book.setting || "—"],
      [t("created"), timeOf(book.created_at)],
      [t("updated"), timeOf(book.updated_at)],
      [t("expires"), timeOf(book.expires_at)],
      [t("usage"), t("usage_value", usageText(book.usage))],
      [t("book_id"), el("code", { textContent: book.id })],
    ]);
    this.title.value = "";
    this.#showFieldError("");
    const needsForce = book.state !== "done";
    this.force.checked = needsForce;
    this.forceHint.textContent = needsForce
      ? t("force_needed", { written, total: book.page_count })
      : t("force_not_needed");
    showPages(document.getElementById("book-pages"), book.pages);
    document.getElementById("book-no-pages").hidden = written > 0;
  }

  #showFieldError(message) {
    this.titleError.textContent = message;
    if (message) this.title.setAttribute("aria-invalid", "true");
    else this.title.removeAttribute("aria-invalid");
  }

  async #finish() {
    const title = this.title.value.trim();
    if (!title) {
      this.#showFieldError(t("title_needed"));
      this.title.focus();
      return;
    }
    this.#showFieldError("");
    const body = { title, force: this.force.checked };
    const { pages, page_count: total } = this.book;
    const values = { user: this.user, title, written: pages.length, total };
    const question = body.force ? t("confirm_force_finish", values) : t("confirm_finish", values);
    if (!(await confirmWith(question, { confirmLabel: t("finish_confirm"), danger: true }))) {
      return;
    }
    const same = this.pending && JSON.stringify(this.pending.body) === JSON.stringify(body);
    const key = same ? this.pending.key : idempotencyKey();
    this.pending = { body, key };
    let finished;
    try {
      finished = await api(`${userPath(this.user)}/finish`, {
        method: "POST",
        json: body,
        headers: { "Idempotency-Key": key },
      });
    } catch (error) {
      if (error instanceof ApiError && error.status !== 0) this.pending = null;
      const refused = error instanceof ApiError ? error.fieldErrors().get("title") : undefined;
      if (refused) {
        this.#showFieldError(refused);
        this.title.focus();
        return;
      }
      throw error;
    }
    this.pending = null;
    this.shell.notify(t("finished_notice", { user: this.user, title: finished.title }));
    this.shell.go(`#finished/${finished.id}`);
  }
}
