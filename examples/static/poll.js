// Polls an unscoped JSON endpoint on page load, as dashboards do. The
// endpoint is not a flash scope, so it never consumes the page's flashes.
(function () {
  function poll() {
    fetch("/api/poll", { credentials: "same-origin" })
      .then(function (resp) { return resp.json(); })
      .then(function (data) {
        document.getElementById("polls").textContent = String(data.polls);
      })
      .catch(function () {});
  }
  poll();
  setInterval(poll, 250);
})();
