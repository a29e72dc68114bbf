// The Kanban board: drag and drop between stages (HTML5 DnD) and keyboard moves (Alt+←/→ on a focused card, or
// its "Move to" list). Each move POSTs to the deal's move URL and then re-reads the board, so counts and totals
// always come from the server. Without JavaScript the "Move to" lists still work as plain forms.
// Live updates: every POLL_MS an open, visible board asks for its version (a fingerprint of what this member sees)
// and re-reads itself only when it changed, so a move on one screen shows on every other one within seconds.
(function () {
  "use strict";
  var POLL_MS = 4000;
  var busy = false;  // a drag or a move in flight: never swap the board under the user's hand

  function csrfToken() {
    var headers = document.body.getAttribute("hx-headers");
    try { return JSON.parse(headers)["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function announce(text) {
    var status = document.getElementById("kith-board-status");
    if (status) { status.textContent = text; }
  }

  function reasonFor(kind, name) {
    if (kind !== "lost") { return ""; }
    var reason = window.prompt("Why was “" + name + "” lost?");
    return reason === null ? null : reason.trim();
  }

  function refresh(focusId) {
    var active = document.activeElement;
    var keepFocus = focusId || (active && active.closest && active.closest(".kith-deal-card") ?
      active.closest(".kith-deal-card").dataset.dealId : null);
    focusId = keepFocus;
    return fetch(window.location.href, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("kith-board");
        var board = document.getElementById("kith-board");
        if (fresh && board) { board.replaceWith(fresh); bind(fresh); }
        if (focusId) {
          var card = document.querySelector('.kith-deal-card[data-deal-id="' + focusId + '"]');
          if (card) { card.focus(); }
        }
      });
  }

  function move(card, stageId, position) {
    var column = document.querySelector('.kith-board-column[data-stage-id="' + stageId + '"]');
    var kind = column ? column.dataset.stageKind : "";
    var stageName = column ? column.dataset.stageName : "";
    var reason = reasonFor(kind, card.dataset.dealName);
    if (reason === null || (kind === "lost" && !reason)) { return refresh(card.dataset.dealId); }
    var body = new FormData();
    body.append("stage", stageId);
    if (position !== null && position !== undefined) { body.append("position", String(position)); }
    if (reason) { body.append("lost_reason", reason); }
    card.classList.add("is-moving");
    busy = true;
    return fetch(card.dataset.moveUrl, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (data) {
        announce(response.ok ? card.dataset.dealName + " moved to " + stageName + "." : data.error);
        return refresh(card.dataset.dealId);
      });
    }).finally(function () { busy = false; });
  }

  function dropIndex(list, y) {
    var cards = Array.prototype.filter.call(list.children, function (el) { return !el.classList.contains("is-dragging"); });
    for (var i = 0; i < cards.length; i++) {
      var box = cards[i].getBoundingClientRect();
      if (y < box.top + box.height / 2) { return i; }
    }
    return cards.length;
  }

  function bind(board) {
    if (board.dataset.canWrite !== "1") { return; }
    var dragged = null;
    board.querySelectorAll(".kith-deal-card").forEach(function (card) {
      card.addEventListener("dragstart", function (event) {
        dragged = card;
        busy = true;
        card.classList.add("is-dragging");
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", card.dataset.dealId);
      });
      card.addEventListener("dragend", function () {
        busy = false;
        card.classList.remove("is-dragging");
        board.querySelectorAll(".is-drop-target").forEach(function (el) { el.classList.remove("is-drop-target"); });
      });
      card.addEventListener("keydown", function (event) {
        if (event.target !== card || !event.altKey || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) { return; }
        event.preventDefault();
        var columns = Array.prototype.slice.call(board.querySelectorAll(".kith-board-column"));
        var here = columns.indexOf(card.closest(".kith-board-column"));
        var next = columns[here + (event.key === "ArrowRight" ? 1 : -1)];
        if (next) { move(card, next.dataset.stageId, null); }
      });
      var select = card.querySelector("select[data-kith-move]");
      if (select) {
        select.addEventListener("change", function () { move(card, select.value, null); });
      }
    });
    board.querySelectorAll(".kith-board-cards").forEach(function (list) {
      list.addEventListener("dragover", function (event) {
        if (!dragged) { return; }
        event.preventDefault();
        event.dataTransfer.dropEffect = "move";
        list.classList.add("is-drop-target");
      });
      list.addEventListener("dragleave", function (event) {
        if (!list.contains(event.relatedTarget)) { list.classList.remove("is-drop-target"); }
      });
      list.addEventListener("drop", function (event) {
        event.preventDefault();
        list.classList.remove("is-drop-target");
        if (!dragged) { return; }
        var card = dragged;
        dragged = null;
        var index = dropIndex(list, event.clientY);
        var siblings = list.children;
        list.insertBefore(card, siblings[index] || null);
        move(card, list.dataset.stageId, index);
      });
    });
  }

  function poll() {
    var board = document.getElementById("kith-board");
    if (!board || busy || document.visibilityState !== "visible" || !board.dataset.versionUrl) { return; }
    var active = document.activeElement;
    if (active && active.tagName === "SELECT" && board.contains(active)) { return; }  // a "Move to" list is open
    fetch(board.dataset.versionUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        var current = document.getElementById("kith-board");
        if (!data || busy || !current || data.version === current.dataset.version) { return; }
        return refresh(null).then(function () { announce("The board was updated."); });
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var board = document.getElementById("kith-board");
    if (board) { bind(board); window.setInterval(poll, POLL_MS); }
  });
})();
