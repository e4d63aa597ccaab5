/* Small behaviours of the dashboard's forms, kept out of the templates: the Content-Security-Policy
 * allows no inline script or event handler attribute.
 *   <select data-autosubmit>: submits its form as soon as the choice changes (project pickers).
 */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-autosubmit]") && field.form) field.form.submit();
  });
})();
