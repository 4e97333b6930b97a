// A confirmation asked in a modal <dialog> (keyboard and screen-reader friendly, unlike
// window.confirm's look): resolves true when the person confirms, false otherwise.
import { t } from "./text.js";

export function confirmWith(message, { confirmLabel = t("confirm"), danger = false } = {}) {
  const dialog = document.createElement("dialog");
  dialog.className = "confirm";
  const question = document.createElement("p");
  question.id = `confirm-${Date.now()}`;
  question.textContent = message;
  dialog.setAttribute("aria-labelledby", question.id);
  const actions = document.createElement("div");
  actions.className = "actions";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "quiet";
  cancel.textContent = t("cancel");
  const yes = document.createElement("button");
  yes.type = "button";
  yes.textContent = confirmLabel;
  if (danger) yes.classList.add("danger");
  actions.append(cancel, yes);
  dialog.append(question, actions);
  document.body.append(dialog);
  return new Promise((resolve) => {
    const finish = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    cancel.addEventListener("click", () => finish(false));
    yes.addEventListener("click", () => finish(true));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(false);
    });
    dialog.showModal();
    cancel.focus(); // the safe answer first
  });
}
