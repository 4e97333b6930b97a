// The owner reading a book of their shelf (GET /books/{id}/read): the page carries no book;
// this script fetches it with the owner's token (GET /v1/books/{id}), builds the same sheets
// the shared reader's server renders, and turns them with the same code (book_pages.js). No
// share link is made: reading your own book publishes nothing. The end offers the book as
// PDF and EPUB, fetched with the token (GET /v1/books/{id}/export).
import { startReader } from "../book_pages.js";
import { api, apiFetch } from "./api.js";
import { describe } from "./forms.js";
import { session } from "./session.js";
import { t } from "./text.js";

const book = document.getElementById("book");
const controls = document.querySelector(".controls");
const message = document.getElementById("message-text");
const bookId = decodeURIComponent(window.location.pathname.split("/")[2] ?? "");

function element(tag, properties = {}, children = []) {
  const made = Object.assign(document.createElement(tag), properties);
  made.append(...children);
  return made;
}

function picture(src, alt) {
  return element("img", { className: "picture", src, alt, loading: "eager" });
}

function cover(found) {
  const characters = found.characters.map(({ name, description }) =>
    element("li", {}, [element("strong", { textContent: name }), description ? `: ${description}` : ""]),
  );
  const sheet = element("section", { className: "sheet cover", id: "cover" }, [
    picture(found.cover_image_url, `${t("cover_of")} ${found.title}`),
    element("div", { className: "words" }, [
      element("h1", { id: "title", textContent: found.title }),
      element("ul", { className: "characters" }, characters),
    ]),
  ]);
  sheet.setAttribute("aria-labelledby", "title");
  return sheet;
}

function storyPage({ number, text, image_url }) {
  const sheet = element("section", { className: "sheet", id: `page-${number}` }, [
    picture(image_url, text),
    element("div", { className: "words" }, [
      element("p", { className: "text", textContent: text }),
      element("p", { className: "number", textContent: String(number) }),
    ]),
  ]);
  sheet.setAttribute("aria-label", `${t("page")} ${number}`);
  sheet.querySelector(".number").setAttribute("aria-hidden", "true");
  return sheet;
}

async function download(found, format, trigger) {
  trigger.disabled = true;
  const status = document.getElementById("download-status");
  status.textContent = t("preparing_download");
  try {
    const response = await apiFetch(`/v1/books/${encodeURIComponent(found.id)}/export?format=${format}`);
    const url = URL.createObjectURL(await response.blob());
    const link = element("a", { href: url, download: `${found.title}.${format}` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    status.textContent = t("downloaded");
  } catch (error) {
    status.textContent = describe(error);
  } finally {
    trigger.disabled = false;
  }
}

function end(found) {
  const button = (label, format) => {
    const made = element("button", { type: "button", textContent: label });
    made.addEventListener("click", () => download(found, format, made));
    return made;
  };
  const sheet = element("section", { className: "sheet end", id: "the-end" }, [
    element("div", { className: "words" }, [
      element("h2", { id: "end-title", textContent: t("the_end") }),
      element("p", { textContent: t("keep_it") }),
      element("p", { className: "downloads" }, [button(t("pdf"), "pdf"), button(t("epub"), "epub")]),
      element("p", { id: "download-status", role: "status" }),
      element("p", {}, [element("a", { href: "/", textContent: t("back_to_shelf") })]),
    ]),
  ]);
  sheet.setAttribute("aria-labelledby", "end-title");
  return sheet;
}

function refused(error) {
  if (error.status === 404) return t("book_not_found");
  if (error.status === 401) return t("sign_in_again");
  return describe(error);
}

async function open() {
  if (!session()) {
    message.textContent = t("sign_in_first");
    return;
  }
  let found;
  try {
    found = await api(`/v1/books/${encodeURIComponent(bookId)}`);
  } catch (error) {
    message.textContent = refused(error);
    return;
  }
  document.title = `${found.title} · LittleWriter`;
  book.lang = found.language; // the words of the book, read aloud in its language
  book.replaceChildren(cover(found), ...found.pages.map(storyPage), end(found));
  startReader(book, controls, found.language);
}

open();
