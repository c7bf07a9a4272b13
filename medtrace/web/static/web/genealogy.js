// Genealogy graph: "+" / "−" and "+N more" swap in the re-laid-out graph from the server
// (data-fragment) instead of reloading the page; focus returns to the same control. Without
// this script the same links reload the page with ?expand=.
(function () {
  "use strict";
  if (window.medtraceGenealogy) { return; }
  window.medtraceGenealogy = true;
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-fragment]") : null;
    if (!link) { return; }
    var figure = link.closest("[data-graph]");
    if (!figure || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    event.preventDefault();
    var key = link.getAttribute("data-key");
    var href = link.getAttribute("href");
    figure.setAttribute("aria-busy", "true");
    fetch(link.getAttribute("data-fragment"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html.trim();
        var fresh = holder.querySelector("[data-graph]");
        if (!fresh) { throw new Error("no graph"); }
        figure.replaceWith(fresh);
        if (window.history && href) { window.history.replaceState(null, "", href); }
        var again = null;
        fresh.querySelectorAll("a[data-key]").forEach(function (a) {
          if (a.getAttribute("data-key") === key) { again = a; }
        });
        if (!again) {
          // A collapsed node's control now reads "+": focus it; else the node itself.
          var plain = key.indexOf("x:") === 0 ? key.slice(2) : key;
          fresh.querySelectorAll("a[data-key]").forEach(function (a) {
            if (!again && (a.getAttribute("data-key") === "x:" + plain || a.getAttribute("data-key") === plain)) { again = a; }
          });
        }
        if (again && again.focus) { again.focus(); }
      })
      .catch(function () { window.location.href = href; });
  });
})();
