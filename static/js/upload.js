/* Upload page: drag and drop onto the drop zone, a size check before sending, and a
   progress bar from XHR upload events. Without JavaScript the same form posts normally.

   How the file travels is the server's choice, rendered as data-upload-method:
   - "form": the form is posted to the upload view, which streams it to storage.
   - "presigned-post": the page asks data-upload-start-url for a new dataset and a
     presigned S3 POST (URL + policy fields), posts the file straight to S3, then POSTs
     the dataset's confirm URL (which re-checks the object) and opens the dataset. */
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
    var csrf = (form.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";

    function showError(message) {
      clientErrors.innerHTML = "";
      var li = document.createElement("li");
      li.textContent = message;
      clientErrors.appendChild(li);
      clientErrors.hidden = false;
    }

    function megabytes(size) {
      return (size / 1048576).toFixed(1) + " MB";
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
        showError("The file is " + megabytes(file.size) + "; the limit is " + megabytes(maxBytes) + ".");
        return false;
      }
      return true;
    }

    function busy(message) {
      bar.hidden = false;
      button.disabled = true;
      status.textContent = message;
    }

    function idle(message) {
      button.disabled = false;
      bar.hidden = true;
      bar.firstElementChild.style.width = "0%";
      status.textContent = "";
      if (message) showError(message);
    }

    function trackProgress(xhr) {
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        var pct = Math.round((e.loaded / e.total) * 100);
        bar.firstElementChild.style.width = pct + "%";
        status.textContent = pct < 100 ? "Uploading… " + pct + "%" : "Checking the file…";
      });
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

    // ------------------------------------------------------------------ through the web

    function postForm(file) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      busy("Uploading " + file.name + "…");
      trackProgress(xhr);
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
          idle("The upload failed (HTTP " + xhr.status + "). Try again.");
        }
      });
      xhr.addEventListener("error", function () {
        idle("The connection was lost during the upload. Try again.");
      });
      xhr.send(new FormData(form));
    }

    // ------------------------------------------------------------------ straight to S3

    var direct = window.AutomlDirectUpload;  // direct-upload.js: S3 POST and JSON helpers

    function startUpload(file) {
      var data = new FormData();
      data.append("filename", file.name);
      data.append("size", String(file.size));
      return fetch(form.dataset.uploadStartUrl, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, "X-Requested-With": "XMLHttpRequest" }
      }).then(direct.readJson);
    }

    function sendToStorage(upload, file) {
      return direct.send(upload, file, function (pct) {
        bar.firstElementChild.style.width = pct + "%";
        status.textContent = pct < 100 ? "Uploading… " + pct + "%" : "Checking the file…";
      }, maxBytes);
    }

    function confirmUpload(plan) {
      status.textContent = "Checking the file…";
      // "manual": the confirm view redirects to the dataset page with any message for it;
      // the page is opened below, so the message is shown there, not consumed here.
      return fetch(plan.confirm_url, {
        method: "POST",
        credentials: "same-origin",
        redirect: "manual",
        headers: { "X-CSRFToken": csrf, "X-Requested-With": "XMLHttpRequest" }
      }).then(function (response) {
        if (response.type !== "opaqueredirect" && !response.ok) {
          throw new Error("The file was uploaded but could not be checked (HTTP " + response.status + "). Open the dataset and confirm it again.");
        }
        window.location.assign(plan.detail_url);
      });
    }

    function postToStorage(file) {
      busy("Preparing the upload of " + file.name + "…");
      startUpload(file)
        .then(function (plan) {
          if (plan.upload.method !== "POST") throw new Error("This server expects a different upload method. Reload the page.");
          status.textContent = "Uploading " + file.name + "…";
          return sendToStorage(plan.upload, file).then(function () { return plan; });
        })
        .then(confirmUpload)
        .catch(function (error) { idle(error.message); });
    }

    form.addEventListener("submit", function (event) {
      var file = input.files[0];
      event.preventDefault();
      if (!check(file)) return;
      if (form.dataset.uploadMethod === "presigned-post") postToStorage(file);
      else postForm(file);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
