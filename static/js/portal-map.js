// Leaflet map of the portal order page and the public tracking page.
// The container carries its data: data-tile-url (empty: no tiles, markers only) and data-points
// (JSON [{kind: "site"|"truck", lat, lon, label}]). The htmx-polled jobs fragment brings fresh points
// in #map-points; the markers move without reloading the page.
(function () {
  "use strict";

  function parsePoints(text) {
    try {
      var points = JSON.parse(text || "[]");
      return Array.isArray(points) ? points : [];
    } catch (e) {
      return [];
    }
  }

  // Labels are user data (a site's name): Leaflet would set a string as HTML, so it gets a text node.
  function textLabel(text) {
    var span = document.createElement("span");
    span.textContent = String(text);
    return span;
  }

  function draw(el, points) {
    var state = el.omsMap;
    state.layer.clearLayers();
    var bounds = [];
    points.forEach(function (p) {
      if (typeof p.lat !== "number" || typeof p.lon !== "number") return;
      var marker;
      if (p.kind === "truck") {
        marker = L.circleMarker([p.lat, p.lon], { radius: 9, color: "#0b5cad", weight: 3, fillColor: "#4c9be8", fillOpacity: 0.9 });
      } else {
        marker = L.marker([p.lat, p.lon], { title: p.label || "", alt: p.label || "", keyboard: true });
      }
      if (p.label) marker.bindTooltip(textLabel(p.label));
      marker.addTo(state.layer);
      bounds.push([p.lat, p.lon]);
    });
    // Re-frame only when a marker appears or goes, not on every poll (the user may have panned).
    if (bounds.length !== state.count) {
      state.count = bounds.length;
      if (bounds.length) {
        state.map.fitBounds(bounds, { padding: [40, 40], maxZoom: 14 });
      } else {
        state.map.setView([42.7, 25.3], 7);
      }
    }
  }

  function init(el) {
    if (el.omsMap || typeof L === "undefined") return;
    var map = L.map(el, { scrollWheelZoom: false, attributionControl: !!el.dataset.tileUrl });
    if (el.dataset.tileUrl) {
      L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, attribution: "&copy; OpenStreetMap" }).addTo(map);
    }
    el.omsMap = { map: map, layer: L.layerGroup().addTo(map), count: -1 };
    draw(el, parsePoints(el.dataset.points));
  }

  function refresh() {
    var source = document.getElementById("map-points");
    if (!source) return;
    document.querySelectorAll("[data-map]").forEach(function (el) {
      if (el.omsMap) draw(el, parsePoints(source.dataset.points));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-map]").forEach(init);
  });
  document.addEventListener("htmx:afterSettle", refresh);
})();
