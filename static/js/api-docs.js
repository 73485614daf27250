/* The API docs page: start the vendored Swagger UI on the spec named by data-spec-url (no inline script: CSP). */
(function () {
  "use strict";
  var container = document.getElementById("swagger-ui");
  if (!container || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.SwaggerUIBundle({
    url: container.getAttribute("data-spec-url"),
    domNode: container,
    deepLinking: true,
    // Never send the spec to validator.swagger.io: no third-party requests from this site.
    validatorUrl: null,
    // Requests from "Try it out" go to this site only; tokens typed into "Authorize" stay in this page.
    persistAuthorization: false,
    tryItOutEnabled: false,
    supportedSubmitMethods: ["get", "post", "put", "patch", "delete"]
  });
})();
