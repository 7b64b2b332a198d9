/* The results page's "Score a CSV file" form: a check before sending, a loading state,
   and, when the server says so, the file sent straight to S3.

   How the file travels is the server's choice, rendered as data-upload-method:
   - "form": the form posts the file to the page, which streams it to storage, queues the
     batch and shows it in the history (progress polled there with htmx).
   - "presigned-post": POST data-create-url (the API) for a new batch and a presigned S3
     POST, post the file straight to S3 (direct-upload.js), POST the batch's confirm URL,
     then open the page at the batch history, where its progress is polled.
   Without JavaScript the form posts normally. */
(function () {
  "use strict";

  function init() {
    var form = document.getElementById("predict-file-form");
    if (!form || form.dataset.enhanced) return;
    form.dataset.enhanced = "1";
    var input = form.querySelector("input[type=file]");
    var errors = document.getElementById("predict-file-client-errors");
    var bar = document.getElementById("predict-file-progress");
    var status = document.getElementById("predict-file-status");
    var button = document.getElementById("predict-file-button");
    var maxBytes = parseInt(form.dataset.maxBytes || "0", 10);
    var csrf = (form.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
    var direct = window.AutomlDirectUpload;

    function showError(message) {
      errors.innerHTML = "";
      var li = document.createElement("li");
      li.textContent = message;
      errors.appendChild(li);
      errors.hidden = false;
    }

    function check(file) {
      errors.hidden = true;
      if (!file) { showError("Choose a CSV file to score."); return false; }
      if (!/\.(csv|tsv|txt)$/i.test(file.name)) {
        showError("'" + file.name + "' is not a CSV file: choose a .csv, .tsv or .txt file. Spreadsheets must be exported as CSV first.");
        return false;
      }
      if (file.size === 0) { showError("The file is empty. Choose a CSV file with a header row and data rows."); return false; }
      if (maxBytes && file.size > maxBytes) {
        showError("The file is " + direct.megabytes(file.size) + "; files up to " + direct.megabytes(maxBytes) + " can be scored.");
        return false;
      }
      return true;
    }

    function busy(message) {
      button.disabled = true;
      bar.hidden = false;
      status.textContent = message;
    }

    function idle(message) {
      button.disabled = false;
      bar.hidden = true;
      bar.firstElementChild.style.width = "0%";
      status.textContent = "";
      if (message) showError(message);
    }

    function api(url, body) {
      return fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
        body: body ? JSON.stringify(body) : null
      }).then(direct.readJson);
    }

    function postToStorage(file) {
      busy("Preparing the upload of " + file.name + "…");
      api(form.dataset.createUrl, { filename: file.name, size: file.size })
        .then(function (plan) {
          if (plan.upload.method !== "POST") throw new Error("This server expects a different upload method. Reload the page.");
          status.textContent = "Uploading " + file.name + "…";
          return direct.send(plan.upload, file, function (pct) {
            bar.firstElementChild.style.width = pct + "%";
            status.textContent = pct < 100 ? "Uploading… " + pct + "%" : "Checking the file…";
          }, maxBytes).then(function () { return plan; });
        })
        .then(function (plan) {
          status.textContent = "Checking the file…";
          return api(plan.confirm_url).then(function (batch) {
            window.location.assign(form.dataset.doneUrl + "?batch=" + encodeURIComponent(batch.batch_id) + "#predict-file-card");
          });
        })
        .catch(function (error) { idle(error.message); });
    }

    form.addEventListener("submit", function (event) {
      var file = input.files[0];
      if (!check(file)) { event.preventDefault(); return; }
      if (form.dataset.uploadMethod === "presigned-post") {
        event.preventDefault();
        postToStorage(file);
        return;
      }
      // The page's own upload: the browser posts the form; show that it is working.
      bar.classList.add("indeterminate");
      busy("Uploading " + file.name + "…");
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
