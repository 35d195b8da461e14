// The post page asks for its replies every two seconds, for two minutes, and shows the
// bot's answer as soon as it is there: no "refresh" to press. Same origin, no cookies sent
// elsewhere; the fragment is rendered (and escaped) by the server.
(function () {
  var box = document.getElementById("replies-box");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-poll");
  var left = 60;
  var last = null;
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        // Replaced only when the replies changed: nothing flickers, nothing is re-announced.
        if (html !== null && html !== last) { box.innerHTML = html; last = html; }
      })
      .catch(function () { /* offline for a moment: try again */ })
      .then(function () { left -= 1; if (left > 0) { setTimeout(tick, 2000); } });
  }
  setTimeout(tick, 1000);
})();
