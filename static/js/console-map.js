// Leaflet maps of the console: the order page (trucks of its jobs and the site) and the dispatch
// board (every truck, refreshed every 15 s from data-url). Data comes in data-* attributes only.
(function () {
  "use strict";

  var REFRESH_MS = 15000;

  function parse(text) {
    try {
      var value = JSON.parse(text || "[]");
      return Array.isArray(value) ? value : [];
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
    var state = el.consoleMap;
    state.layer.clearLayers();
    var bounds = [];
    points.forEach(function (p) {
      if (typeof p.lat !== "number" || typeof p.lon !== "number") return;
      var marker = L.circleMarker([p.lat, p.lon], {
        radius: p.kind === "truck" ? 8 : 6,
        color: p.kind === "truck" ? (p.stale ? "#8a8a8a" : "#0b5cad") : "#b35c00",
        weight: 3,
        fillOpacity: 0.8,
      });
      if (p.label) marker.bindTooltip(textLabel(p.label));
      marker.addTo(state.layer);
      bounds.push([p.lat, p.lon]);
    });
    el.dataset.markerCount = String(bounds.length);
    if (!state.fitted) {
      if (bounds.length) {
        state.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 13 });
        state.fitted = true;
      } else {
        state.map.setView([42.7, 25.3], 7);
      }
    }
  }

  function load(el) {
    fetch(el.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : { trucks: [] };
      })
      .then(function (data) {
        draw(el, data.trucks || []);
      })
      .catch(function () {
        /* keep the last markers; the next refresh tries again */
      });
  }

  function init(el) {
    if (el.consoleMap || typeof L === "undefined") return;
    var map = L.map(el, { scrollWheelZoom: false, attributionControl: !!el.dataset.tileUrl });
    if (el.dataset.tileUrl) {
      L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, attribution: "&copy; OpenStreetMap" }).addTo(map);
    }
    el.consoleMap = { map: map, layer: L.layerGroup().addTo(map), fitted: false };
    draw(el, parse(el.dataset.points));
    if (el.dataset.url) {
      load(el);
      window.setInterval(function () {
        load(el);
      }, REFRESH_MS);
    }
  }

  function start() {
    document.querySelectorAll("[data-map]").forEach(init);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
