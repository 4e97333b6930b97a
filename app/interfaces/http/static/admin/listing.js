// A table filled page by page from an admin list endpoint ({items, next_cursor}): "Show more"
// asks for the next page; an empty list says so. On a phone each row becomes a card whose
// cells carry their column's name (data-label, shown by console.css); a cell of class
// "actions" holds buttons and needs no name.
import { api } from "../web/api.js";

export class Listing {
  constructor(section, makeRow, onError) {
    this.table = section.querySelector("table");
    this.body = this.table.querySelector("tbody");
    this.labels = [...this.table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    this.empty = section.querySelector(".empty");
    this.more = section.querySelector(".more");
    this.makeRow = makeRow;
    this.more.addEventListener("click", () => this.#next().catch(onError));
  }

  /** Show the first page of `path` with these query parameters (empty ones left out). */
  async load(path, params = {}, signal = undefined) {
    this.running?.abort(); // a filter applied twice quickly: only the last one's rows
    this.running = new AbortController();
    this.path = path;
    this.params = params;
    this.cursor = null;
    this.signal = signal ? AbortSignal.any([signal, this.running.signal]) : this.running.signal;
    this.body.replaceChildren();
    await this.#next();
  }

  /** On a phone a cell shows its column's name beside its content, kept in one box. */
  #label(cell, name) {
    if (cell.classList.contains("actions")) return;
    cell.dataset.label = name;
    const box = document.createElement("span");
    box.append(...cell.childNodes);
    cell.append(box);
  }

  async #next() {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(this.params)) if (value) query.set(name, value);
    if (this.cursor) query.set("cursor", this.cursor);
    const page = await api(`${this.path}?${query}`, { signal: this.signal });
    for (const item of page.items) {
      const row = this.makeRow(item);
      [...row.cells].forEach((cell, index) => this.#label(cell, this.labels[index] ?? ""));
      this.body.append(row);
    }
    this.cursor = page.next_cursor;
    this.more.hidden = !this.cursor;
    const none = this.body.rows.length === 0;
    this.empty.hidden = !none;
    this.table.hidden = none;
  }
}
