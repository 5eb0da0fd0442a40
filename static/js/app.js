// Behaviour attached from this file only: the Content-Security-Policy forbids inline
// handlers and hx-on, so every listener is added here.
document.addEventListener("DOMContentLoaded", () => {
  // Messages fade after a while; errors stay until the user acts.
  for (const message of document.querySelectorAll(".message-success, .message-info")) {
    setTimeout(() => message.remove(), 6000);
  }
});

// Inline validation: remember which fields the user has touched, so that checking the
// form on a change only complains about those.
document.addEventListener("change", (event) => {
  const form = event.target.closest("form.record-form");
  if (!form || !event.target.name) return;
  const touched = form.querySelector("input[name=_touched]");
  const names = new Set(touched.value.split(",").filter(Boolean));
  names.add(event.target.name);
  touched.value = [...names].join(",");
});

// The pipeline board: drag a card to another column to move the deal. Open stages move at
// once; a won or lost stage first asks for the close date (and the reason) in a dialog.
// Without a mouse, each card's stage menu does the same (it is an ordinary form).
function boardInit() {
  const board = document.getElementById("board");
  if (!board || typeof Sortable === "undefined") return;
  for (const list of board.querySelectorAll(".cards")) {
    Sortable.create(list, {
      group: "board",
      draggable: ".deal-card.movable",
      animation: 120,
      direction: "vertical",
      forceFallback: true, // mouse and touch events: the same on every device
      fallbackOnBody: true,
      onEnd(event) {
        if (event.from === event.to) return;
        const card = event.item;
        const csrf = card.querySelector("input[name=csrfmiddlewaretoken]");
        // The answer is the card itself (its new version) and the two columns' counts and
        // sums; a conflict or a close dialog retargets itself.
        htmx.ajax("POST", card.dataset.moveUrl, {
          target: card,
          swap: "outerHTML",
          values: {
            stage: event.to.dataset.stage,
            version: card.dataset.version,
            board_query: board.dataset.boardQuery || "",
            swap: "card",
            csrfmiddlewaretoken: csrf ? csrf.value : "",
          },
        });
      },
    });
  }
}

document.addEventListener("DOMContentLoaded", boardInit);
document.addEventListener("htmx:afterSettle", (event) => {
  if (event.target.id === "board") {
    boardInit();
    const dialog = document.getElementById("close-dialog");
    if (dialog && dialog.open) dialog.close();
  }
  if (event.target.id === "close-dialog" && !event.target.open) {
    event.target.showModal();
    const first = event.target.querySelector("input[type=date], input[name=lost_reason]");
    if (first) first.focus();
  }
});
document.addEventListener("click", (event) => {
  const cancel = event.target.closest("#close-dialog .cancel-move");
  if (!cancel) return;
  event.preventDefault();
  const dialog = document.getElementById("close-dialog");
  dialog.close();
  // Put the dragged card back where the server says it is.
  const board = document.getElementById("board");
  htmx.ajax("GET", `${window.location.pathname}?${board.dataset.boardQuery || ""}`, {
    target: "#board", swap: "outerHTML",
  });
});

// Bulk actions on list pages: the header box ticks the page's rows; the bar says how many
// are ticked ("all matching the filter" sends the filter instead of the rows).
document.addEventListener("change", (event) => {
  const form = event.target.closest("form[data-bulk-form]");
  if (!form) return;
  const rows = form.querySelectorAll("input[name=ids]");
  if (event.target.matches("[data-bulk-page]")) {
    for (const box of rows) box.checked = event.target.checked;
  }
  const ticked = [...rows].filter((box) => box.checked).length;
  const all = form.querySelector("input[name=all]");
  const count = form.querySelector("[data-bulk-count]");
  if (count) {
    count.textContent = all && all.checked
      ? all.parentElement.textContent.trim()
      : ticked ? `${ticked.toLocaleString(document.documentElement.lang)} ✓` : count.dataset.none;
  }
});
