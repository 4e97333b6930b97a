// How a signed-out visitor signs in. Today: a login link made by `littlewriter login-link
// NAME` (its #token= is taken by session.js). A sign-in with the identity provider plugs in
// here: when the page is given an OIDC configuration, import /static/oidc.js and call its
// signIn(config) from a button in #sign-in-provider, and completeSignIn(config) on the way back.
export function offerSignIn() {
  const slot = document.getElementById("sign-in-provider");
  slot.hidden = slot.childElementCount === 0;
}
