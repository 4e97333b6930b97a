// The admin console's page: which screen shows (signed out, admins only, or the console), and
// which console view the address's fragment names: #in-progress[/USER], #finished[/BOOK_ID],
// #audit. Nothing is shown before the admin API answered: its 403 to a user's token is what
// puts up "admins only" (the page itself holds no data).
import { ApiError } from "../web/api.js";
import { onSessionChange, session } from "../web/session.js";
import { finishProviderSignIn, offerSignIn } from "../web/signin.js";
import { t } from "../web/text.js";
import { Audit } from "./audit.js";
import { Finished } from "./finished.js";
import { InProgress } from "./in_progress.js";

const byId = (id) => document.getElementById(id);
const screens = ["signed-out-view", "admins-only-view", "console"].map(byId);
const views = [...document.querySelectorAll("#console .view")];
const links = [...document.querySelectorAll("#console nav a")];
const status = byId("status");
const alert = byId("alert");
const loading = byId("loading");

function showScreen(screen) {
  for (const each of screens) each.hidden = each !== screen;
}

function showSignedOut(why) {
  byId("signed-out-why").textContent = why;
  loading.hidden = true;
  showScreen(byId("signed-out-view"));
  offerSignIn();
}

function say(message) {
  alert.textContent = message;
  alert.hidden = !message;
}

class Shell {
  #keepNotice = false;
  fail = (error) => {
    if (error?.name === "AbortError") return;
    loading.hidden = true;
    if (!(error instanceof ApiError)) {
      say(t("failed", { detail: String(error?.message ?? error) }));
      throw error;
    }
    if (error.status === 401) return showSignedOut(t("session_expired"));
    if (error.status === 403) return showScreen(byId("admins-only-view"));
    showScreen(byId("console"));
    if (error.status === 0) return say(t("network_error"));
    if (error.retryAfter !== null) return say(t("try_again_in", { seconds: error.retryAfter }));
    if (error.code === "book_not_found" || error.code === "no_book_in_progress") {
      return say(t("not_found"));
    }
    return say(t("failed", { detail: error.detail }));
  };

  notify(message) {
    status.textContent = message;
    this.#keepNotice = true;
  }

  go(hash) {
    if (window.location.hash === hash) route(true);
    else window.location.hash = hash;
  }

  takeNotice() {
    if (!this.#keepNotice) status.textContent = "";
    this.#keepNotice = false;
  }
}

const shell = new Shell();
const inProgress = new InProgress(shell);
const finished = new Finished(shell);
const audit = new Audit(shell);

function decoded(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part; // a hand-typed address with a stray "%"
  }
}

function parse(hash) {
  const [name, ...rest] = hash.replace(/^#/, "").split("/");
  const param = rest.length ? decoded(rest.join("/")) : null;
  if (name === "finished") {
    const view = param ? "finished-book-view" : "finished-view";
    return { section: name, view, open: (signal) => finished.open(param, signal) };
  }
  if (name === "audit") {
    return { section: name, view: "audit-view", open: (signal) => audit.open(null, signal) };
  }
  const view = param ? "book-view" : "in-progress-view";
  return { section: "in-progress", view, open: (signal) => inProgress.open(param, signal) };
}

let running = null;

async function route(moveFocus) {
  running?.abort();
  const controller = new AbortController();
  running = controller;
  say("");
  shell.takeNotice();
  if (!session()) return showSignedOut(t("signed_out"));
  const wanted = parse(window.location.hash);
  loading.hidden = false;
  try {
    await wanted.open(controller.signal);
  } catch (error) {
    if (!controller.signal.aborted) shell.fail(error);
    return;
  }
  if (controller.signal.aborted) return;
  loading.hidden = true;
  showScreen(byId("console"));
  for (const view of views) view.hidden = view.id !== wanted.view;
  for (const link of links) {
    if (link.dataset.section === wanted.section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (moveFocus) byId(wanted.view).querySelector("h2").focus();
}

window.addEventListener("hashchange", () => route(true));
onSessionChange((current) => (current ? route(false) : showSignedOut(t("signed_out"))));
route(false);
finishProviderSignIn(say);
