// The agent console: plays the agent of a local reference backend through its control API
// (tests/backends/lib/control.js). It polls GET /_control/conversations once a second and
// never touches the widget; the demo page runs the widget.
"use strict";
(function () {
  var ports = { voxsig: 3101, gms: 3102, push: 3103 };
  var params = new URLSearchParams(location.search);
  var backend = ports[params.get("backend")] ? params.get("backend") : "voxsig";
  var selected = null; // conversation id
  var features = null;
  var $ = function (id) { return document.getElementById(id); };
  var base = function () { return "http://" + location.hostname + ":" + ports[backend] + "/_control"; };

  function status(text) { $("status").textContent = text; }

  function post(path, body) {
    var payload = Object.assign({}, body || {});
    if (selected !== null && payload.conversation_id === undefined) payload.conversation_id = selected;
    return fetch(base() + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(payload) })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || r.status); return j; }); })
      .then(function () { status(path.replace("/agent/", "") + ": done"); refresh(); })
      .catch(function (e) { status(path + " failed: " + e.message); });
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text; // never innerHTML: messages are hostile text
    return e;
  }

  function renderFeatures() {
    var rich = $("rich");
    rich.textContent = "";
    (features.rich || []).forEach(function (kind) {
      var b = el("button", { type: "button", "data-kind": kind }, kind.replace(/_/g, " "));
      b.addEventListener("click", function () { post("/agent/rich", { kind: kind }); });
      rich.appendChild(b);
    });
    var why = backend === "push" ? "Push has no such event: the widget cannot be told" : "";
    document.querySelectorAll("[data-action='typing-on'],[data-action='typing-off']").forEach(function (b) {
      b.disabled = !features.typing; b.title = features.typing ? "" : why;
    });
    $("presence").disabled = !features.presence;
    $("presence").title = features.presence ? "" : why;
  }

  function render(data) {
    if (JSON.stringify(data.features) !== JSON.stringify(features)) { features = data.features; renderFeatures(); }
    var list = $("conversations");
    var convs = data.conversations.slice().reverse(); // newest first
    if (selected === null && convs.length) selected = convs.find(function (c) { return c.status !== "ended" && c.status !== "resolved"; }) ? convs.find(function (c) { return c.status !== "ended" && c.status !== "resolved"; }).id : convs[0].id;
    $("none").hidden = convs.length > 0;
    list.textContent = "";
    convs.forEach(function (c) {
      var last = c.messages[c.messages.length - 1];
      var b = el("button", { type: "button", "aria-current": String(c.id === selected), "data-id": String(c.id) });
      b.appendChild(el("strong", {}, c.visitor + " · " + c.status));
      b.appendChild(el("small", {}, last ? last.from + ": " + last.text.slice(0, 40) : "no messages"));
      b.addEventListener("click", function () { selected = c.id; refresh(); });
      var li = el("li"); li.appendChild(b); list.appendChild(li);
    });
    var conv = data.conversations.find(function (c) { return c.id === selected; });
    var box = $("messages");
    var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    box.textContent = "";
    (conv ? conv.messages : []).forEach(function (m) {
      var li = el("li", { class: m.from, "data-kind": m.kind }, m.text || "(" + m.kind + ")");
      li.appendChild(el("span", { class: "meta" }, m.from + (m.kind !== "text" ? " · " + m.kind : "") + " · " + new Date(m.at).toLocaleTimeString()));
      box.appendChild(li);
    });
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  function refresh() {
    return fetch(base() + "/conversations").then(function (r) { return r.json(); })
      .then(render)
      .catch(function () { status(backend + " reference backend is not answering (scripts/backends start)"); });
  }

  $("backend").value = backend;
  $("demo-link").href = "../?backend=" + backend;
  $("backend").addEventListener("change", function () {
    params.set("backend", $("backend").value);
    location.search = params.toString();
  });
  $("reply").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("reply-text").value.trim();
    if (!text) return;
    $("reply-text").value = "";
    post("/agent/say", { text: text });
  });
  $("presence").addEventListener("change", function () { post("/agent/presence", { status: $("presence").value }); });
  document.querySelectorAll("[data-action]").forEach(function (b) {
    b.addEventListener("click", function () {
      var a = b.getAttribute("data-action");
      if (a === "typing-on") post("/agent/typing", { on: true });
      if (a === "typing-off") post("/agent/typing", { on: false });
      if (a === "end") post("/agent/end");
      if (a === "drop") post("/drop", { conversation_id: null });
      if (a === "refuse") post("/refuse", { seconds: Number($("refuse-seconds").value) || 10, conversation_id: null });
      if (a === "restart") post("/restart", { conversation_id: null });
    });
  });
  refresh();
  setInterval(refresh, 1000);
})();
