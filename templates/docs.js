window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    // Two documents, chosen at the top right: one with all of it stops drawing part-way.
    urls: JSON.parse(document.getElementById("swagger-ui").dataset.urls),
    "urls.primaryName": "接口",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
  });
});
