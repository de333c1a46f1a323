// The site menu on narrow screens: the header shows a Menu button that opens and closes the links.
// Without this script the links stay visible (the CSS hides them only under html.has-menu-button).
(function () {
  document.documentElement.classList.add("has-menu-button");

  function menuSet(header, button, open) {
    header.classList.toggle("menu-open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var header = document.querySelector(".site-header");
    var button = document.getElementById("menu-button");
    if (!header || !button) return;
    button.addEventListener("click", function () {
      menuSet(header, button, !header.classList.contains("menu-open"));
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && header.classList.contains("menu-open")) {
        menuSet(header, button, false);
        button.focus();
      }
    });
  });
})();
