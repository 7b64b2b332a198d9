// htmx leaves the page as it is when a response is an error; the playground's refusals (400)
// carry the form with each problem next to its field, so those are swapped in like a success
// (and the old prediction goes away with them).
document.addEventListener("htmx:beforeSwap", function (event) {
  var status = event.detail.xhr.status;
  var target = event.detail.target;
  if (status >= 400 && status < 600 && target && target.closest("[data-swap-errors]")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
