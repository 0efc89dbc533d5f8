/* nurtured's dashboard: the little script it has. Every page works without it; it only
 * asks before a form that changes something is sent, and refreshes figures now and then. */
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
    });
  });
  var auto = document.getElementById("autorefresh");
  if (auto) {
    var seconds = parseInt(auto.getAttribute("data-seconds"), 10) || 30;
    window.setTimeout(function () {
      /* Not while someone types into a form. */
      var a = document.activeElement;
      if (!a || (a.tagName !== "INPUT" && a.tagName !== "SELECT")) window.location.reload();
    }, seconds * 1000);
  }
});
