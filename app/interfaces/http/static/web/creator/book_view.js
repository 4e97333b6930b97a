// Drawing the book in progress: its cover and facts, each page (text first, then its picture,
// "drawing..." while it is on its way, "draw again" when it failed), the suggestions as chips,
// and which of the write and finish forms is shown. Pure rendering: book.js owns the state.
import { language as interfaceLanguage, t } from "../text.js";

const $ = (id) => document.getElementById(id);

function when(iso) {
  return new Intl.DateTimeFormat(interfaceLanguage, {
    dateStyle: "medium",
    timeStyle: "short",
  }).format(new Date(iso));
}

function pagePicture(page, onRedraw) {
  const holder = document.createElement("div");
  holder.className = "picture-holder";
  if (page.image_status === "ready" && page.image_url) {
    const img = document.createElement("img");
    img.className = "page-picture";
    img.src = page.image_url;
    img.alt = t("picture_of_page", { number: page.number });
    holder.append(img);
  } else if (page.image_status === "failed") {
    const note = document.createElement("p");
    note.className = "drawing failed";
    note.textContent = t("picture_failed");
    const again = document.createElement("button");
    again.type = "button";
    again.className = "redraw";
    again.textContent = t("draw_again");
    again.setAttribute("aria-label", t("draw_again_page", { number: page.number }));
    again.addEventListener("click", () => onRedraw(page.number, again));
    holder.append(note, again);
  } else {
    const drawing = document.createElement("p");
    drawing.className = "drawing";
    drawing.textContent = t("drawing_picture");
    holder.setAttribute("aria-busy", "true");
    holder.append(drawing);
  }
  return holder;
}

function pageItem(page, bookLanguage, onRedraw) {
  const item = document.createElement("li");
  item.className = "page card";
  item.id = `page-${page.number}`;
  item.dataset.page = String(page.number);
  const number = document.createElement("h3");
  number.textContent = t("page_number", { number: page.number });
  const words = document.createElement("p");
  words.className = "page-text";
  words.lang = bookLanguage;
  words.textContent = page.text;
  item.append(number, words, pagePicture(page, onRedraw));
  return item;
}

function writingItem(number) {
  const item = document.createElement("li");
  item.className = "page card writing";
  item.id = "page-writing";
  item.setAttribute("aria-busy", "true");
  const heading = document.createElement("h3");
  heading.textContent = t("page_number", { number });
  const note = document.createElement("p");
  note.className = "drawing";
  note.textContent = t("writing_page");
  item.append(heading, note);
  return item;
}

/** Update a page's element in place, so a picture arriving does not redraw the whole list. */
function renderPages(book, onRedraw) {
  const list = $("pages");
  const wanted = new Map(book.pages.map((page) => [`page-${page.number}`, page]));
  for (const child of [...list.children]) {
    if (!wanted.has(child.id)) child.remove();
  }
  for (const page of book.pages) {
    const existing = document.getElementById(`page-${page.number}`);
    const signature = `${page.text}|${page.image_status}|${page.image_url}`;
    if (existing?.dataset.signature === signature) continue;
    const item = pageItem(page, book.language, onRedraw);
    item.dataset.signature = signature;
    if (existing) existing.replaceWith(item);
    else list.append(item);
  }
  const writing = book.state === "generating";
  const placeholder = document.getElementById("page-writing");
  if (writing && !placeholder) list.append(writingItem(book.pages.length + 1));
  if (!writing && placeholder) placeholder.remove();
}

function renderChips(book, onChip) {
  const chips = $("chips");
  const questions = book.state === "bookInProgress" ? book.questions : [];
  const signature = questions.join("\n");
  if (chips.dataset.signature === signature) return;
  chips.dataset.signature = signature;
  chips.replaceChildren(
    ...questions.map((question) => {
      const chip = document.createElement("button");
      chip.type = "button";
      chip.className = "chip";
      chip.lang = book.language;
      chip.textContent = question;
      chip.addEventListener("click", () => onChip(question));
      return chip;
    }),
  );
  chips.hidden = questions.length === 0;
}

export function renderBook(book, { sending, paused, onRedraw, onChip }) {
  const cover = $("cover");
  if (book.cover_image_url) {
    if (cover.getAttribute("src") !== book.cover_image_url) cover.src = book.cover_image_url;
    cover.alt = t("cover_picture");
  }
  cover.hidden = !book.cover_image_url;
  $("cover-drawing").hidden = Boolean(book.cover_image_url);
  $("book-characters").textContent = book.characters.map((c) => c.name).join(", ");
  $("book-characters").lang = book.language;
  $("book-progress").textContent = t("progress", {
    written: book.pages.length,
    total: book.page_count,
  });
  $("kept-until").textContent = t("kept_until", { when: when(book.expires_at) });
  renderPages(book, onRedraw);
  renderChips(book, onChip);

  const done = book.state === "done";
  const writable = book.state === "bookInProgress";
  $("write-form").hidden = done;
  $("idea").disabled = !writable || sending;
  $("idea").lang = book.language;
  $("send").disabled = !writable || sending || paused;
  const queued = $("queued");
  const waitSeconds = book.queued_until
    ? Math.max(0, Math.round((Date.parse(book.queued_until) - Date.now()) / 1000))
    : 0;
  queued.hidden = !(book.state === "generating" && book.queued_until);
  queued.textContent = queued.hidden ? "" : t("queued", { seconds: waitSeconds });

  const picturesReady = book.pages.every((page) => page.image_status === "ready");
  $("finish-form").hidden = !done;
  $("finish-wait").hidden = picturesReady;
  $("finish").disabled = !picturesReady;
}
