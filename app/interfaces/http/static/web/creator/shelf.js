// The shelf: the user's finished books, newest first, a page of them at a time ("more books"),
// each to read (in the owner's reader, /books/{id}/read: no share link), share, download as
// PDF or EPUB, or delete.
import { api, apiFetch } from "../api.js";
import { confirmWith } from "../dialog.js";
import { describe } from "../forms.js";
import { language, t } from "../text.js";

const PAGE_SIZE = 10;
const $ = (id) => document.getElementById(id);

function button(label, onClick, className = "quiet") {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = label;
  element.addEventListener("click", () => onClick(element));
  return element;
}

function filenameOf(response, fallback) {
  const header = response.headers.get("Content-Disposition") ?? "";
  const encoded = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (encoded) return decodeURIComponent(encoded[1]);
  const plain = /filename="([^"]+)"/i.exec(header);
  return plain ? plain[1] : fallback;
}

export class Shelf {
  constructor(on) {
    this.on = on; // on.status(message, isError), on.signedOut()
    this.cursor = null;
    $("shelf-more").addEventListener("click", () => this.load({ more: true }));
  }

  hide() {
    $("shelf-section").hidden = true;
    $("shelf").replaceChildren();
  }

  async load({ more = false } = {}) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (more && this.cursor) query.set("cursor", this.cursor);
    let page;
    try {
      page = await api(`/v1/books?${query}`);
    } catch (error) {
      if (error.status === 401) this.on.signedOut();
      else this.on.status(describe(error), true);
      return;
    }
    if (!more) $("shelf").replaceChildren();
    const added = page.items.map((summary) => this.#item(summary));
    $("shelf").append(...added);
    this.cursor = page.next_cursor;
    $("shelf-more").hidden = !this.cursor;
    $("shelf-empty").hidden = $("shelf").children.length > 0;
    $("shelf-section").hidden = false;
    if (more) added[0]?.querySelector("button")?.focus();
  }

  #item(summary) {
    const item = document.createElement("li");
    item.className = "shelf-book card";
    item.dataset.bookId = summary.id;
    const cover = document.createElement("img");
    cover.src = summary.cover_image_url;
    cover.alt = "";
    cover.className = "shelf-cover";
    const title = document.createElement("h3");
    title.textContent = summary.title;
    const facts = document.createElement("p");
    facts.className = "hint";
    facts.textContent = t("shelf_facts", {
      pages: summary.page_count,
      when: new Intl.DateTimeFormat(language, { dateStyle: "medium" }).format(
        new Date(summary.finished_at),
      ),
    });
    const shared = document.createElement("div");
    shared.className = "shared";
    shared.hidden = true;
    const actions = document.createElement("div");
    actions.className = "row actions";
    const label = (key) => t(key, { title: summary.title });
    const withLabel = (element, key) => {
      element.setAttribute("aria-label", label(key));
      return element;
    };
    actions.append(
      withLabel(button(t("read"), () => this.read(summary), ""), "read_title"),
      withLabel(button(t("share"), (b) => this.share(summary, shared, b)), "share_title"),
      withLabel(button("PDF", (b) => this.download(summary, "pdf", b)), "pdf_title"),
      withLabel(button("EPUB", (b) => this.download(summary, "epub", b)), "epub_title"),
      withLabel(button(t("delete"), (b) => this.remove(summary, item, b), "quiet danger"), "delete_title"),
    );
    const words = document.createElement("div");
    words.append(title, facts);
    item.append(cover, words, actions, shared);
    return item;
  }

  read(summary) {
    // The owner's reader: the book fetched with the token, no share link made (reading your
    // own book must not publish it).
    window.location.assign(`/books/${encodeURIComponent(summary.id)}/read`);
  }

  async share(summary, holder, trigger) {
    trigger.disabled = true;
    try {
      const link = await api(`/v1/books/${summary.id}/share`, { method: "POST", json: {} });
      const id = `share-${summary.id}`;
      const labelled = document.createElement("label");
      labelled.htmlFor = id;
      labelled.textContent = t("share_link");
      const field = document.createElement("input");
      field.id = id;
      field.readOnly = true;
      field.value = link.url;
      const copy = button(t("copy"), async () => {
        field.select();
        try {
          await navigator.clipboard.writeText(link.url);
          this.on.status(t("copied"));
        } catch {
          this.on.status(t("copy_yourself"));
        }
      });
      const stop = button(t("stop_sharing"), async () => {
        try {
          await api(`/v1/books/${summary.id}/share`, { method: "DELETE" });
          holder.hidden = true;
          holder.replaceChildren();
          this.on.status(t("sharing_stopped"));
          trigger.focus();
        } catch (error) {
          this.#failed(error);
        }
      }, "quiet danger");
      const row = document.createElement("div");
      row.className = "row";
      row.append(copy, stop);
      holder.replaceChildren(labelled, field, row);
      holder.hidden = false;
      field.focus();
      field.select();
    } catch (error) {
      this.#failed(error);
    } finally {
      trigger.disabled = false;
    }
  }

  async download(summary, format, trigger) {
    trigger.disabled = true;
    this.on.status(t("preparing_download"));
    try {
      const response = await apiFetch(`/v1/books/${summary.id}/export?format=${format}`);
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = filenameOf(response, `${summary.title}.${format}`);
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      this.on.status(t("downloaded"));
    } catch (error) {
      this.#failed(error);
    } finally {
      trigger.disabled = false;
    }
  }

  async remove(summary, item, trigger) {
    const sure = await confirmWith(t("delete_confirm", { title: summary.title }), {
      confirmLabel: t("delete_yes"),
      danger: true,
    });
    if (!sure) {
      trigger.focus();
      return;
    }
    try {
      await api(`/v1/books/${summary.id}`, { method: "DELETE" });
      item.remove();
      $("shelf-empty").hidden = $("shelf").children.length > 0;
      this.on.status(t("deleted", { title: summary.title }));
      $("shelf-title").focus?.();
    } catch (error) {
      if (error.status === 404) item.remove();
      this.#failed(error);
    }
  }

  #failed(error) {
    if (error.status === 401) this.on.signedOut();
    else this.on.status(describe(error), true);
  }
}
