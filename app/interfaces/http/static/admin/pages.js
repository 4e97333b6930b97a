// A book's pages as the console shows them: number, picture, text, and (in progress) what the
// child typed for it.
import { t } from "../web/text.js";
import { el } from "./dom.js";

function picture(page) {
  if (!page.image_url) {
    const missing = t("picture_pending", { status: page.image_status });
    return el("p", { className: "picture-missing", textContent: missing });
  }
  return el("img", {
    src: page.image_url,
    alt: t("picture_of_page", { number: page.number }),
    loading: "lazy",
    width: 512,
    height: 512,
  });
}

export function showPages(list, pages) {
  list.replaceChildren(
    ...pages.map((page) =>
      el(
        "li",
        { className: "page card" },
        el("h4", { textContent: t("page_number", { number: page.number }) }),
        picture(page),
        el("p", { className: "text", textContent: page.text }),
        page.input === undefined
          ? null
          : el("p", { className: "input" }, `${t("child_wrote")} `, page.input),
      ),
    ),
  );
}
