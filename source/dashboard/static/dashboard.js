// Keeps a dashboard page current without reloading it: every few seconds the page's main region is
// fetched again (same URL, header X-Live: 1, answered with that region only) and swapped in place.
// Media elements marked data-keep survive the swap when their source did not change, so a video
// that is playing keeps playing (one file shown twice, e.g. a run's final video on the orchestrator and
// on the stitch, keeps both elements, in order). Refreshing pauses while the tab is hidden.
//
// How a kept element survives: the new region is parsed in a <template> (nothing in it loads), a
// placeholder stands where each kept element goes, the region is brought into this document, and the
// kept elements (never adopted by another document, which would reset a video) are moved onto their
// placeholders just before the region is swapped in. A video that was playing is asked to go on playing
// in case the browser paused it while it was out of the page.
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
    var moving = [];
    fresh.content.querySelectorAll("[data-keep]").forEach(function (el) {
      var same = kept[el.getAttribute("data-keep")];
      if (same && same.length) {
        var slot = document.createElement("span");
        slot.setAttribute("data-slot", String(moving.length));
        el.replaceWith(slot);
        moving.push(same.shift());
      }
    });
    var content = document.importNode(fresh.content, true);
    var playing = [];
    moving.forEach(function (el, i) {
      el.querySelectorAll("video").forEach(function (v) {
        if (!v.paused && !v.ended) { playing.push(v); }
      });
      content.querySelector('[data-slot="' + i + '"]').replaceWith(el);
    });
    region.replaceChildren(content);
    playing.forEach(function (v) {
      if (v.paused) { v.play().catch(function () {}); }
    });
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

  // an action that cannot be undone asks first (forms marked data-confirm; the region is replaced on
  // every refresh, so the listener sits on the document)
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  window.setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
