// Starting a book: up to five characters (a name and a few words about each), the setting,
// the number of pages, the book's language and the reader's age. The API's field errors
// (body.characters.1.name, body.page_count, ...) are shown next to the fields they concern.
import { api } from "../api.js";
import { IntentKeys, clearErrors, describe, showError } from "../forms.js";
import { t } from "../text.js";

const MAX_CHARACTERS = 5;
const $ = (id) => document.getElementById(id);

export class StartScreen {
  /** on.started(book); on.existing(): a book is in progress already; on.signedOut(). */
  constructor(on) {
    this.on = on;
    this.keys = new IntentKeys();
    this.form = $("start-form");
    $("add-character").addEventListener("click", () => {
      this.#addCharacter();
      this.#items().at(-1).querySelector("input").focus();
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.#addCharacter();
  }

  show() {
    $("start").hidden = false;
  }

  hide() {
    $("start").hidden = true;
  }

  reset() {
    this.form.reset();
    $("character-list").replaceChildren();
    this.#addCharacter();
    clearErrors(this.form);
    this.keys.forget();
  }

  #items() {
    return [...$("character-list").children];
  }

  #addCharacter() {
    if (this.#items().length >= MAX_CHARACTERS) return;
    const item = $("character-template").content.firstElementChild.cloneNode(true);
    item.querySelector(".remove-character").addEventListener("click", () => {
      const items = this.#items();
      const index = items.indexOf(item);
      item.remove();
      this.#number();
      const rest = this.#items();
      (rest[Math.min(index, rest.length - 1)]?.querySelector("input") ?? $("add-character")).focus();
    });
    $("character-list").append(item);
    this.#number();
  }

  /** Ids, labels and error slots follow each character's place, as the API's field names do. */
  #number() {
    const items = this.#items();
    items.forEach((item, index) => {
      for (const field of ["name", "description"]) {
        const id = `character-${index}-${field}`;
        const control = item.querySelector(`[data-field="${field}"]`);
        const label = item.querySelector(`[data-for="${field}"]`);
        const error = item.querySelector(`[data-error="${field}"]`);
        control.id = id;
        error.id = `error-characters-${index}-${field}`;
        control.setAttribute("aria-describedby", error.id);
        label.htmlFor = id;
        const key = field === "name" ? "character_name_n" : "character_description_n";
        label.textContent = t(key, { n: index + 1 });
      }
      const remove = item.querySelector(".remove-character");
      remove.hidden = items.length === 1;
      remove.setAttribute("aria-label", t("remove_character_n", { n: index + 1 }));
    });
    $("add-character").hidden = items.length >= MAX_CHARACTERS;
  }

  #request() {
    const age = $("reader-age").value;
    const pages = $("page-count").value.trim();
    return {
      characters: this.#items().map((item) => ({
        name: item.querySelector('[data-field="name"]').value,
        description: item.querySelector('[data-field="description"]').value,
      })),
      setting: $("setting").value,
      page_count: /^\d+$/.test(pages) ? Number(pages) : pages,
      language: $("book-language").value,
      reader_age: age === "" ? null : Number(age),
    };
  }

  async submit() {
    clearErrors(this.form);
    const request = this.#request();
    const button = $("start-button");
    button.disabled = true;
    this.on.status(t("starting"));
    try {
      const book = await api("/v1/books", {
        method: "POST",
        json: request,
        headers: { "Idempotency-Key": this.keys.keyFor(request) },
      });
      this.keys.forget();
      this.on.started(book);
    } catch (error) {
      this.on.status("");
      if (error.status === 401) this.on.signedOut();
      else if (error.code === "book_already_in_progress") this.on.existing();
      else this.#refused(error);
    } finally {
      button.disabled = false;
    }
  }

  #refused(error) {
    const fields = error.fieldErrors?.() ?? new Map();
    let first = null;
    for (const [field, message] of fields) {
      const path = field.split(".");
      const id = path[0] === "characters" && path.length === 3 ? path.join("-") : path[0];
      const control =
        path[0] === "characters" && path.length === 3
          ? document.getElementById(`character-${path[1]}-${path[2]}`)
          : this.form.querySelector(`[name="${path[0]}"]`);
      if (document.getElementById(`error-${id}`)) {
        showError(`error-${id}`, message, control);
        first ??= control;
      } else {
        showError("error-start", message);
      }
    }
    if (!fields.size) {
      // moderation's refusal (content_rejected) concerns the characters and the setting
      const target = error.code === "content_rejected" ? "error-characters" : "error-start";
      showError(target, describe(error));
      $(target).scrollIntoView({ block: "center" });
    }
    first?.focus();
  }
}
