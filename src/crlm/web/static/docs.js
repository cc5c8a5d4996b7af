// Swagger UI for the crlm API (no inline script: the page CSP forbids it).
window.ui = SwaggerUIBundle({ url: "/api/v1/openapi.json", dom_id: "#swagger-ui" });
