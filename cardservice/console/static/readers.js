// The readers page: live status from /v1/events (the session cookie authenticates the socket;
// no token is ever in the page). Each card inserted is read once for its verdict.
(function () {
  "use strict";
  var table = document.getElementById("readers");
  var body = table.querySelector("tbody");
  var prefix = table.getAttribute("data-prefix");
  var msg = JSON.parse(document.getElementById("messages").textContent);
  var live = document.getElementById("live");
  var retry = 500;

  function row(id) {
    return body.querySelector('tr[data-reader-id="' + CSS.escape(id) + '"]');
  }

  function addRow(id, name) {
    var tr = row(id);
    if (tr) return tr;
    tr = document.createElement("tr");
    tr.setAttribute("data-reader-id", id);
    var th = document.createElement("th");
    th.scope = "row";
    var a = document.createElement("a");
    a.className = "reader-link";
    a.href = prefix + "/readers/" + encodeURIComponent(id);
    a.textContent = name;
    th.appendChild(a);
    tr.appendChild(th);
    ["card-state", "verdict", "holder"].forEach(function (cls) {
      var td = document.createElement("td");
      td.className = cls;
      td.textContent = "—";
      tr.appendChild(td);
    });
    body.appendChild(tr);
    return tr;
  }

  function setCard(tr, present) {
    tr.setAttribute("data-card", present ? "present" : "absent");
    tr.querySelector(".card-state").textContent = present ? msg.present : msg.absent;
    var verdict = tr.querySelector(".verdict");
    verdict.className = "verdict";
    verdict.textContent = present ? msg.reading : "—";
    tr.querySelector(".holder").textContent = "—";
    if (present) readVerdict(tr);
  }

  function readVerdict(tr) {
    var id = tr.getAttribute("data-reader-id");
    fetch(prefix + "/readers/" + encodeURIComponent(id) + "/verdict",
          {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function (res) {
        var verdict = tr.querySelector(".verdict");
        if (!res[0]) { verdict.textContent = msg.error; verdict.className = "verdict bad"; return; }
        verdict.textContent = msg.status[res[1].status] || res[1].status;
        verdict.className = "verdict " + res[1].status;
        tr.querySelector(".holder").textContent = res[1].name || "—";
      })
      .catch(function () { tr.querySelector(".verdict").textContent = msg.error; });
  }

  function onEvent(ev) {
    var tr;
    switch (ev.type) {
      case "hello":
        var seen = {};
        ev.readers.forEach(function (r) {
          seen[r.reader_id] = true;
          tr = addRow(r.reader_id, r.reader);
          var was = tr.getAttribute("data-card") === "present";
          if (was !== r.card_present || tr.querySelector(".verdict").textContent === "—") {
            setCard(tr, r.card_present);
          }
        });
        Array.prototype.forEach.call(body.querySelectorAll("tr"), function (old) {
          if (!seen[old.getAttribute("data-reader-id")]) old.remove();
        });
        if (!ev.pcsc_available) setLive("down", msg.pcsc_down);
        break;
      case "reader_added": addRow(ev.reader_id, ev.reader); break;
      case "reader_removed": tr = row(ev.reader_id); if (tr) tr.remove(); break;
      case "card_inserted": setCard(addRow(ev.reader_id, ev.reader), true); break;
      case "card_removed": tr = row(ev.reader_id); if (tr) setCard(tr, false); break;
      case "write_finished": tr = row(ev.reader_id); if (tr) readVerdict(tr); break;
      case "pcsc_unavailable": setLive("down", msg.pcsc_down); break;
      case "pcsc_available": setLive("live", msg.live); break;
    }
  }

  function setLive(state, text) {
    live.setAttribute("data-state", state);
    live.textContent = text;
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/v1/events");
    ws.onopen = function () { retry = 500; setLive("live", msg.live); };
    ws.onmessage = function (m) { onEvent(JSON.parse(m.data)); };
    ws.onclose = function () {
      setLive("lost", msg.lost);
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  connect();
})();
