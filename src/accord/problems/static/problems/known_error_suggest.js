// Known-error suggestions while an incident is being logged: once the short
// description is typed (or a service or CI chosen), asks the server which open known
// errors match and shows them under the form, with their workarounds. Waits until
// typing pauses, and drops an answer that a newer question overtook. Without
// JavaScript nothing is lost: the incident's own page shows the same suggestions,
// with the "Apply workaround" buttons, once it is logged.
(function () {
  "use strict";
  const script = document.currentScript;
  const WATCHED = ["short_description", "description", "service", "ci", "cis"];
  const PAUSE_MS = 350;

  function field(form, name) {
    const el = form.elements.namedItem(name);
    return el && el.value !== undefined ? el : null;
  }

  function setup() {
    const title = document.querySelector("form [name='short_description']");
    if (!title || !title.form) return;
    const form = title.form;
    let box = document.getElementById("known-error-suggest");
    const url = (box && box.dataset.url) || (script && script.dataset.url);
    if (!url) return;
    if (!box) {
      // Right under the short description, where the agent is looking.
      box = document.createElement("div");
      box.id = "known-error-suggest";
      const column = title.closest("[class*='col-']");
      if (column) {
        box.className = "col-12";
        column.after(box);
      } else {
        form.after(box);
      }
    }
    box.setAttribute("aria-live", "polite");

    let timer = null;
    let controller = null;
    let asked = "";

    function question() {
      const params = new URLSearchParams();
      for (const name of ["short_description", "description", "service"]) {
        const el = field(form, name);
        if (el && el.value.trim()) params.set(name, el.value.trim().slice(0, 2000));
      }
      const ci = field(form, "ci") || field(form, "cis");
      if (ci && ci.value.trim()) params.set("ci", ci.value.trim());
      return params;
    }

    function ask() {
      const params = question();
      const key = params.toString();
      if (key === asked) return;
      asked = key;
      if (controller) controller.abort();
      if (!params.has("short_description") && !params.has("service") && !params.has("ci")) {
        box.replaceChildren();
        return;
      }
      controller = new AbortController();
      box.setAttribute("aria-busy", "true");
      fetch(url + "?" + key, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
        signal: controller.signal,
      })
        .then((response) => (response.ok ? response.text() : ""))
        .then((html) => {
          // The server's own fragment (every value escaped there).
          box.innerHTML = html;
          box.removeAttribute("aria-busy");
        })
        .catch((error) => {
          if (error.name !== "AbortError") box.removeAttribute("aria-busy");
        });
    }

    function later(event) {
      if (!event.target || !WATCHED.includes(event.target.name)) return;
      clearTimeout(timer);
      timer = setTimeout(ask, PAUSE_MS);
    }

    form.addEventListener("input", later);
    form.addEventListener("change", later);
    // A form shown again (after a refused save) already has words in it.
    if (title.value.trim()) ask();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
