// A production run's page: its progress, polled from the daemon every half second while it runs
// (the session cookie authenticates; no reload).
(function () {
  "use strict";
  var box = document.getElementById("run");
  var msg = JSON.parse(document.getElementById("messages").textContent);
  var body = document.querySelector("#run-results tbody");

  function text(id, value) { document.getElementById(id).textContent = value; }

  function show(p) {
    var bar = document.getElementById("run-progress");
    bar.max = p.total || 1;
    bar.value = p.done + p.failed;
    bar.textContent = p.done + "/" + p.total;
    box.setAttribute("data-state", p.state);
    text("run-state", msg[p.state] || p.state);
    text("run-done", p.done);
    text("run-failed", p.failed);
    text("run-left", p.left);
    text("run-eta", p.eta_seconds === null ? "—" : p.eta_seconds);
    var running = p.state === "running";
    document.getElementById("stop-form").hidden = !running || p.stop_requested;
    document.getElementById("run-stopping").hidden = !running || !p.stop_requested;
    body.textContent = "";
    p.results.forEach(function (r) {
      var tr = document.createElement("tr");
      var a = document.createElement("a");
      a.href = msg.prefix + "/applications/" + encodeURIComponent(r.application_id);
      a.textContent = r.application_id;
      var cells = [a, r.card_serial || "—", r.error || ""];
      cells.forEach(function (c) {
        var td = document.createElement("td");
        if (typeof c === "string") td.textContent = c; else td.appendChild(c);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function poll() {
    fetch(box.getAttribute("data-url"), {credentials: "same-origin",
                                         headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (p) {
        show(p);
        if (p.state === "running") setTimeout(poll, 500);
      })
      .catch(function () { setTimeout(poll, 2000); });
  }

  if (box.getAttribute("data-state") === "running") setTimeout(poll, 500);
})();
