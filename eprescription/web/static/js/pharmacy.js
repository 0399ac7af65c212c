// The pharmacist's pages (plain JavaScript; everything also works without it): a scanner's
// Enter in a pack field moves on instead of submitting, a form is sent once, and Print.
"use strict";
(function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // A DataMatrix scanned into a pack field ends with Enter: go to the next field, do not
  // dispense before the pharmacist has looked at the rest of the form.
  document.querySelectorAll("[data-scan-field]").forEach(function (field) {
    field.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") { return; }
      event.preventDefault();
      var fields = Array.from(field.form.querySelectorAll("input:not([type=hidden]), button"));
      var next = fields[fields.indexOf(field) + 1];
      if (next) { next.focus(); }
    });
  });

  // After a refusal, the first field in error has the focus.
  var invalid = document.querySelector("#dispense-form [aria-invalid=true]");
  if (invalid) { invalid.focus(); }

  // A second click while the first is on its way is ignored (the server's Idempotency-Key
  // would answer it with the same receipt anyway).
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
      form.setAttribute("aria-busy", "true");
    });
  });
})();
