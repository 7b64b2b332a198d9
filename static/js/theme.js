// Light / dark / system theme, remembered per browser. Runs before paint (loaded in <head>).
(function () {
  var KEY = "automl-theme";
  function system() { return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"; }
  function apply(choice) {
    document.documentElement.dataset.theme = choice === "system" ? system() : choice;
    document.documentElement.dataset.themeChoice = choice;
    var btn = document.getElementById("theme-toggle");
    if (btn) btn.textContent = { light: "☀ Light", dark: "☾ Dark", system: "◐ System" }[choice];
  }
  var saved = localStorage.getItem(KEY) || "system";
  apply(saved);
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () {
    if ((localStorage.getItem(KEY) || "system") === "system") apply("system");
  });
  document.addEventListener("DOMContentLoaded", function () {
    apply(localStorage.getItem(KEY) || "system");
    var btn = document.getElementById("theme-toggle");
    if (!btn) return;
    btn.addEventListener("click", function () {
      var order = ["system", "light", "dark"];
      var next = order[(order.indexOf(localStorage.getItem(KEY) || "system") + 1) % 3];
      localStorage.setItem(KEY, next);
      apply(next);
    });
  });
})();
