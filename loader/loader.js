/* Chat widget loader. Defines the command queue, copies this tag's data-* settings and draws
   the launcher button once the page has loaded (a few DOM nodes, no wasm). The content-hashed
   bundle next to it is loaded only when the page has finished loading and the browser is idle,
   or at once when the visitor reaches for the launcher (pointer over it, focus, click) or the
   page calls the API. A click made before the bundle is there is queued as "open" and replayed,
   so it is never lost; the bundle's own launcher then replaces this one in the same task. */
(function () {
  var script = document.currentScript;
  var api = window.ChatWidget;
  // A site may use the name for something of its own: the widget needs it, so it says so and
  // takes it over instead of failing without a word.
  if (!api || typeof api !== "object" || (api.q !== undefined && !Array.isArray(api.q) && !api.version)) {
    if (api) console.warn("chat widget: window.ChatWidget held something else; the widget replaces it", api);
    api = window.ChatWidget = { q: [] };
  }
  if (api.version || api.loading) return; // already loaded, or this tag is included twice
  api.q = api.q || [];
  var base = "";
  var config = api.config || {};
  if (script) {
    for (var key in script.dataset) config[key] = script.dataset[key];
    base = script.src.replace(/[^\/?#]*([?#].*)?$/, "");
  }
  api.config = config;

  var state = 0; // 0 waiting, 1 loading, 2 loaded
  var placeholder = null;
  function load() {
    if (state) return;
    state = 1;
    if (placeholder) placeholder.button.setAttribute("aria-busy", "true");
    import(base + "__GLUE__")
      .then(function (m) { return m.default({ module_or_path: base + "__WASM__" }); })
      .then(function () {
        state = 2;
        if (placeholder) placeholder.host.remove();
      })
      .catch(function (e) {
        state = 0; // the next click tries again
        if (placeholder) placeholder.button.removeAttribute("aria-busy");
        console.error("chat widget: failed to load", e);
        window.dispatchEvent(new CustomEvent("chatwidget:error", {
          detail: { error: { kind: "load" }, message: String(e) }
        }));
      });
  }
  api.loading = load;

  ["open", "close", "toggle", "sendMessage", "setUser", "setLocale", "destroy"].forEach(function (name) {
    var queued = api[name];
    api[name] = function () {
      if (queued) queued.apply(api, arguments);
      else api.q.push([name].concat(Array.prototype.slice.call(arguments)));
      load();
    };
  });

  // The launcher as the bundle draws it (style/widget.css .cw-launcher), styled through CSSOM
  // and a constructed stylesheet: no inline style attribute or <style> text, so a strict
  // Content-Security-Policy (style-src 'self') does not block it.
  function draw() {
    if (state === 2 || placeholder || !document.body) return;
    var host = document.createElement("chat-widget-root");
    host.setAttribute("data-chat-widget-loader", "");
    var hostStyle = { all: "initial", display: "block", position: "fixed", "z-index": "2147483000",
      right: "0", bottom: "0", width: "0", height: "0", visibility: "visible", opacity: "1" };
    for (var p in hostStyle) host.style.setProperty(p, hostStyle[p], "important");
    var root = host.attachShadow({ mode: "open" });
    var left = config.position === "left";
    var css = ".l{position:fixed;" + (left ? "left" : "right") + ":20px;bottom:20px;width:60px;height:60px;" +
      "border-radius:50%;border:0;padding:0;cursor:pointer;display:flex;align-items:center;justify-content:center;" +
      "background:var(--a,#2563eb);color:#fff;box-shadow:0 12px 40px rgba(15,23,42,.18),0 2px 8px rgba(15,23,42,.08)}" +
      ".l:focus-visible{outline:3px solid var(--a,#2563eb);outline-offset:2px}.l svg{width:28px;height:28px}";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "l cw-launcher";
    button.setAttribute("aria-label", "Open chat");
    button.setAttribute("aria-haspopup", "dialog");
    button.setAttribute("aria-expanded", "false");
    if (state === 1) button.setAttribute("aria-busy", "true"); // drawn while the bundle loads
    if (config.accentColor) button.style.setProperty("--a", config.accentColor);
    // Built node by node: no HTML string, so Trusted Types (require-trusted-types-for) allow it.
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6c-.5.4-1.3.1-1.3-.6V16A2.5 2.5 0 0 1 4 13.5z");
    svg.appendChild(path);
    button.appendChild(svg);
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      var style = document.createElement("style");
      style.textContent = css;
      root.appendChild(style);
    }
    root.appendChild(button);
    button.addEventListener("click", function () { api.open(); });
    button.addEventListener("pointerenter", load);
    button.addEventListener("focus", load);
    button.addEventListener("touchstart", load, { passive: true });
    document.body.appendChild(host);
    placeholder = { host: host, button: button };
  }

  function whenIdle() {
    if (window.requestIdleCallback) window.requestIdleCallback(load, { timeout: 3000 });
    else setTimeout(load, 200);
  }
  // Calls queued before this tag ran (the embed snippet's ChatWidget.q) or an open-on-load
  // setting want the widget now; otherwise it waits until the page is loaded and idle.
  var open = config.open;
  var wanted = api.q.length > 0 || open === "" || open === "true" || open === "1" || open === "yes";
  // The launcher is drawn once the page has loaded, in a task of its own. Drawn while the page
  // still loads, its shadow root and styles added ~35 ms of main-thread time to the page's load
  // at 4x CPU (scripts/bench, 20 runs), against ~6 ms for the rest of this script. A page whose
  // load is slow (a large image) still gets its launcher after DRAW_AT_LATEST ms.
  var DRAW_AT_LATEST = 2000;
  if (document.readyState === "complete") draw();
  else {
    window.addEventListener("load", function () { setTimeout(draw, 0); });
    setTimeout(draw, DRAW_AT_LATEST);
  }
  if (wanted) load();
  else if (document.readyState === "complete") whenIdle();
  else window.addEventListener("load", whenIdle);
})();
