/* Upload page: drag and drop onto the drop zone, a size check before sending, and a
   progress bar from XHR upload events. Without JavaScript the same form posts normally. */
(function () {
  "use strict";

  function init() {
    var form = document.getElementById("upload-form");
    if (!form || form.dataset.enhanced) return;
    form.dataset.enhanced = "1";
    var input = form.querySelector("input[type=file]");
    var zone = document.getElementById("dropzone");
    var chosen = document.getElementById("chosen-file");
    var bar = document.getElementById("upload-progress");
    var status = document.getElementById("upload-status");
    var clientErrors = document.getElementById("client-errors");
    var button = document.getElementById("upload-button");
    var maxBytes = parseInt(form.dataset.maxBytes || "0", 10);

    function showError(message) {
      clientErrors.innerHTML = "";
      var li = document.createElement("li");
      li.textContent = message;
      clientErrors.appendChild(li);
      clientErrors.hidden = false;
    }

    function describe(file) {
      var mb = file.size / (1024 * 1024);
      chosen.textContent = file.name + " · " + (mb >= 1 ? mb.toFixed(1) + " MB" : Math.ceil(file.size / 1024) + " KB");
    }

    function check(file) {
      clientErrors.hidden = true;
      if (!file) { showError("Choose a CSV file to upload."); return false; }
      if (!/\.(csv|tsv|txt)$/i.test(file.name)) {
        showError("'" + file.name + "' is not a CSV file: upload a .csv, .tsv or .txt file. Spreadsheets must be exported as CSV first.");
        return false;
      }
      if (file.size === 0) { showError("The file is empty. Choose a CSV file with a header row and data rows."); return false; }
      if (maxBytes && file.size > maxBytes) {
        showError("The file is " + (file.size / 1048576).toFixed(1) + " MB; the limit is " + (maxBytes / 1048576).toFixed(1) + " MB.");
        return false;
      }
      return true;
    }

    input.addEventListener("change", function () {
      if (input.files.length) { describe(input.files[0]); check(input.files[0]); }
    });

    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("dragover"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.remove("dragover"); });
    });
    zone.addEventListener("drop", function (event) {
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || !files.length) return;
      input.files = files;
      describe(files[0]);
      check(files[0]);
    });

    form.addEventListener("submit", function (event) {
      var file = input.files[0];
      event.preventDefault();
      if (!check(file)) return;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      bar.hidden = false;
      button.disabled = true;
      status.textContent = "Uploading " + file.name + "…";
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        var pct = Math.round((e.loaded / e.total) * 100);
        bar.firstElementChild.style.width = pct + "%";
        status.textContent = pct < 100 ? "Uploading… " + pct + "%" : "Checking the file…";
      });
      xhr.addEventListener("load", function () {
        if (xhr.status < 400) {
          window.location.assign(xhr.responseURL || form.action);
          return;
        }
        // The server answered with the page and its error: show that card in place.
        var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var card = page.getElementById("upload-card");
        var current = document.getElementById("upload-card");
        if (card && current) {
          current.replaceWith(card);
          init();
        } else {
          button.disabled = false;
          bar.hidden = true;
          showError("The upload failed (HTTP " + xhr.status + "). Try again.");
        }
      });
      xhr.addEventListener("error", function () {
        button.disabled = false;
        bar.hidden = true;
        showError("The connection was lost during the upload. Try again.");
      });
      xhr.send(new FormData(form));
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
