// Keyboard shortcuts for the review console, so that a reviewer can work without the mouse.
// A decision key only chooses; Enter submits, Esc cancels: one stray key never decides a case.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]');
  const help = document.getElementById("help");
  const page = document.body.dataset.page;
  const queueUrl = document.body.dataset.queue || "/ui/queue";

  function typing(event) {
    const tag = event.target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  // Queue: j/k move the selection, Enter opens; rows are also clickable.
  const rows = Array.from(document.querySelectorAll("table.queue tbody tr"));
  let selected = 0;
  function select(index) {
    if (!rows.length) return;
    selected = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach((row, i) => row.classList.toggle("selected", i === selected));
    rows[selected].scrollIntoView({ block: "nearest" });
  }
  rows.forEach((row, i) => row.addEventListener("click", () => { window.location = row.dataset.href; }));

  // Case: reveal fetches the picture by POST (CSRF header) and shows it from a blob: URL.
  const revealButton = document.getElementById("reveal");
  const preview = document.getElementById("preview");
  const revealed = document.getElementById("revealed");
  let revealedUrl = null;
  async function toggleReveal() {
    if (!revealButton) return;
    if (revealedUrl) {
      URL.revokeObjectURL(revealedUrl);
      revealedUrl = null;
      revealed.hidden = true;
      revealed.removeAttribute("src");
      if (preview) preview.hidden = false;
      revealButton.firstChild.textContent = "Reveal ";
      return;
    }
    const response = await fetch(revealButton.dataset.url, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf ? csrf.content : "" },
      credentials: "same-origin",
    });
    if (response.status !== 200) return;
    revealedUrl = URL.createObjectURL(await response.blob());
    revealed.src = revealedUrl;
    revealed.hidden = false;
    if (preview) preview.hidden = true;
    revealButton.firstChild.textContent = "Blur again ";
  }
  if (revealButton) revealButton.addEventListener("click", toggleReveal);

  const form = document.getElementById("decide");
  const bar = document.getElementById("confirmbar");
  const field = document.getElementById("decision");
  const choices = Array.from(document.querySelectorAll(".choice"));
  function choose(button) {
    if (!form) return;
    choices.forEach((b) => b.classList.toggle("chosen", b === button));
    field.value = button.dataset.decision;
    // A choice may post elsewhere (data-action) and need a field filled in first (data-focus).
    if (!form.dataset.action) form.dataset.action = form.action;
    form.action = button.dataset.action || form.dataset.action;
    document.getElementById("chosen").textContent = button.textContent.replace(/^\s*\S+\s*/, "");
    bar.hidden = false;
    const needed = button.dataset.focus && document.getElementById(button.dataset.focus);
    if (needed) needed.focus();
  }
  function cancel() {
    if (!form) return;
    choices.forEach((b) => b.classList.remove("chosen"));
    field.value = "";
    bar.hidden = true;
  }
  choices.forEach((b) => b.addEventListener("click", () => choose(b)));

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      if (help && !help.hidden) help.hidden = true;
      else if (typing(event)) event.target.blur();
      else cancel();
      return;
    }
    if (typing(event)) return;
    if (event.key === "?") { if (help) help.hidden = !help.hidden; return; }
    if (page === "queue") {
      if (event.key === "j") select(selected + 1);
      else if (event.key === "k") select(selected - 1);
      else if (event.key === "Enter" && rows.length) window.location = rows[selected].dataset.href;
      return;
    }
    if (page !== "case") return;
    if (event.key === "q" || event.key === "u") { window.location = queueUrl; return; }
    if (event.key === "r") { event.preventDefault(); toggleReveal(); return; }
    if (event.key === "Enter" && form && field.value) { event.preventDefault(); form.submit(); return; }
    const button = choices.find((b) => b.dataset.key === event.key);
    if (button) { event.preventDefault(); choose(button); }
  });
})();
