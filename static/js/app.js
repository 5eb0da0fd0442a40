// Behaviour attached from this file only: the Content-Security-Policy forbids inline
// handlers and hx-on, so every listener is added here.
document.addEventListener("DOMContentLoaded", () => {
  // Messages fade after a while; errors stay until the user acts.
  for (const message of document.querySelectorAll(".message-success, .message-info")) {
    setTimeout(() => message.remove(), 6000);
  }
});
