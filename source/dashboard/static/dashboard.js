// Keeps a dashboard page current without reloading it: every few seconds the page's main region is
// fetched again (same URL, header X-Live: 1, answered with that region only) and swapped in place.
// Media elements marked data-keep survive the swap when their source did not change, so a video
// that is playing keeps playing (one file shown twice, e.g. a run's final video on the orchestrator and
// on the stitch, keeps both elements, in order). Refreshing pauses while the tab is hidden.
(function () {
  "use strict";
  var region = document.getElementById("live");
  var state = document.getElementById("live-state");
  if (!region) { return; }
  var every = parseInt(region.getAttribute("data-refresh-ms"), 10) || 1500;
  var busy = false;

  function swap(html) {
    var fresh = document.createElement("template");
    fresh.innerHTML = html;
    var kept = {};
    region.querySelectorAll("[data-keep]").forEach(function (el) {
      var key = el.getAttribute("data-keep");
      (kept[key] = kept[key] || []).push(el);
    });
    fresh.content.querySelectorAll("[data-keep]").forEach(function (el) {
      var same = kept[el.getAttribute("data-keep")];
      if (same && same.length) { el.replaceWith(same.shift()); }
    });
    region.replaceChildren(fresh.content);
  }

  function refresh() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(window.location.pathname + window.location.search,
          {headers: {"X-Live": "1"}, credentials: "same-origin", cache: "no-store"})
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); throw new Error("logged out"); }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        swap(html);
        state.textContent = "live";
        state.className = "live";
        region.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { state.textContent = "offline"; state.className = "live off"; })
      .then(function () { busy = false; });
  }

  window.setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
