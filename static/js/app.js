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
