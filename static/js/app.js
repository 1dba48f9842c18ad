// ERP Integrations: the little the page needs beyond htmx.
//
// Replies htmx swaps carry their own message (403, 409, 422, 502 are swapped, see the
// htmx-config meta tag). What is left are failures with no useful body: an unexpected
// server error or a lost connection. Say so in the page's message area instead of
// leaving the button to do nothing.
(function () {
  "use strict";

  function flash(text) {
    var area = document.getElementById("flash");
    if (!area) {
      return;
    }
    var message = document.createElement("p");
    message.className = "msg msg-error";
    message.setAttribute("data-testid", "flash-message");
    message.textContent = text;
    area.replaceChildren(message);
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    // Refusals (4xx, 502) are swapped into the page with their message and do not
    // come here; what does is a reply with no useful body.
    if (status >= 500) {
      flash("Something went wrong on our side (error " + status + "). Reload the page to see the current state, then try again.");
    }
  });

  // After Unlink, Export or Reject the row (or the message left where it was) is swapped
  // in. Focus moves to its message, so the keyboard carries on from the row rather than
  // from the top of the page, and the message's words are copied into the page's one
  // live region (#flash) to be announced once. Messages in the page when it loaded
  // (a plain form's outcome) are not announced again by a later swap.
  var ANNOUNCED = "data-announced";
  var MESSAGES = '[data-testid="row-message"], [data-testid="sync-message"]';

  function markAll() {
    document.querySelectorAll(MESSAGES).forEach(function (element) {
      element.setAttribute(ANNOUNCED, "");
    });
  }

  function announce(text) {
    var area = document.getElementById("flash");
    if (!area) {
      return;
    }
    var spoken = area.querySelector('[data-testid="announcement"]');
    if (!spoken) {
      spoken = document.createElement("p");
      spoken.className = "visually-hidden";
      spoken.setAttribute("data-testid", "announcement");
      area.appendChild(spoken);
    }
    spoken.textContent = text.replace(/\s+/g, " ").trim();
  }

  document.addEventListener("DOMContentLoaded", markAll);

  document.addEventListener("htmx:afterSettle", function () {
    var fresh = Array.prototype.filter.call(document.querySelectorAll(MESSAGES), function (element) {
      return !element.hasAttribute(ANNOUNCED);
    });
    fresh.forEach(function (element) {
      element.setAttribute(ANNOUNCED, "");
    });
    if (!fresh.length) {
      return;
    }
    announce(fresh.map(function (element) { return element.textContent; }).join(" "));
    var rowMessage = fresh.find(function (element) {
      return element.getAttribute("data-testid") === "row-message";
    });
    if (rowMessage) {
      rowMessage.focus();
    }
  });

  document.addEventListener("htmx:sendError", function () {
    flash("The server could not be reached. Check your connection and try again.");
  });

  // Paging a list (its First / Previous / Next links name the list in data-pager-for):
  // the new page replaces the old one in place, so bring the list's top into view and
  // put focus on its first new row, where reading continues. Without this, focus falls
  // to the page (the link that had it is gone) and the next Tab starts over at the top.
  document.addEventListener("htmx:afterSettle", function (event) {
    var config = event.detail.requestConfig;
    var source = config && config.elt;
    var listId = source && source.getAttribute ? source.getAttribute("data-pager-for") : null;
    var list = listId ? document.getElementById(listId) : null;
    if (!list) {
      return;
    }
    list.scrollIntoView({ block: "start" });
    var row = list.querySelector("table.records > tbody > tr");
    if (row) {
      row.setAttribute("tabindex", "-1");
      row.focus({ preventScroll: true });
    }
  });

  document.addEventListener("htmx:timeout", function () {
    flash("The server took too long to answer. Reload the page to see the current state.");
  });

  // Reject's reason comes as a <dialog> next to the row's Reject link when the link is
  // opened (erp/reject.html#reject_dialog). Open it as a modal: the reason field takes
  // focus (autofocus), Esc closes it (the browser's own cancel), and so does Cancel.
  // Closed, it goes away and focus returns to the link, which fetches a fresh one.
  document.addEventListener("htmx:load", function (event) {
    var dialog = event.detail.elt;
    if (!(dialog instanceof HTMLDialogElement) || !dialog.classList.contains("reject-dialog")) {
      return;
    }
    var opener = dialog.previousElementSibling;
    dialog.addEventListener("close", function () {
      dialog.remove();
      if (opener && opener.isConnected) {
        opener.focus();
      }
    });
    dialog.addEventListener("click", function (click) {
      if (click.target.closest("[data-dialog-close]")) {
        dialog.close();
      }
    });
    dialog.showModal();
  });

  // The sync panel's relative times ("12 minutes ago", "in 48 minutes"), kept current
  // between polls: a poll answered 304 brings back the panel as it was first sent.
  // The words are Django's timesince / timeuntil (two adjacent units, no-break spaces).
  var UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];

  function duration(seconds) {
    function part(count, name) {
      return count + "\u00a0" + name + (count === 1 ? "" : "s");
    }
    seconds = Math.max(0, Math.floor(seconds));
    for (var i = 0; i < UNITS.length; i++) {
      var count = Math.floor(seconds / UNITS[i][1]);
      if (count > 0) {
        var text = part(count, UNITS[i][0]);
        if (i + 1 < UNITS.length) {
          var next = Math.floor((seconds - count * UNITS[i][1]) / UNITS[i + 1][1]);
          if (next > 0) {
            text += ", " + part(next, UNITS[i + 1][0]);
          }
        }
        return text;
      }
    }
    return part(0, "minute");
  }

  function refreshRelativeTimes() {
    var now = Date.now();
    document.querySelectorAll("[data-ago]").forEach(function (element) {
      var seconds = (now - Date.parse(element.getAttribute("data-ago"))) / 1000;
      if (!isNaN(seconds)) {
        element.textContent = seconds < 60 ? "just now" : duration(seconds) + " ago";
      }
    });
    document.querySelectorAll("[data-until]").forEach(function (element) {
      var seconds = (Date.parse(element.getAttribute("data-until")) - now) / 1000;
      if (!isNaN(seconds)) {
        element.textContent = duration(seconds);
      }
    });
  }

  document.addEventListener("htmx:afterSettle", refreshRelativeTimes);
  setInterval(refreshRelativeTimes, 30000);
})();
