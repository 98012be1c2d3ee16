// Accord's keyboard shortcuts and small page behaviours (no inline scripts: strict CSP).
(function () {
  "use strict";
  let pending = null; // first key of a two-key shortcut ("g")
  const rows = () => Array.from(document.querySelectorAll("table.table-queue tbody tr[data-href]"));
  let focused = -1;

  function typing(event) {
    const t = event.target;
    return t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
  }
  function focusRow(index) {
    const list = rows();
    if (!list.length) return;
    focused = Math.max(0, Math.min(index, list.length - 1));
    list.forEach((r, i) => r.classList.toggle("row-focus", i === focused));
    const link = list[focused].querySelector("a");
    if (link) link.focus();
  }
  function click(selector) {
    const el = document.querySelector(selector);
    if (el) { el.click(); return true; }
    return false;
  }
  function showShortcuts() {
    const modal = document.getElementById("shortcuts");
    if (modal && window.bootstrap) window.bootstrap.Modal.getOrCreateInstance(modal).show();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    const key = event.key;
    if (pending === "g") {
      pending = null;
      if (key === "i") { window.location = "/incidents/"; }
      else if (key === "r") { window.location = "/requests/"; }
      else if (key === "s") { window.location = "/catalogue/"; }
      return;
    }
    switch (key) {
      case "/": event.preventDefault(); document.getElementById("global-search")?.focus(); break;
      case "?": showShortcuts(); break;
      case "g": pending = "g"; setTimeout(() => { pending = null; }, 1500); break;
      case "j": focusRow(focused + 1); break;
      case "k": focusRow(focused - 1); break;
      case "c": click("[data-shortcut='create']"); break;
      case "a": click("[data-shortcut='assign-me']"); break;
      case "e": click("[data-shortcut='edit']"); break;
      case "r": {
        const box = document.querySelector("[data-shortcut='reply']");
        if (box) { event.preventDefault(); box.focus(); }
        break;
      }
      default: return;
    }
  });

  document.addEventListener("click", function (event) {
    const trigger = event.target.closest("[data-action='show-shortcuts']");
    if (trigger) showShortcuts();
    const toggle = event.target.closest("[data-toggle-target]");
    if (toggle) {
      const target = document.getElementById(toggle.dataset.toggleTarget);
      if (target) target.hidden = !target.hidden;
    }
  });

  // Transition buttons that need more input (resolve, cancel, reopen) open their form.
  document.addEventListener("change", function (event) {
    const select = event.target.closest("select[data-submit-on-change]");
    if (select && select.form) select.form.requestSubmit();
  });
})();
