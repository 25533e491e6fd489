// The order queue's countdowns: each ticks down from the figures the server rendered (its own
// time, the clock's start and the deadline, in ms), and shows the marks at 50 % and 90 % of the
// time and overdue as they are crossed. Nothing is fetched; the server's page stays the record.
(function () {
  "use strict";
  const clocks = Array.from(document.querySelectorAll(".countdown[data-running='true']"));
  if (!clocks.length) return;
  const loaded = Date.now();

  function span(ms) {
    const total = Math.floor(ms / 1000);
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    return h + " h " + String(m).padStart(2, "0") + " min " + String(s).padStart(2, "0") + " s";
  }

  function level(share, left) {
    if (left <= 0) return 100;
    if (share >= 0.9) return 90;
    if (share >= 0.5) return 50;
    return 0;
  }

  function tick() {
    const elapsed = Date.now() - loaded;
    clocks.forEach((clock) => {
      const now = Number(clock.dataset.now) + elapsed;
      const started = Number(clock.dataset.started);
      const deadline = Number(clock.dataset.deadline);
      const left = deadline - now;
      const share = deadline > started ? (now - started) / (deadline - started) : 1;
      const reached = level(share, left);
      clock.querySelector(".remaining").textContent =
        left > 0 ? span(left) : "overdue by " + span(-left);
      const mark = clock.querySelector(".mark");
      mark.hidden = reached === 0;
      mark.textContent = reached === 100 ? "overdue" : reached ? reached + " %" : "";
      mark.classList.toggle("warn", reached === 50);
      mark.classList.toggle("late", reached >= 90);
      [0, 50, 90, 100].forEach((n) => clock.classList.toggle("level-" + n, n === reached));
    });
  }

  tick();
  window.setInterval(tick, 1000);
})();
