// Sortable tables for the FVQA leaderboard. No dependencies, no network.
// Each header of a table.sortable holds a <button class="sort"> (reachable with Tab, pressed with
// Enter or Space). A press sorts the rows by that column's data-sort values: first in the
// column's data-first direction, then alternating. Empty values always sort last. The header's
// aria-sort tells assistive technology the current order; #sort-status announces it.
"use strict";

(function () {
  function sortValue(row, column, kind) {
    const cell = row.cells[column];
    const raw = cell ? cell.getAttribute("data-sort") : null;
    if (raw === null || raw === "") {
      return null;
    }
    if (kind === "num") {
      const number = Number(raw);
      return Number.isNaN(number) ? null : number;
    }
    return raw.toLowerCase();
  }

  function sortRows(table, column, kind, direction) {
    const body = table.tBodies[0];
    const sign = direction === "ascending" ? 1 : -1;
    const entries = Array.from(body.rows).map(function (row, index) {
      return { row: row, index: index, value: sortValue(row, column, kind) };
    });
    entries.sort(function (a, b) {
      if (a.value === null || b.value === null) {
        if (a.value === b.value) {
          return a.index - b.index;
        }
        return a.value === null ? 1 : -1;
      }
      if (a.value < b.value) {
        return -sign;
      }
      if (a.value > b.value) {
        return sign;
      }
      return a.index - b.index;
    });
    entries.forEach(function (entry) {
      body.appendChild(entry.row);
    });
  }

  function announce(table, label, direction) {
    const status = document.getElementById("sort-status");
    if (status) {
      const caption = table.caption ? table.caption.textContent : table.id;
      status.textContent = caption + ": sorted by " + label + ", " + direction;
    }
  }

  function setUp(table) {
    const buttons = table.querySelectorAll("thead button.sort");
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        const header = button.closest("th");
        const current = header.getAttribute("aria-sort");
        let next = button.dataset.first || "descending";
        if (current === "ascending") {
          next = "descending";
        } else if (current === "descending") {
          next = "ascending";
        }
        table.querySelectorAll("thead th").forEach(function (other) {
          other.setAttribute("aria-sort", "none");
        });
        header.setAttribute("aria-sort", next);
        sortRows(table, Number(button.dataset.col), button.dataset.kind, next);
        announce(table, button.textContent.trim(), next);
      });
    });
  }

  document.querySelectorAll("table.sortable").forEach(setUp);
})();
