// What every form of the web pages does with an answer: a problem's field errors next to the
// fields they concern, other problems in one place, and one idempotency key per intended send.
import { t } from "./text.js";

export function clearErrors(root) {
  root.querySelectorAll(".field-error").forEach((element) => {
    element.textContent = "";
  });
  root.querySelectorAll("[aria-invalid]").forEach((element) => {
    element.removeAttribute("aria-invalid");
  });
}

/** Show `message` in the error element `errorId`, marking `control` invalid (and focused first). */
export function showError(errorId, message, control = null) {
  const element = document.getElementById(errorId);
  if (element) element.textContent = message;
  if (control) control.setAttribute("aria-invalid", "true");
}

/** What a parent should read about a failed call: the problem's detail, and how long to wait. */
export function describe(error) {
  if (error?.status === 0) return t("network_error");
  const detail = error?.detail || t("network_error");
  if (error?.retryAfter) return `${detail} ${t("try_again_in", { seconds: error.retryAfter })}`;
  return detail;
}

export function newKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The same key while the same thing is sent again (a retry); a new one when it changed. */
export class IntentKeys {
  #sent = null;
  #key = null;

  keyFor(intent) {
    const fingerprint = JSON.stringify(intent);
    if (fingerprint !== this.#sent) {
      this.#sent = fingerprint;
      this.#key = newKey();
    }
    return this.#key;
  }

  forget() {
    this.#sent = null;
    this.#key = null;
  }
}
