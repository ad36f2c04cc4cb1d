// Session tokens from App Bridge (`shopify.idToken()`), and the shop a token speaks for.
// The shop is read only to tell shops apart on this page; the server verifies every token itself.

/** A fresh session token from App Bridge (Shopify's, or the dev stand-in). */
export function getToken() {
  if (!window.shopify || typeof window.shopify.idToken !== "function") {
    return Promise.reject(new Error("App Bridge is not loaded"));
  }
  return window.shopify.idToken();
}

/** The shop domain a session token names (`dest` claim), or null when it cannot be read. */
export function shopFromToken(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
    return new URL(claims.dest).host.toLowerCase();
  } catch (_error) {
    return null;
  }
}
