/* The search box: arrow keys move through the suggestions, Enter opens the highlighted one (or the results page),
 * Escape closes the list, "/" anywhere focuses the box. On the results page the arrow keys walk the results.
 * Without JavaScript the box is a plain GET form to /search/. */
(function () {
  "use strict";
  if (window.kithSearchReady) return;
  window.kithSearchReady = true;

  function options(list) { return Array.prototype.slice.call(list.querySelectorAll("[role=option]")); }

  function setActive(input, list, index) {
    var items = options(list);
    items.forEach(function (el) { el.classList.remove("active"); el.removeAttribute("aria-selected"); });
    if (index < 0 || !items.length) { input.removeAttribute("aria-activedescendant"); return; }
    var item = items[Math.min(index, items.length - 1)];
    item.classList.add("active");
    item.setAttribute("aria-selected", "true");
    input.setAttribute("aria-activedescendant", item.id);
    item.scrollIntoView({ block: "nearest" });
  }

  function activeIndex(list) { return options(list).findIndex(function (el) { return el.classList.contains("active"); }); }

  function open(input, list, yes) {
    list.classList.toggle("show", yes && list.children.length > 0);
    input.setAttribute("aria-expanded", yes && list.children.length > 0 ? "true" : "false");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("kith-search-input");
    var list = document.getElementById("kith-search-suggestions");
    if (input && list) {
      document.body.addEventListener("htmx:afterSwap", function (event) {
        if (event.detail.target !== list) return;
        open(input, list, document.activeElement === input && input.value.trim() !== "");
        setActive(input, list, -1);
      });
      input.addEventListener("keydown", function (event) {
        var items = options(list), index = activeIndex(list);
        if (event.key === "ArrowDown" && items.length) {
          event.preventDefault(); open(input, list, true); setActive(input, list, index + 1 >= items.length ? 0 : index + 1);
        } else if (event.key === "ArrowUp" && items.length) {
          event.preventDefault(); setActive(input, list, index <= 0 ? items.length - 1 : index - 1);
        } else if (event.key === "Enter" && index >= 0) {
          event.preventDefault(); window.location.href = items[index].href;
        } else if (event.key === "Escape" && list.classList.contains("show")) {
          // The first Escape closes the list; the browser's own (clearing a search field) is left for a second one.
          event.preventDefault(); open(input, list, false); setActive(input, list, -1);
        }
      });
      input.addEventListener("blur", function () { setTimeout(function () { open(input, list, false); }, 150); });
      input.addEventListener("focus", function () { open(input, list, input.value.trim() !== ""); });
    }

    document.addEventListener("keydown", function (event) {
      var tag = (event.target.tagName || "").toLowerCase();
      var typing = tag === "input" || tag === "textarea" || tag === "select" || event.target.isContentEditable;
      if (event.key === "/" && !typing && input) { event.preventDefault(); input.focus(); input.select(); return; }
      var results = document.querySelector("[data-kith-search-results]");
      if (!results || typing || (event.key !== "ArrowDown" && event.key !== "ArrowUp")) return;
      var links = Array.prototype.slice.call(results.querySelectorAll(".kith-search-result"));
      if (!links.length) return;
      event.preventDefault();
      var at = links.indexOf(document.activeElement);
      var next = event.key === "ArrowDown" ? (at + 1) % links.length : (at <= 0 ? links.length - 1 : at - 1);
      links[next].focus();
    });
  });
})();
