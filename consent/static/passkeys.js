// gatehouse passkeys: the WebAuthn ceremonies of the login page ("Sign in
// with a passkey"), the second step ("Use a passkey") and the security
// page ("Add a passkey"). The server
// sends the options as JSON (binary fields base64url), this script turns
// them into what navigator.credentials wants, and posts the answer back.
// Every request carries the page's CSRF token in X-CSRF-Token.
(function () {
  "use strict";

  function fromB64url(s) {
    var b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function toB64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return { type: d.type, id: fromB64url(d.id), transports: d.transports };
    });
  }

  // credentialJSON is a credential the browser made, as the server reads
  // it; response holds the fields of the ceremony's own response
  // (attestation or assertion), binary fields already base64url.
  function credentialJSON(cred, response) {
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: response
    };
  }

  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {})
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) { throw new Error(data.error || "Something went wrong. Please try again."); }
        return data;
      });
    });
  }

  function showError(el, msg) {
    if (!el) { return; }
    el.textContent = msg;
    el.hidden = false;
  }

  function ceremonyError(err) {
    // The user closed the browser's dialog, or no passkey matched.
    if (err && (err.name === "NotAllowedError" || err.name === "AbortError")) {
      return "No passkey was used. You can try again.";
    }
    if (err && err.name === "InvalidStateError") {
      return "This device already holds a passkey for your account.";
    }
    return (err && err.message) || "Something went wrong. Please try again.";
  }

  function supported() {
    return window.PublicKeyCredential && navigator.credentials && window.isSecureContext;
  }

  function register(button) {
    var errEl = document.getElementById("passkey-error");
    var nameEl = document.getElementById("passkey-name");
    var csrf = button.dataset.csrf;
    button.disabled = true;
    post(button.dataset.begin, csrf).then(function (opts) {
      var pk = opts.publicKey;
      pk.challenge = fromB64url(pk.challenge);
      pk.user.id = fromB64url(pk.user.id);
      pk.excludeCredentials = descriptors(pk.excludeCredentials);
      return navigator.credentials.create({ publicKey: pk });
    }).then(function (cred) {
      var r = cred.response;
      return post(button.dataset.finish, csrf, {
        name: nameEl ? nameEl.value : "",
        credential: credentialJSON(cred, {
          clientDataJSON: toB64url(r.clientDataJSON),
          attestationObject: toB64url(r.attestationObject),
          transports: r.getTransports ? r.getTransports() : []
        })
      });
    }).then(function (data) {
      window.location.assign(data.redirect);
    }).catch(function (err) {
      button.disabled = false;
      showError(errEl, ceremonyError(err));
    });
  }

  // signIn is the passwordless sign-in of the login page; verify is the
  // second step of /login/mfa after a password (the pending step rides in
  // its cookie, and so does where the sign-in goes next).
  function signIn(button) {
    assert(button, { return_to: button.dataset.returnTo || "" });
  }

  function verify(button) {
    assert(button, {});
  }

  function assert(button, body) {
    var errEl = document.getElementById("passkey-error");
    var csrf = button.dataset.csrf;
    button.disabled = true;
    post(button.dataset.begin, csrf).then(function (opts) {
      var pk = opts.publicKey;
      pk.challenge = fromB64url(pk.challenge);
      pk.allowCredentials = descriptors(pk.allowCredentials);
      return navigator.credentials.get({ publicKey: pk });
    }).then(function (cred) {
      var r = cred.response;
      body.credential = credentialJSON(cred, {
        clientDataJSON: toB64url(r.clientDataJSON),
        authenticatorData: toB64url(r.authenticatorData),
        signature: toB64url(r.signature),
        userHandle: r.userHandle ? toB64url(r.userHandle) : null
      });
      return post(button.dataset.finish, csrf, body);
    }).then(function (data) {
      window.location.assign(data.redirect);
    }).catch(function (err) {
      button.disabled = false;
      showError(errEl, ceremonyError(err));
    });
  }

  // wire connects a button. The login page's passkey box is hidden until
  // this script finds a browser that can use it (without the script, or
  // without WebAuthn, the page is the password form alone); the security
  // page and the second step say why they cannot use one.
  function wire(id, fn, box) {
    var button = document.getElementById(id);
    if (!button) { return; }
    if (!supported()) {
      button.disabled = true;
      if (!box) { showError(document.getElementById("passkey-error"), "This browser cannot use passkeys here."); }
      return;
    }
    if (box) { document.getElementById(box).hidden = false; }
    button.addEventListener("click", function () { fn(button); });
  }

  wire("passkey-add", register);
  wire("passkey-signin", signIn, "passkey-signin-box");
  wire("passkey-factor", verify);
})();
