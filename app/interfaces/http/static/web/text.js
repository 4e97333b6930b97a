// The interface text the server chose for this page (its language follows the browser's),
// handed over as a JSON data block: text.js reads it once; t() fills in {placeholders}.
const block = document.getElementById("ui-text");
export const text = block ? JSON.parse(block.textContent) : {};
export const language = document.documentElement.lang || "en";

export function t(key, values = {}) {
  const template = text[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    name in values ? String(values[name]) : whole,
  );
}
