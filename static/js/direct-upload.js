/* Sending a file straight to S3 with a presigned POST, shared by the dataset upload page
   (upload.js) and the results page's "Score a CSV file" form (batch-upload.js).

   AutomlDirectUpload.send(upload, file, onProgress) posts the policy's fields first and
   the file last (S3 ignores fields after the file) and resolves when S3 accepts it;
   its errors carry a message a user can act on (S3 answers errors as XML).
   AutomlDirectUpload.readJson(response) reads our JSON answers, errors as Error(message). */
(function () {
  "use strict";

  function megabytes(size) {
    return (size / 1048576).toFixed(1) + " MB";
  }

  // <Error><Code>EntityTooLarge</Code><Message>…</Message></Error>
  function storageMessage(xhr, maxBytes) {
    var doc = new DOMParser().parseFromString(xhr.responseText || "", "application/xml");
    var code = (doc.getElementsByTagName("Code")[0] || {}).textContent || "";
    var text = (doc.getElementsByTagName("Message")[0] || {}).textContent || "";
    if (code === "EntityTooLarge") return "The file is over the " + megabytes(maxBytes) + " limit. Upload a smaller file.";
    if (code === "EntityTooSmall") return "The file is empty. Choose a CSV file with a header row and data rows.";
    if (code === "AccessDenied" && /expired/i.test(text)) return "The upload link expired. Try the upload again.";
    return "File storage refused the file (" + (code || "HTTP " + xhr.status) + (text ? ": " + text : "") + "). Try again.";
  }

  function send(upload, file, onProgress, maxBytes) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(upload.method, upload.url);
      if (onProgress) {
        xhr.upload.addEventListener("progress", function (e) {
          if (e.lengthComputable) onProgress(Math.round((e.loaded / e.total) * 100));
        });
      }
      xhr.addEventListener("load", function () {
        if (xhr.status >= 200 && xhr.status < 300) resolve();
        else reject(new Error(storageMessage(xhr, maxBytes)));
      });
      xhr.addEventListener("error", function () {
        reject(new Error("The connection to file storage was lost during the upload. Try again."));
      });
      var body = new FormData();
      Object.keys(upload.fields || {}).forEach(function (name) { body.append(name, upload.fields[name]); });
      body.append("file", file);
      xhr.send(body);
    });
  }

  function readJson(response) {
    return response.text().then(function (text) {
      var body = null;
      try { body = JSON.parse(text); } catch (ignored) { body = null; }
      if (!body) {
        throw new Error("The server did not answer as expected (HTTP " + response.status + "). Reload the page and try again.");
      }
      if (!response.ok) throw new Error(body.message || body.detail || "The upload could not start (HTTP " + response.status + ").");
      return body;
    });
  }

  window.AutomlDirectUpload = { send: send, readJson: readJson, megabytes: megabytes };
})();
