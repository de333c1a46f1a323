// Enter sends the prompt; Shift+Enter starts a new line.
document.addEventListener("keydown", function (event) {
  var input = event.target;
  if (input.id !== "prompt-input" || event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  var button = document.getElementById("send-button");
  if (button && !button.disabled) input.form.requestSubmit();
});
