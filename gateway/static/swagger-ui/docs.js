// Starts Swagger UI on this gateway's own document (a file, not an inline script: the page's
// Content-Security-Policy allows scripts from this origin only). No validator badge: it would
// ask an outside service about the document.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false,
    persistAuthorization: false
  });
});
