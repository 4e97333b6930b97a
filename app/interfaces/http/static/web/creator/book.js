// The book in progress: what is known of it (the last read, plus the newer events), writing a
// page (202, Prefer: respond-async, one Idempotency-Key per idea and reused on its retries),
// drawing a failed picture again, finishing (the title) and discarding (after a confirmation).
import { api } from "../api.js";
import { confirmWith } from "../dialog.js";
import { IntentKeys, clearErrors, describe, newKey, showError } from "../forms.js";
import { t } from "../text.js";
import { renderBook } from "./book_view.js";
import { BookFeed } from "./feed.js";

const ASYNC = { Prefer: "respond-async" };
const $ = (id) => document.getElementById(id);

export class BookScreen {
  /**
   * on.finished(finishedBook); on.closed(message): the book left (discarded, gone);
   * on.signedOut(); on.status(message, isError): a word for the page's status line.
   */
  constructor(on) {
    this.on = on;
    this.book = null;
    this.readVersion = 0; // the version of the last full read: events at or below it are old
    this.seenVersion = 0; // the newest version applied, from a read or an event
    this.sending = false; // an idea is on its way: sent, or accepted (202) and not yet a page
    this.accepted = false; // the 202 came: a read without the page and not generating is a failure
    this.pausedUntil = 0; // after a 429: the send button waits Retry-After seconds
    this.feed = null;
    this.pageKeys = new IntentKeys();
    this.finishKeys = new IntentKeys();
    this.redrawKeys = new Map();
    $("write-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    $("finish-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.finish();
    });
    $("discard").addEventListener("click", () => this.discard());
  }

  open(book) {
    $("book").hidden = false;
    this.book = null;
    this.adopt(book);
    this.feed?.stop();
    this.feed = new BookFeed(
      {
        event: (name, data) => this.apply(name, data),
        snapshot: (read) => (read ? this.adopt(read) : this.close(t("book_gone"))),
        gone: () => this.close(t("book_gone")),
        signedOut: () => this.on.signedOut(),
      },
      () => this.waiting(),
    );
    this.feed.start();
  }

  /** Stop showing the book (signed out, another user): nothing more is said. */
  leave() {
    this.feed?.stop();
    this.feed = null;
    this.book = null;
    this.sending = false;
    this.accepted = false;
    $("pages").replaceChildren();
    $("chips").replaceChildren();
    delete $("chips").dataset.signature;
    $("idea").value = "";
    clearErrors($("write-form"));
    $("book").hidden = true;
  }

  /** The book left: discarded, finished elsewhere, expired. */
  close(message = "") {
    this.leave();
    this.on.closed(message);
  }

  /** Whether a page or a picture is on its way (worth polling for while the stream is down). */
  waiting() {
    const book = this.book;
    if (!book) return false;
    return (
      this.sending ||
      book.state === "generating" ||
      book.state === "bookInit" ||
      book.pages.some((page) => page.image_status === "pending")
    );
  }

  /** A full read of the book; one older than what the events already showed is ignored. */
  adopt(book) {
    if (this.book && book.id === this.book.id && book.version < this.seenVersion) return;
    const newPage = this.book ? this.book.pages.length < book.pages.length : false;
    this.book = book;
    this.readVersion = book.version;
    this.seenVersion = book.version;
    if (newPage) this.pageArrived();
    else if (this.accepted && book.state !== "generating") this.pageFailed();
    this.render();
  }

  apply(name, data) {
    const book = this.book;
    if (!book || data.book_id !== book.id || !(data.version > this.readVersion)) return;
    const page = book.pages.find((p) => p.number === data.page);
    if (name === "page_text") {
      const written = { number: data.page, input: data.input, text: data.text };
      if (page) Object.assign(page, written);
      else book.pages.push({ ...written, image_status: "pending", image_url: null });
      book.pages.sort((a, b) => a.number - b.number);
      if (book.state === "generating") {
        book.state = book.pages.length >= book.page_count ? "done" : "bookInProgress";
      }
      this.pageArrived();
    } else if (name === "questions") {
      book.questions = data.questions;
    } else if (name === "image_ready" && page) {
      Object.assign(page, { image_status: "ready", image_url: data.image_url });
    } else if (name === "page_done") {
      book.state = data.state;
    } else if (name === "book_done") {
      book.state = "done";
    } else if (name === "generation_failed") {
      if (data.stage === "illustration" && page) page.image_status = "failed";
      if (data.stage === "text") {
        book.state = "bookInProgress";
        this.pageFailed(data.detail);
      }
    }
    this.seenVersion = Math.max(this.seenVersion, data.version);
    this.render();
  }

  /** The idea became a page: the box is free for the next one. */
  pageArrived() {
    if (!this.sending) return;
    this.sending = false;
    this.accepted = false;
    $("idea").value = "";
    this.pageKeys.forget();
    this.on.status("");
  }

  /** The page's text could not be written: the idea stays, to be sent again (a new try). */
  pageFailed(detail = "") {
    if (!this.sending) return;
    this.sending = false;
    this.accepted = false;
    this.pageKeys.forget(); // the old key would only replay the accepted 202
    this.on.status("");
    showError("error-input", detail || t("page_failed"), $("idea"));
  }

  render() {
    if (!this.book) return;
    renderBook(this.book, {
      sending: this.sending,
      paused: Date.now() < this.pausedUntil,
      onRedraw: (number, button) => this.redraw(number, button),
      onChip: (question) => {
        $("idea").value = question;
        $("idea").focus();
      },
    });
  }

  async send() {
    const input = $("idea").value;
    clearErrors($("write-form"));
    if (!input.trim()) {
      showError("error-input", t("idea_needed"), $("idea"));
      $("idea").focus();
      return;
    }
    const key = this.pageKeys.keyFor({ input, book: this.book.id, page: this.book.pages.length });
    this.sending = true;
    this.render();
    try {
      const book = await this.#post("/v1/books/current/pages", key, { input });
      if (this.sending) {
        // unless its text came first, on the stream
        this.accepted = true;
        this.on.status(t("page_on_its_way"));
      }
      this.adopt(book);
    } catch (error) {
      this.sending = false;
      this.#refused(error, "error-input", $("idea"));
    }
  }

  async redraw(number, button) {
    button.disabled = true;
    if (!this.redrawKeys.has(number)) this.redrawKeys.set(number, newKey());
    try {
      const book = await this.#post(
        `/v1/books/current/pages/${number}/illustration`,
        this.redrawKeys.get(number),
      );
      this.redrawKeys.delete(number);
      this.adopt(book);
    } catch (error) {
      button.disabled = false;
      this.on.status(describe(error), true);
      if (error.status === 409 || error.status === 404) this.feed?.refresh();
    }
  }

  async finish() {
    const title = $("title").value;
    clearErrors($("finish-form"));
    if (!title.trim()) {
      showError("error-title", t("title_needed"), $("title"));
      $("title").focus();
      return;
    }
    $("finish").disabled = true;
    try {
      const finished = await this.#post(
        "/v1/books/current/finish",
        this.finishKeys.keyFor({ title, book: this.book.id }),
        { title },
        {},
      );
      this.finishKeys.forget();
      $("title").value = "";
      this.leave();
      this.on.finished(finished);
    } catch (error) {
      $("finish").disabled = false;
      this.#refused(error, "error-title", $("title"));
    }
  }

  async discard() {
    const sure = await confirmWith(t("discard_confirm"), {
      confirmLabel: t("discard_yes"),
      danger: true,
    });
    if (!sure) return;
    try {
      await api("/v1/books/current", { method: "DELETE" });
      this.close(t("discarded"));
    } catch (error) {
      if (error.status === 404) this.close(t("discarded"));
      else this.on.status(describe(error), true);
    }
  }

  /** A POST with its key, retried with the same key while the first try still runs. */
  async #post(path, key, json = undefined, headers = ASYNC) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await api(path, {
          method: "POST",
          json,
          headers: { ...headers, "Idempotency-Key": key },
        });
      } catch (error) {
        if (error.code !== "idempotency_key_in_use" || attempt >= 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, (error.retryAfter || 1) * 1000));
      }
    }
  }

  #refused(error, errorId, control) {
    if (error.status === 401) {
      this.on.signedOut();
      return;
    }
    const fields = error.fieldErrors?.() ?? new Map();
    const message = fields.size ? [...fields.values()].join(" ") : describe(error);
    showError(errorId, message, control);
    if (error.status === 429 && error.retryAfter) {
      this.pausedUntil = Date.now() + error.retryAfter * 1000;
      setTimeout(() => this.render(), error.retryAfter * 1000 + 50);
    }
    this.render();
    control.focus();
    if (error.status === 404 && error.code === "no_book_in_progress") this.close(t("book_gone"));
    else if (error.status === 409) this.feed?.refresh();
  }
}
