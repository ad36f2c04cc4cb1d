// Dev-only stand-in for Shopify App Bridge (https://cdn.shopify.com/shopifycloud/app-bridge.js).
// Served at /dev/app-bridge.js only when shopapp runs in dev mode; production pages load Shopify's.
// It offers the parts of the `shopify` global the dashboard uses:
//   shopify.idToken()    -> a fresh session token for the dev shop (minted by /dev/session-token)
//   shopify.toast.show() -> a small toast
// and, like App Bridge on the bounce page, reloads `shopify-reload` with an `id_token`.
(function () {
  "use strict";

  var TOKEN_URL = "/dev/session-token";
  var meta = document.querySelector('meta[name="shopify-api-key"]');

  function idToken() {
    return fetch(TOKEN_URL, { cache: "no-store", credentials: "same-origin" }).then(function (response) {
      if (!response.ok) throw new Error("dev session token: HTTP " + response.status);
      return response.json();
    }).then(function (body) { return body.token; });
  }

  function showToast(message, options) {
    var host = document.getElementById("dev-toasts");
    if (!host) {
      host = document.createElement("div");
      host.id = "dev-toasts";
      host.className = "toasts";
      host.setAttribute("role", "status");
      host.setAttribute("aria-live", "polite");
      document.body.appendChild(host);
    }
    var toast = document.createElement("div");
    toast.className = "toast" + (options && options.isError ? " toast-error" : "");
    toast.textContent = message;
    host.appendChild(toast);
    setTimeout(function () { toast.remove(); }, (options && options.duration) || 4000);
  }

  window.shopify = {
    config: { apiKey: meta ? meta.content : "", devStandIn: true },
    environment: { embedded: false, mobile: false },
    idToken: idToken,
    toast: { show: showToast },
  };

  // The bounce page: get a token and reload the page the server asked for, as App Bridge does.
  var reload = new URLSearchParams(window.location.search).get("shopify-reload");
  if (reload !== null) {
    // Same-origin paths only: never follow `//host` or a scheme.
    if (reload.charAt(0) !== "/" || reload.charAt(1) === "/" || reload.indexOf("\\") !== -1) {
      throw new Error("dev App Bridge: refusing to reload " + reload);
    }
    idToken().then(function (token) {
      var target = new URL(reload, window.location.origin);
      target.searchParams.set("id_token", token);
      window.location.replace(target.pathname + target.search);
    });
  }
})();
