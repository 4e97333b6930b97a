// Finished books: the list with each book's cost, the totals of a UTC day, one book with its
// pages, and taking it down after a confirmation.
import { api } from "../web/api.js";
import { confirmWith } from "../web/dialog.js";
import { t } from "../web/text.js";
import { count, el, facts, timeOf, usageText, utcDay } from "./dom.js";
import { Listing } from "./listing.js";
import { showPages } from "./pages.js";

const ADMIN = "/v1/admin";

function thumbnail(src) {
  return el("img", { className: "thumb", src, alt: "", width: 48, height: 48, loading: "lazy" });
}

function finishedBy(who) {
  return el("span", { className: "by", textContent: t(`finished_by_${who}`) });
}

export class Finished {
  constructor(shell) {
    this.shell = shell;
    this.section = document.getElementById("finished-view");
    this.filter = document.getElementById("finished-filter");
    this.dayForm = document.getElementById("day-form");
    this.day = document.getElementById("day");
    this.listing = new Listing(this.section, (item) => this.#row(item), shell.fail);
    this.filter.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#loadList().catch(shell.fail);
    });
    this.dayForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#loadDay().catch(shell.fail);
    });
    this.bookView = new FinishedBook(shell);
  }

  #row(item) {
    const usage = usageText(item.usage);
    return el(
      "tr",
      {},
      el(
        "td",
        {},
        el(
          "span",
          { className: "titled" },
          item.cover_image_url ? thumbnail(item.cover_image_url) : null,
          el("span", { className: "title", textContent: item.title }),
        ),
      ),
      el("td", {}, el("span", { className: "user-id", textContent: item.user_id })),
      el("td", { textContent: count(item.page_count) }),
      el("td", {}, timeOf(item.finished_at), el("br"), finishedBy(item.finished_by)),
      el("td", { className: "number", textContent: `${usage.tokens_in} / ${usage.tokens_out}` }),
      el("td", { className: "number", textContent: usage.images }),
      el(
        "td",
        { className: "actions" },
        el("a", {
          className: "button quiet open",
          href: `#finished/${encodeURIComponent(item.id)}`,
          textContent: t("open"),
          attrs: { "aria-label": t("open_book", { title: item.title }) },
        }),
      ),
    );
  }

  #loadList(signal) {
    const user = String(new FormData(this.filter).get("user_id") ?? "").trim();
    return this.listing.load(`${ADMIN}/books`, { user_id: user }, signal);
  }

  async #loadDay(signal) {
    const day = this.day.value || utcDay();
    this.day.value = day;
    const totals = await api(`${ADMIN}/usage?day=${encodeURIComponent(day)}`, { signal });
    const shown = [
      [t("books_finished"), totals.books],
      [t("tokens_in"), totals.usage.tokens_in],
      [t("tokens_out"), totals.usage.tokens_out],
      [t("images"), totals.usage.images],
    ];
    document.getElementById("day-totals").replaceChildren(
      ...shown.map(([name, value]) =>
        el("div", {}, el("dt", { textContent: name }), el("dd", { textContent: count(value) })),
      ),
    );
  }

  async open(bookId, signal) {
    if (bookId) return this.bookView.open(bookId, signal);
    await Promise.all([this.#loadDay(signal), this.#loadList(signal)]);
  }
}

class FinishedBook {
  constructor(shell) {
    this.shell = shell;
    this.cover = document.getElementById("finished-book-cover");
    const takedown = document.getElementById("takedown");
    takedown.addEventListener("click", () => this.#takedown().catch(shell.fail));
  }

  async open(bookId, signal) {
    const book = await api(`${ADMIN}/books/${encodeURIComponent(bookId)}`, { signal });
    this.book = book;
    document.getElementById("finished-book-title").textContent = book.title;
    this.cover.src = book.cover_image_url;
    this.cover.alt = t("cover_of", { title: book.title });
    facts(document.getElementById("finished-book-facts"), [
      [t("user"), book.user_id],
      [t("pages"), count(book.page_count)],
      [t("language"), t(`language_${book.language}`)],
      [t("characters"), book.characters.map((c) => c.name).join(", ")],
      [t("created"), timeOf(book.created_at)],
      [t("finished_at"), timeOf(book.finished_at)],
      [t("finished_by"), t(`finished_by_${book.finished_by}`)],
      [t("share_link"), t(book.share_link_active ? "share_link_active" : "share_link_none")],
      [t("usage"), t("usage_value", usageText(book.usage))],
      [t("book_id"), el("code", { textContent: book.id })],
    ]);
    showPages(document.getElementById("finished-book-pages"), book.pages);
  }

  async #takedown() {
    const { id, title, user_id: user } = this.book;
    const sure = await confirmWith(t("confirm_takedown", { title, user }), {
      confirmLabel: t("takedown_confirm"),
      danger: true,
    });
    if (!sure) return;
    await api(`${ADMIN}/books/${encodeURIComponent(id)}`, { method: "DELETE" });
    this.shell.notify(t("taken_down_notice", { title }));
    this.shell.go("#finished");
  }
}
