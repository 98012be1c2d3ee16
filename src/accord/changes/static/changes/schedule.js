// The forward schedule from the keyboard: p / n / t (previous, next, today), w / m (week,
// month), and the arrow keys from day to day in the calendar (one day in the tab order).
(function () {
  "use strict";
  const grid = document.querySelector("table.schedule");
  if (!grid) return;
  const cells = Array.from(grid.querySelectorAll("td[data-date]"));
  const month = grid.classList.contains("schedule-month");
  if (!cells.length) return;
  let current = cells.findIndex((c) => c.classList.contains("today"));
  if (current < 0) current = cells.findIndex((c) => !c.classList.contains("out-of-range"));
  if (current < 0) current = 0;
  cells[current].tabIndex = 0;

  function move(index) {
    if (index < 0 || index >= cells.length) return;
    cells[current].tabIndex = -1;
    current = index;
    cells[current].tabIndex = 0;
    cells[current].focus();
  }
  function typing(target) {
    return target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }
  const steps = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: month ? -7 : 0, ArrowDown: month ? 7 : 0 };

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const cell = event.target.closest ? event.target.closest("table.schedule td[data-date]") : null;
    if (cell && event.key in steps && steps[event.key]) {
      event.preventDefault();
      current = cells.indexOf(cell);
      move(current + steps[event.key]);
      return;
    }
    if (cell && (event.key === "Home" || event.key === "End")) {
      event.preventDefault();
      current = cells.indexOf(cell);
      const row = current - (current % 7);
      move(event.key === "Home" ? row : row + 6);
      return;
    }
    const shortcut = { p: "previous", n: "next", t: "today", w: "week", m: "month" }[event.key];
    if (shortcut) {
      const link = document.querySelector(`[data-shortcut='${shortcut}']`);
      if (link) { event.preventDefault(); link.click(); }
    }
  });
  grid.addEventListener("focusin", function (event) {
    const cell = event.target.closest("td[data-date]");
    if (!cell) return;
    const index = cells.indexOf(cell);
    if (index >= 0 && index !== current) {
      cells[current].tabIndex = -1;
      current = index;
      cells[current].tabIndex = 0;
    }
  });
})();
