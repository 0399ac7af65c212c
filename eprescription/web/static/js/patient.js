// The patient's pages: the Print button (the page itself works without JavaScript).
"use strict";
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
