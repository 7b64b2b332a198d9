// Timestamps in the reader's time zone, and "3 min ago" kept current (jobs' `when` and
// `local_time` template filters render <time data-when> in UTC; this rewrites them).
(function () {
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function full(d) {
    return MONTHS[d.getMonth()] + " " + d.getDate() + ", " + d.getFullYear() + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  // The same words as job_format.ago on the server.
  function ago(d, now) {
    var s = (now - d) / 1000;
    if (s < 45) return "just now";
    if (s < 3600) return Math.max(1, Math.round(s / 60)) + " min ago";
    if (s < 86400) return Math.round(s / 3600) + " h ago";
    if (s < 7 * 86400) { var n = Math.round(s / 86400); return n + " day" + (n === 1 ? "" : "s") + " ago"; }
    return MONTHS[d.getMonth()] + " " + d.getDate() + (d.getFullYear() !== now.getFullYear() ? ", " + d.getFullYear() : "");
  }
  function render(root) {
    var now = new Date();
    (root || document).querySelectorAll("time[data-when]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      if (el.dataset.when === "local") { el.textContent = full(d); el.title = "your local time"; }
      else { el.textContent = ago(d, now); el.title = full(d) + " (your local time)"; }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { render(); setInterval(render, 30000); });
  document.addEventListener("htmx:afterSettle", function (e) { render(e.target); });
})();
