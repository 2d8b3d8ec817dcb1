/*
 * Behaviour shared by every page (templates/base.html), kept out of the markup so that the
 * Content-Security-Policy can refuse inline scripts.
 *
 * Confirmation: a form, or the button that submits it, with data-confirm="…" asks before submitting.
 */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    var message = (submitter && submitter.getAttribute("data-confirm")) ||
      (event.target.getAttribute && event.target.getAttribute("data-confirm"));
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
