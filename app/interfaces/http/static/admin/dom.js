// Small helpers the console's views share: making elements, and dates and numbers written the
// way the interface's language writes them.
import { language } from "../web/text.js";

/** An element with properties (`className`, `textContent`, `dataset`, `attrs`...) and children. */
export function el(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  const { attrs = {}, dataset = {}, ...rest } = props;
  Object.assign(element, rest);
  Object.assign(element.dataset, dataset);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, value);
  element.append(...children.filter((child) => child !== null && child !== undefined));
  return element;
}

const dateTime = new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "short" });
const numbers = new Intl.NumberFormat(language);

/** A <time> for an ISO 8601 instant, in the reader's time zone, the exact instant in its title. */
export function timeOf(iso) {
  if (!iso) return el("span", { textContent: "—" });
  const when = new Date(iso);
  const shown = Number.isNaN(when.getTime()) ? iso : dateTime.format(when);
  return el("time", { dateTime: iso, title: iso, textContent: shown });
}

export function count(value) {
  return numbers.format(Number(value) || 0);
}

/** Replace a definition list's content with [term, description] pairs (a node or a text). */
export function facts(list, pairs) {
  list.replaceChildren(
    ...pairs.flatMap(([term, description]) => [
      el("dt", { textContent: term }),
      el("dd", {}, description),
    ]),
  );
}

/** The day of an instant in UTC, as YYYY-MM-DD (what the usage totals are kept by). */
export function utcDay(now = new Date()) {
  return now.toISOString().slice(0, 10);
}

/** A book's cost, its numbers written for the interface's language (for t("usage_value")). */
export function usageText(usage) {
  return {
    tokens_in: count(usage?.tokens_in),
    tokens_out: count(usage?.tokens_out),
    images: count(usage?.images),
  };
}
