// Passkeys (WebAuthn). The server makes every decision; this file only carries the ceremony
// between the server and the browser's authenticator:
//  - Mina uppgifter (#passkey-register): asks the server for creation options, lets the browser
//    make a key, and sends the form with the browser's answer in `credential`.
//  - The login page (#passkey-login): "Logga in med nyckel" asks for a key the authenticator
//    knows (usernameless), and where the browser supports it the email field offers passkeys
//    in its autofill (conditional mediation); either way the answer is sent in the form.
// Binary fields travel as base64url, as webauthn-rs reads and writes them.
(function () {
  "use strict";

  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (c) {
      var copy = Object.assign({}, c);
      copy.id = toBytes(c.id);
      return copy;
    });
  }

  // The server's options for the form: {challenge, options} or {login} (log in again first).
  function options(form) {
    var body = new URLSearchParams();
    body.set("csrf", form.elements.csrf.value);
    body.set("lang", form.elements.lang.value);
    return fetch(form.getAttribute("data-options"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json" },
      body: body
    }).then(function (response) {
      return response.json().then(function (data) {
        if (data.login) { window.location.assign(data.login); throw new Error("login"); }
        if (!response.ok) { throw new Error(data.error || "options"); }
        form.elements.challenge.value = data.challenge;
        return data.options;
      });
    });
  }

  function send(form, credential) {
    form.elements.credential.value = JSON.stringify(credential);
    form.submit();
  }

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials);
  }

  // Mina uppgifter: add a passkey.
  var register = document.getElementById("passkey-register");
  if (register) {
    register.addEventListener("submit", function (event) {
      if (register.elements.credential.value) { return; }
      event.preventDefault();
      if (!supported()) { document.getElementById("passkey-unsupported").hidden = false; return; }
      if (!register.reportValidity()) { return; }
      options(register).then(function (o) {
        var pk = o.publicKey;
        pk.challenge = toBytes(pk.challenge);
        pk.user.id = toBytes(pk.user.id);
        pk.excludeCredentials = withIds(pk.excludeCredentials);
        return navigator.credentials.create({ publicKey: pk });
      }).then(function (cred) {
        var response = cred.response;
        send(register, {
          id: cred.id,
          rawId: toB64url(cred.rawId),
          type: cred.type,
          response: {
            attestationObject: toB64url(response.attestationObject),
            clientDataJSON: toB64url(response.clientDataJSON),
            transports: response.getTransports ? response.getTransports() : undefined
          },
          extensions: {}
        });
      }).catch(function (error) {
        // A refusal in the authenticator's dialog is the person's choice: the page stays.
        if (error && error.message === "login") { return; }
        register.elements.credential.value = "";
        register.querySelector("button[type=submit]").focus();
      });
    });
  }

  // The login page: usernameless login, by button or by autofill.
  var login = document.getElementById("passkey-login");
  if (!login) { return; }
  var button = document.getElementById("passkey-button");
  var pending = null;

  function assertion(mediation) {
    if (pending) { pending.abort(); }
    var controller = new AbortController();
    pending = controller;
    return options(login).then(function (o) {
      var pk = o.publicKey;
      pk.challenge = toBytes(pk.challenge);
      pk.allowCredentials = withIds(pk.allowCredentials);
      var request = { publicKey: pk, signal: controller.signal };
      if (mediation) { request.mediation = mediation; }
      return navigator.credentials.get(request);
    }).then(function (cred) {
      if (!cred) { return; }
      var response = cred.response;
      send(login, {
        id: cred.id,
        rawId: toB64url(cred.rawId),
        type: cred.type,
        response: {
          authenticatorData: toB64url(response.authenticatorData),
          clientDataJSON: toB64url(response.clientDataJSON),
          signature: toB64url(response.signature),
          userHandle: response.userHandle ? toB64url(response.userHandle) : null
        },
        extensions: {}
      });
    });
  }

  button.addEventListener("click", function () {
    if (!supported()) { document.getElementById("passkey-unsupported").hidden = false; return; }
    assertion(null).catch(function () { button.focus(); });
  });

  if (supported() && PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
      if (available && document.querySelector("input[autocomplete~=webauthn]")) {
        // Aborted when the button starts a request of its own; nothing to show then.
        assertion("conditional").catch(function () {});
      }
    });
  }
})();
