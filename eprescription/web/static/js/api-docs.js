// /api/docs: Swagger UI (vendor/swagger-ui) over this service's own OpenAPI document. A file of
// its own because the Content-Security-Policy allows no inline script; no validator badge
// (it would fetch from another origin).
"use strict";

window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
