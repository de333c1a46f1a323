// Keyboard use of the arena.
// In the prompt: Enter sends, Shift+Enter starts a new line.
// Elsewhere, once the answers are complete: 1 = A is better, 2 = B is better, 3 = tie, 4 = both bad.
document.addEventListener("keydown", function (event) {
  var target = event.target;
  if (target.id === "prompt-input") {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    var button = document.getElementById("send-button");
    if (button && !button.disabled) target.form.requestSubmit();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
  var index = "1234".indexOf(event.key);
  if (index < 0) return;
  var vote = document.querySelectorAll("#vote-bar button.vote")[index];
  if (vote && !vote.disabled) {
    event.preventDefault();
    vote.click();
  }
});

// A reload shows the latest battle waiting for a vote; once a prompt is sent, drop "?new=1" or
// "?battle=<id>" from the address so a reload shows the battle just started.
document.addEventListener("htmx:wsAfterSend", function () {
  if (window.location.search) window.history.replaceState(null, "", window.location.pathname);
});
