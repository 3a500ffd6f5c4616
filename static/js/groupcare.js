/* GroupCare's own behaviour: small, no build step, no inline handlers (the CSP forbids them).
 *
 * - [data-copy-target="ID"] buttons copy the value of the element ID and say so.
 * - Errors from htmx requests are announced instead of failing silently.
 * - <html class="js"> tells the stylesheet that scripts run.
 */
(function () {
  "use strict";

  // Controls that only a browser without JavaScript needs (e.g. "Save" where each choice
  // saves itself) are hidden by the stylesheet once this runs.
  document.documentElement.classList.add("js");

  function announce(text) {
    var region = document.getElementById("live-region");
    if (!region) { return; }
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (!source) { return; }
    var text = source.value || source.textContent;
    var done = function () {
      button.setAttribute("data-copied", "true");
      announce(button.getAttribute("data-copied-text") || "Copied.");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {
        source.select();
        announce("Select the link and copy it.");
      });
    } else if (source.select) {
      source.select();
      announce("The link is selected: copy it with your keyboard.");
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    announce(status === 403 || status === 404
      ? "That is no longer possible here. Reload the page."
      : "That was not saved. Check your connection and try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    announce("That was not saved: no connection. Try again.");
  });
})();
