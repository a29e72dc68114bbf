/* Kith UI behaviour: toasts, the shared confirmation modal, copy buttons, small form helpers.
 * Everything here is an enhancement: every page works with JavaScript off (forms post, links navigate). */
(function () {
  "use strict";

  var ICONS = {
    success: "bi-check-circle-fill",
    danger: "bi-exclamation-octagon-fill",
    warning: "bi-exclamation-triangle-fill",
    info: "bi-info-circle-fill"
  };

  function showToast(el) {
    if (!window.bootstrap) return;
    var autohide = el.getAttribute("data-kith-autohide") !== "false";
    var toast = window.bootstrap.Toast.getOrCreateInstance(el, { autohide: autohide, delay: 5000 });
    toast.show();
    el.addEventListener("hidden.bs.toast", function () { el.remove(); });
  }

  /* A toast from script, e.g. asked for by a server response's HX-Trigger header. */
  function toast(message, level) {
    var container = document.getElementById("kith-toasts");
    if (!container || !message) return;
    level = ICONS[level] ? level : "info";
    var urgent = level === "danger" || level === "warning";
    var el = document.createElement("div");
    el.className = "toast kith-toast kith-toast--" + level;
    el.setAttribute("role", urgent ? "alert" : "status");
    el.setAttribute("aria-live", urgent ? "assertive" : "polite");
    el.setAttribute("aria-atomic", "true");
    el.setAttribute("data-kith-autohide", urgent ? "false" : "true");
    var row = document.createElement("div");
    row.className = "d-flex align-items-start";
    var icon = document.createElement("i");
    icon.className = "bi " + ICONS[level] + " kith-toast-icon";
    icon.setAttribute("aria-hidden", "true");
    var body = document.createElement("div");
    body.className = "toast-body";
    body.textContent = message;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close me-2 mt-2";
    close.setAttribute("data-bs-dismiss", "toast");
    close.setAttribute("aria-label", "Dismiss");
    row.append(icon, body, close);
    el.appendChild(row);
    container.appendChild(el);
    showToast(el);
  }

  function copyFrom(button) {
    var target = document.querySelector(button.getAttribute("data-kith-copy"));
    if (!target) return;
    var label = button.querySelector("span") || button;
    var original = label.textContent;
    function done(ok) {
      label.textContent = ok ? "Copied" : "Press Ctrl+C";
      setTimeout(function () { label.textContent = original; }, 2000);
    }
    target.focus();
    target.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(target.value).then(function () { done(true); }, function () { done(false); });
    } else {
      // Plain-HTTP self-hosted installs have no async clipboard API; the legacy command still works there.
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      done(ok);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#kith-toasts .toast").forEach(showToast);

    document.body.addEventListener("kith:toast", function (event) {
      toast(event.detail && event.detail.message, event.detail && event.detail.level);
    });

    // A confirmation step loaded into the shared modal: open it and put focus on the confirm button.
    var modalEl = document.getElementById("kith-modal");
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (!modalEl || event.detail.target.id !== "kith-modal-content") return;
      var modal = window.bootstrap.Modal.getOrCreateInstance(modalEl);
      modal.show();
    });
    if (modalEl) {
      modalEl.addEventListener("shown.bs.modal", function () {
        var focus = modalEl.querySelector("[data-kith-autofocus]");
        if (focus) focus.focus();
      });
    }

    document.body.addEventListener("htmx:responseError", function (event) {
      var status = event.detail.xhr ? event.detail.xhr.status : 0;
      var message = status === 403 ? "You don't have permission to do that."
        : status === 404 ? "That item no longer exists. Reload the page."
        : "Something went wrong. Please try again.";
      toast(message, "danger");
    });
    document.body.addEventListener("htmx:sendError", function () {
      toast("Kith could not be reached. Check your connection and try again.", "danger");
    });

    document.addEventListener("click", function (event) {
      var copy = event.target.closest("[data-kith-copy]");
      if (copy) { event.preventDefault(); copyFrom(copy); return; }
      // "Invite people" jumps to the form; move keyboard focus into it as well.
      var jump = event.target.closest("[data-kith-focus]");
      if (jump) {
        var field = document.querySelector(jump.getAttribute("data-kith-focus"));
        if (field) setTimeout(function () { field.focus(); }, 0);
      }
    });

    document.querySelectorAll("[data-kith-select-on-focus]").forEach(function (input) {
      input.addEventListener("focus", function () { input.select(); });
    });
  });
})();
