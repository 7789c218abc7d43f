/* Chat widget loader. Defines the command queue, copies this tag's data-* settings, then loads
   the content-hashed bundle next to it. Calls made before the bundle is ready are queued and
   replayed once it is. */
(function () {
  var script = document.currentScript;
  var api = (window.ChatWidget = window.ChatWidget || { q: [] });
  if (api.version) return; // already loaded
  api.q = api.q || [];
  ["open", "close", "toggle", "sendMessage", "setUser", "setLocale", "destroy"].forEach(function (name) {
    api[name] = api[name] || function () {
      api.q.push([name].concat(Array.prototype.slice.call(arguments)));
    };
  });
  var base = "";
  if (script) {
    var config = api.config || {};
    for (var key in script.dataset) config[key] = script.dataset[key];
    api.config = config;
    base = script.src.replace(/[^\/?#]*([?#].*)?$/, "");
  }
  import(base + "__GLUE__")
    .then(function (m) { return m.default({ module_or_path: base + "__WASM__" }); })
    .catch(function (e) {
      console.error("chat widget: failed to load", e);
      window.dispatchEvent(new CustomEvent("chatwidget:error", {
        detail: { error: { kind: "load" }, message: String(e) }
      }));
    });
})();
