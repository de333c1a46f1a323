// Keyboard use of the task pages (nothing here is needed: every task works with a mouse or Tab).
// Rate: 1-5 rate the highlighted scale and move to the next. Flag: 1-7 tick a problem.
// Enter sends (Ctrl+Enter inside a text box); Esc skips the task.
(function () {
  function typing(target) {
    return /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) && target.type !== "radio" && target.type !== "checkbox";
  }

  function currentScale() {
    var scales = document.querySelectorAll("fieldset.scale");
    for (var i = 0; i < scales.length; i++) {
      if (scales[i].classList.contains("current")) return scales[i];
    }
    return scales[0] || null;
  }

  function highlight(scale) {
    document.querySelectorAll("fieldset.scale").forEach(function (s) { s.classList.toggle("current", s === scale); });
  }

  document.addEventListener("DOMContentLoaded", function () { highlight(currentScale()); });

  document.addEventListener("keydown", function (event) {
    var form = document.getElementById("task-form");
    if (!form || event.altKey || event.metaKey) return;
    if (event.key === "Enter" && (event.ctrlKey || !typing(event.target)) && !event.isComposing) {
      if (event.target.tagName === "TEXTAREA" && !event.ctrlKey) return;
      event.preventDefault();
      form.requestSubmit();
      return;
    }
    if (typing(event.target) || event.ctrlKey) return;
    if (event.key === "Escape") {
      event.preventDefault();
      document.getElementById("skip-task").click();
      return;
    }
    var kind = document.getElementById("task").dataset.kind;
    if (kind === "rate" && /^[1-5]$/.test(event.key)) {
      var scale = currentScale();
      if (!scale) return;
      event.preventDefault();
      scale.querySelector('input[value="' + event.key + '"]').checked = true;
      var scales = Array.prototype.slice.call(document.querySelectorAll("fieldset.scale"));
      highlight(scales[scales.indexOf(scale) + 1] || scale);
    } else if (kind === "rate" && event.key === "Backspace") {
      var all = Array.prototype.slice.call(document.querySelectorAll("fieldset.scale"));
      var index = all.indexOf(currentScale());
      if (index > 0) { event.preventDefault(); highlight(all[index - 1]); }
    } else if (kind === "flag" && /^[1-9]$/.test(event.key)) {
      var box = document.querySelectorAll('.flag-options input[type="checkbox"]')[Number(event.key) - 1];
      if (box) { event.preventDefault(); box.checked = !box.checked; }
    }
  });

  document.addEventListener("click", function (event) {
    var scale = event.target.closest && event.target.closest("fieldset.scale");
    if (scale) highlight(scale);
  });
})();
