// Live parts of pages: any element with data-refresh is re-fetched every data-interval ms
// while the page is visible. No inline scripts (the Content-Security-Policy forbids them).
(function () {
  "use strict";
  function refresh(el) {
    if (document.hidden) return;
    fetch(el.dataset.refresh, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.status === 401 || r.redirected) { window.location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html !== null && html !== undefined) {
          el.innerHTML = html;
          el.dataset.updated = String(Date.now());
        }
      })
      .catch(function () { /* offline for a moment: try again next tick */ });
  }
  function start() {
    document.querySelectorAll("[data-refresh]").forEach(function (el) {
      var every = parseInt(el.dataset.interval || "5000", 10);
      if (!el.dataset.noInitial) refresh(el);
      setInterval(function () { refresh(el); }, every);
    });
    // Forms that ask for confirmation carry data-confirm: the browser's dialog, then submit.
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        if (!window.confirm(form.dataset.confirm)) ev.preventDefault();
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
