// How a signed-out visitor signs in. A login link (`littlewriter login-link NAME`) needs nothing
// here: session.js takes its #token=. When the service names an identity provider
// (GET /auth/config), this puts a "Sign in" button in the page's #sign-in-provider that goes
// there (static/oidc.js: authorization code with PKCE), and on the way back keeps the
// provider's token as the signed-in user's.
import { completeSignIn, signIn as goToProvider } from "../oidc.js";
import { authConfig, signIn as keepToken } from "./session.js";
import { t } from "./text.js";

let provider; // undefined until asked; then the provider's settings, or null for none

async function providerConfig() {
  if (provider === undefined) {
    provider = (await authConfig)?.oidc ?? null; // none, or no answer: login links still work
  }
  return provider;
}

/** Back from the provider (?code= in the address): keep its token. Call once at start-up;
 * `failed(message)` is told when the provider or the exchange refused. */
export async function finishProviderSignIn(failed) {
  if (!/[?&](code|error)=/.test(window.location.search)) return;
  const config = await providerConfig();
  if (!config) return;
  try {
    const token = await completeSignIn(config);
    if (token) keepToken(token);
  } catch (error) {
    failed(`${t("sign_in_failed")} ${error.message}`);
  }
}

/** Offer the provider's sign-in in `#sign-in-provider`, when there is a provider. */
export async function offerSignIn() {
  const slot = document.getElementById("sign-in-provider");
  const config = await providerConfig();
  slot.hidden = !config;
  if (!config || slot.childElementCount > 0) return;
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = t("sign_in_with_provider");
  button.addEventListener("click", () => goToProvider(config));
  slot.append(button);
}
