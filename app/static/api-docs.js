// Starts Swagger UI on /api/v1/docs (templates/api_docs.html). A file of its own rather
// than an inline script: the Content-Security-Policy allows scripts from this origin only.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    deepLinking: true,
    validatorUrl: null,  // the badge would ask validator.swagger.io, outside this server
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
