/* The warning before an automatic logoff (the server side is members/session_timeouts.py).
 *
 * The dialog #logoff-warning (templates/components/logoff_dialog.html, on signed-in pages
 * only) carries the session's clock as of this page: seconds until an idle logoff, until
 * the session's maximum length, and how long before either to warn. The countdown restarts
 * after every htmx request (the server sends the new idle time in a response header) and
 * whenever another tab of this site hears from the server (shared through localStorage).
 *
 * `warning` seconds before the end the dialog opens: "Stay signed in" POSTs to the
 * keep-alive URL, which restarts the idle clock; "Sign out" is the ordinary sign-out form.
 * Near the maximum length it only warns: that limit cannot be extended. When time is up
 * the page goes to the sign-in page, which says why.
 */
(function () {
  "use strict";

  var dialog = document.getElementById("logoff-warning");
  if (!dialog || typeof dialog.showModal !== "function") { return; }

  var SHARED_KEY = "groupcare.logoff.idleEndsAt";
  var IDLE_HEADER = "GroupCare-Session-Idle-Remaining";
  var data = dialog.dataset;
  var warningMs = Number(data.warning) * 1000;
  var idleEndsAt = Date.now() + Number(data.idleRemaining) * 1000;
  var absoluteEndsAt = Date.now() + Number(data.absoluteRemaining) * 1000;
  var stayButton = dialog.querySelector("[data-logoff-stay]");
  var signOutButton = dialog.querySelector("[data-logoff-sign-out]");
  var announcer = dialog.querySelector("[data-logoff-announce]");
  var finalDismissed = false;
  var announced = null;

  function share() {
    try { window.localStorage.setItem(SHARED_KEY, String(idleEndsAt)); } catch (e) { /* private mode */ }
  }

  function idleRemains(seconds) {
    idleEndsAt = Date.now() + seconds * 1000;
    share();
    tick();
  }

  function goToSignIn() {
    window.location.assign(data.loginUrl + "?next=" +
      encodeURIComponent(window.location.pathname + window.location.search));
  }

  function each(selector, change) {
    dialog.querySelectorAll(selector).forEach(change);
  }

  function tick() {
    var isFinal = absoluteEndsAt <= idleEndsAt;
    var left = Math.min(idleEndsAt, absoluteEndsAt) - Date.now();
    // A second late, so the server has certainly ended the session when we arrive.
    if (left <= -1000) { goToSignIn(); return; }
    if (left > warningMs || (isFinal && finalDismissed)) {
      if (dialog.open && left > warningMs) { dialog.close(); }
      return;
    }
    var seconds = Math.max(0, Math.ceil(left / 1000));
    var text = seconds + (seconds === 1 ? " second" : " seconds");
    each("[data-logoff-countdown]", function (el) { el.textContent = text; });
    if (!dialog.open) {
      each("[data-logoff-idle]", function (el) { el.hidden = isFinal; });
      each("[data-logoff-final]", function (el) { el.hidden = !isFinal; });
      stayButton.hidden = isFinal;
      announced = null;
      dialog.showModal();
      (isFinal ? signOutButton : stayButton).focus();
    }
    if ((seconds === 30 || seconds === 10) && announced !== seconds) {
      announced = seconds;
      announcer.textContent = seconds + " seconds left before you are signed out.";
    }
  }

  function stay() {
    var token = dialog.querySelector("input[name=csrfmiddlewaretoken]").value;
    window.fetch(data.keepaliveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token, "Accept": "application/json" },
    }).then(function (response) {
      if (response.status === 401 || response.redirected) { goToSignIn(); return; }
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json().then(function (clock) {
        absoluteEndsAt = Date.now() + clock.absolute_remaining * 1000;
        dialog.close();
        idleRemains(clock.idle_remaining);
      });
    }).catch(function () {
      announcer.textContent = "That did not work: check your connection and try again.";
    });
  }

  stayButton.addEventListener("click", stay);
  // Escape means "stay" while staying is possible; near the maximum length it dismisses.
  dialog.addEventListener("cancel", function (event) {
    event.preventDefault();
    if (stayButton.hidden) { finalDismissed = true; dialog.close(); } else { stay(); }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail && event.detail.xhr;
    var seconds = xhr ? xhr.getResponseHeader(IDLE_HEADER) : null;
    if (seconds !== null && seconds !== "") { idleRemains(Number(seconds)); }
  });
  window.addEventListener("storage", function (event) {
    if (event.key === SHARED_KEY && Number(event.newValue) > idleEndsAt) {
      idleEndsAt = Number(event.newValue);
      tick();
    }
  });

  share();
  window.setInterval(tick, 1000);
})();
