// The page header: who is signed in (from the token, for display), and "Sign out".
import { onSessionChange, session, signOut } from "./session.js";
import { text } from "./text.js";

const account = document.getElementById("account");
const user = document.getElementById("account-user");

function show(current) {
  account.hidden = current === null;
  if (!current) return;
  user.textContent = current.isAdmin ? `${current.sub} (${text.admin})` : current.sub;
  user.title = user.textContent; // the whole name, where a narrow screen cuts it short
}

document.getElementById("sign-out").addEventListener("click", () => signOut());
onSessionChange(show);
show(session());
