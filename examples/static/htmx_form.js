// Empty the add form after an item was added; keep it after an error, so
// the visitor can correct what they typed.
document.addEventListener("htmx:afterRequest", function (event) {
  if (event.detail.successful && event.detail.elt.id === "add") {
    event.detail.elt.reset();
  }
});
