// The page header: who is signed in (from the token, for display), "Sign out", and for an
// admin a link to the other web page (the creator or the admin console).
import { onSessionChange, session, signOut } from "./session.js";
import { text } from "./text.js";

const account = document.getElementById("account");
const user = document.getElementById("account-user");
const otherPage = document.getElementById("other-page");

function show(current) {
  account.hidden = current === null;
  if (!current) return;
  user.textContent = current.isAdmin ? `${current.sub} (${text.admin})` : current.sub;
  user.title = user.textContent; // the whole name, where a narrow screen cuts it short
  if (otherPage) otherPage.hidden = !current.isAdmin;
}

document.getElementById("sign-out").addEventListener("click", () => signOut());
onSessionChange(show);
show(session());
