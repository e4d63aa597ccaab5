/* Small behaviours of the dashboard's forms, kept out of the templates: the Content-Security-Policy
 * allows no inline script or event handler attribute.
 *   <select data-autosubmit>: submits its form as soon as the choice changes (project pickers).
 *   .menu-toggle in the header: on a phone it shows, and opens or closes the menu it controls.
 */
(function () {
  "use strict";
  var toggle = document.querySelector(".topbar .menu-toggle");
  if (toggle) {
    var header = toggle.closest(".topbar");
    header.classList.add("collapsible");
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = header.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-autosubmit]") && field.form) field.form.submit();
  });
})();
