// The creator page: signed out, it says how to sign in; signed in, it shows the book in
// progress (or the form to start one) and the shelf of finished books.
import { api } from "../api.js";
import { describe } from "../forms.js";
import { onSessionChange, session, signOut } from "../session.js";
import { finishProviderSignIn, offerSignIn } from "../signin.js";
import { t } from "../text.js";
import { BookScreen } from "./book.js";
import { Shelf } from "./shelf.js";
import { StartScreen } from "./start.js";

const $ = (id) => document.getElementById(id);
let signedIn = null; // not known until the first show()
let signedInAs = undefined; // the user shown: a login link for another one starts afresh

function status(message, isError = false) {
  const line = $("status");
  line.textContent = message;
  line.classList.toggle("error", isError);
}

function expired() {
  signOut(); // the server refused the token: it is of no more use
  status(t("session_expired"), true);
}

const shelf = new Shelf({ status, signedOut: expired });
const start = new StartScreen({
  status,
  signedOut: expired,
  started: (book) => {
    status(t("started"));
    start.hide();
    start.reset();
    bookScreen.open(book);
    $("book-title").focus();
  },
  existing: () => loadBook(),
});
const bookScreen = new BookScreen({
  status,
  signedOut: expired,
  finished: (finished) => {
    status(t("finished", { title: finished.title }));
    start.show();
    // the book just kept is the first on the shelf: take the reader there
    shelf.load().then(() => document.querySelector(".shelf-book .actions button")?.focus());
  },
  closed: (message) => {
    if (message) status(message);
    if (signedIn) start.show();
  },
});

async function loadBook() {
  try {
    const book = await api("/v1/books/current");
    start.hide();
    bookScreen.open(book);
  } catch (error) {
    if (error.status === 404) start.show();
    else if (error.status === 401) expired();
    else status(describe(error), true);
  }
}

function show(current) {
  const user = current?.sub ?? null;
  if (user === signedInAs) return;
  signedInAs = user;
  signedIn = user !== null;
  $("signed-out").hidden = signedIn;
  start.hide();
  start.reset();
  bookScreen.leave();
  shelf.hide();
  if (signedIn) {
    loadBook();
    shelf.load();
  } else {
    offerSignIn();
  }
}

onSessionChange(show);
show(session());
finishProviderSignIn((message) => status(message, true));
