// Live preview of a markup rule: when a field of the rule's form changes, ask the console for the preview
// table of the edited terms and swap it in. Loaded as a static file (no inline script).
(function () {
  "use strict";
  function init() {
    var box = document.getElementById("markup-preview");
    var table = document.getElementById("markup-preview-table");
    var form = box && box.closest("form");
    if (!box || !table || !form) { return; }
    var names = ["tenant", "service_id", "country_id", "percent_bp", "fixed_cents", "min_margin_cents", "rounding"];
    var timer = null;
    function refresh() {
      var params = new URLSearchParams();
      names.forEach(function (name) {
        var field = form.elements[name];
        if (field) { params.set(name, field.value); }
      });
      fetch(box.dataset.previewUrl + "?" + params.toString(), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) { if (html !== null) { table.innerHTML = html; } });
    }
    form.addEventListener("input", function (event) {
      if (names.indexOf(event.target.name) === -1) { return; }
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    });
    form.addEventListener("change", function (event) {
      if (names.indexOf(event.target.name) !== -1) { refresh(); }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
