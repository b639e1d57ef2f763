// The storefront's behaviour, in one static file (the Content-Security-Policy forbids inline script).
// Everything works without it: searching falls back to the server, copying to selecting the text by hand.
(function () {
  "use strict";

  // --- instant search: filter [data-filter-item] rows/tiles of a list while typing -------------------
  function applyFilter(input) {
    var list = document.querySelector(input.getAttribute("data-filter-target"));
    if (!list) return;
    var words = input.value.toLowerCase().trim().split(/\s+/).filter(Boolean);
    var shown = 0;
    list.querySelectorAll("[data-filter-item]").forEach(function (item) {
      var text = item.getAttribute("data-filter-text") || "";
      var match = words.every(function (w) { return text.indexOf(w) !== -1; });
      item.hidden = !match;
      if (match) shown += 1;
    });
    list.querySelectorAll("[data-filter-group]").forEach(function (group) {
      group.hidden = !group.querySelector("[data-filter-item]:not([hidden])");
    });
    var empty = list.querySelector("[data-filter-empty]");
    if (empty) empty.hidden = shown !== 0;
    var form = input.form;
    var count = form && form.querySelector("[data-filter-count]");
    var word = document.body.getAttribute(shown === 1 ? "data-match-one" : "data-match-many") || "";
    if (count) count.textContent = words.length ? shown + " " + word : "";
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches("[data-filter-target]")) applyFilter(event.target);
  });
  document.addEventListener("submit", function (event) {
    // Instant search needs no round trip; a form without its own action stays on the page.
    if (event.target.querySelector("[data-filter-target]") && !event.target.getAttribute("action")) {
      event.preventDefault();
    }
  });

  // --- copy buttons ------------------------------------------------------------------------------------
  function copied(button) {
    var label = button.textContent;
    button.textContent = document.body.getAttribute("data-copied-text") || "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var text = button.getAttribute("data-copy");
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button); }, function () {});
    } else {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); copied(button); } catch (e) { /* the user copies by hand */ }
      document.body.removeChild(area);
    }
  });

  // --- the buy dialog: a country row's "Buy" opens the confirmation in a dialog (htmx fills it) --------
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open-dialog]");
    if (!opener || !window.htmx) return;
    var dialog = document.querySelector(opener.getAttribute("data-open-dialog"));
    if (dialog && typeof dialog.showModal === "function" && !dialog.open) dialog.showModal();
  });

  // --- countdowns: [data-countdown]=seconds left, counted down every second ---------------------------
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function stamp(root) {
    var now = Date.now();
    root.querySelectorAll("[data-countdown]:not([data-deadline])").forEach(function (el) {
      var seconds = parseInt(el.getAttribute("data-countdown"), 10) || 0;
      el.setAttribute("data-deadline", String(now + seconds * 1000));
    });
    root.querySelectorAll("[data-enable-after]:not([data-deadline])").forEach(function (el) {
      var seconds = parseInt(el.getAttribute("data-enable-after"), 10) || 0;
      el.setAttribute("data-deadline", String(now + seconds * 1000));
    });
  }

  function tick() {
    stamp(document);
    var now = Date.now();
    document.querySelectorAll("[data-countdown][data-deadline]").forEach(function (el) {
      var left = Math.max(0, Math.round((parseInt(el.getAttribute("data-deadline"), 10) - now) / 1000));
      var end = el.getAttribute("data-countdown-end");
      var text = pad(Math.floor(left / 60)) + ":" + pad(left % 60);
      el.textContent = left === 0 && end ? end : (el.getAttribute("data-countdown-prefix") || "") + text;
    });
    document.querySelectorAll("[data-enable-after][data-deadline]").forEach(function (el) {
      if (parseInt(el.getAttribute("data-deadline"), 10) <= now && el.disabled) {
        el.disabled = false;
        var hint = el.querySelector("[data-countdown]");
        if (hint) hint.remove();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    document.querySelectorAll("[data-filter-target]").forEach(function (input) {
      if (input.value) applyFilter(input);
    });
    // The language switcher submits on change (its button stays for keyboards and no-script browsers).
    document.querySelectorAll("[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    // Following the system: the toggle offers the opposite of what the system shows now.
    var toggle = document.querySelector("[data-theme-toggle][data-follows-system]");
    if (toggle && window.matchMedia) {
      var dark = window.matchMedia("(prefers-color-scheme: dark)").matches;
      toggle.value = dark ? "light" : "dark";
      toggle.textContent = toggle.getAttribute(dark ? "data-label-light" : "data-label-dark");
    }
  });
  document.addEventListener("htmx:afterSettle", function () { tick(); });
})();
