/* aiohttp_flashbag: flash messages, shown accessibly (docs/showing-flashes.rst).
 *
 * - Messages the page was rendered with wait in [data-flashbag-pending] (plain,
 *   visible content without this script) and are moved into the live regions
 *   after load, so that screen readers announce them: content already in a
 *   live region when the page loads is not read out.
 * - Messages htmx delivers in HX-Trigger (setup(app, htmx_event=...)) become
 *   toasts in the same regions: evt.detail.value holds the list.
 * - Level 40 and up (error) goes to the assertive region, the rest to the
 *   polite one. Errors and warnings are never dismissed automatically.
 * - Dismiss with the button or Escape. No inline script or style is needed.
 */
(function () {
  "use strict";

  var LEVELS = { debug: 10, info: 20, success: 25, warning: 30, error: 40 };
  var STYLES = ["success", "info", "warning", "error"];
  var LABELS = { success: "Success:", info: "Info:", warning: "Warning:", error: "Error:" };
  var ASSERTIVE_LEVEL = 40;
  var KEEP_LEVEL = 30; // warnings and errors stay until dismissed
  // Screen readers need the live regions in their tree before content comes.
  var ANNOUNCE_DELAY = 250;
  var listening = Object.create(null); // any event name, "constructor" too
  var shown = []; // messages in the order they were shown, for Escape

  function levelOf(element) {
    var level = parseInt(element.getAttribute("data-flashbag-level"), 10);
    return isNaN(level) ? 20 : level;
  }

  function regionFor(container, level) {
    var kind = level >= ASSERTIVE_LEVEL ? "assertive" : "polite";
    return container.querySelector('[data-flashbag-region="' + kind + '"]');
  }

  function reveal(message) {
    var button = message.querySelector("[data-flashbag-dismiss]");
    if (button) {
      button.hidden = false;
    }
    shown.push(message);
  }

  function announcePending(root) {
    var containers = (root || document).querySelectorAll("[data-flashbag]");
    containers.forEach(function (container) {
      listen(container);
      container.querySelectorAll("[data-flashbag-pending]").forEach(function (pending) {
        Array.prototype.slice.call(pending.children).forEach(function (message) {
          var region = regionFor(container, levelOf(message));
          if (region) {
            region.appendChild(message);
            reveal(message);
          }
        });
        pending.remove();
      });
    });
  }

  function dismiss(message) {
    var hadFocus = message.contains(document.activeElement);
    var index = shown.indexOf(message);
    if (index >= 0) {
      shown.splice(index, 1);
    }
    message.remove();
    if (hadFocus && shown.length) {
      var next = shown[shown.length - 1].querySelector("[data-flashbag-dismiss]");
      if (next) {
        next.focus();
      }
    }
  }

  // The area's own labels (render_messages(labels=...)), else the defaults.
  function labelOf(container, key, fallback) {
    var own = container.getAttribute("data-flashbag-label-" + key);
    return own === null ? fallback : own;
  }

  function toast(container, item) {
    var category = String(item.category);
    var level = typeof item.level === "number" ? item.level : LEVELS[category] || 20;
    var levelTag = item.level_tag ? String(item.level_tag) : category;
    var style = STYLES.indexOf(levelTag) >= 0 ? levelTag : "neutral";
    var tags = item.tags !== undefined ? String(item.tags) : category;
    var message = document.createElement("div");
    message.className = ("flashbag-message flashbag-toast flashbag-" + style + " " + tags).trim();
    message.setAttribute("data-flashbag-level", String(level));
    var words = labelOf(container, style, LABELS[style] || "");
    if (words) {
      var label = document.createElement("strong");
      label.className = "flashbag-label";
      label.textContent = words;
      message.appendChild(label);
    }
    var text = document.createElement("div");
    text.className = "flashbag-text";
    // text, never HTML; JSON data other than text shows as its JSON
    var body = item.message;
    text.textContent = typeof body === "string" ? body : JSON.stringify(body);
    message.appendChild(text);
    var button = document.createElement("button");
    button.type = "button";
    button.className = "flashbag-dismiss";
    button.setAttribute("data-flashbag-dismiss", "");
    button.setAttribute("aria-label", labelOf(container, "dismiss", "Dismiss"));
    var cross = document.createElement("span");
    cross.setAttribute("aria-hidden", "true");
    cross.textContent = "\u00d7";
    button.appendChild(cross);
    message.appendChild(button);
    var region = regionFor(container, level);
    if (!region) {
      return;
    }
    region.appendChild(message);
    reveal(message);
    var timeout = parseInt(container.getAttribute("data-flashbag-timeout"), 10);
    if (timeout > 0 && level < KEEP_LEVEL) {
      dismissLater(message, timeout);
    }
  }

  // Optional, for information only: paused while the pointer or the focus
  // is on the message (WCAG 2.2.1, Timing Adjustable).
  function dismissLater(message, timeout) {
    var timer = null;
    function start() {
      stop();
      timer = window.setTimeout(function () {
        dismiss(message);
      }, timeout);
    }
    function stop() {
      if (timer !== null) {
        window.clearTimeout(timer);
        timer = null;
      }
    }
    message.addEventListener("mouseenter", stop);
    message.addEventListener("focusin", stop);
    message.addEventListener("mouseleave", start);
    message.addEventListener("focusout", start);
    start();
  }

  function listen(container) {
    var name = container.getAttribute("data-flashbag-event");
    if (!name || listening[name]) {
      return;
    }
    listening[name] = true;
    document.body.addEventListener(name, function (evt) {
      var detail = evt.detail || {};
      var items = Array.isArray(detail.value) ? detail.value : [];
      var target = null; // compared, not put in a selector: any name works
      document.querySelectorAll("[data-flashbag]").forEach(function (container) {
        if (!target && container.getAttribute("data-flashbag-event") === name) {
          target = container;
        }
      });
      if (!target) {
        return;
      }
      items.forEach(function (item) {
        if (item && typeof item === "object") {
          toast(target, item);
        }
      });
    });
  }

  // keepPending: messages still waiting to be announced came with the page
  // from the server (not from a saved copy of it): they are new, and stay.
  function clearAll(keepPending) {
    document.querySelectorAll("[data-flashbag] .flashbag-message").forEach(function (message) {
      if (!(keepPending && message.closest("[data-flashbag-pending]"))) {
        message.remove();
      }
    });
    shown = [];
  }

  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest("[data-flashbag-dismiss]");
    if (button) {
      var message = button.closest(".flashbag-message");
      if (message) {
        dismiss(message);
      }
    }
  });

  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape" || evt.defaultPrevented || !shown.length) {
      return;
    }
    var active = document.activeElement;
    var focused = active && active.closest ? active.closest(".flashbag-message") : null;
    if (!focused && document.querySelector("dialog[open]")) {
      return; // Escape belongs to the dialog
    }
    dismiss(focused || shown[shown.length - 1]);
  });

  // htmx's history restore puts back the page as it was saved, messages
  // included: they were seen, so they go (no toast shown again on back). A
  // page missing from that cache is loaded from the server (cacheMiss): the
  // messages it comes with wait for the visitor, and stay.
  document.addEventListener("htmx:historyRestore", function (evt) {
    clearAll(Boolean(evt.detail && evt.detail.cacheMiss));
  });
  // The same for a page the browser restores from its back/forward cache.
  window.addEventListener("pageshow", function (evt) {
    if (evt.persisted) {
      clearAll(false);
    }
  });
  // Content htmx swaps in may bring its own messages.
  document.addEventListener("htmx:load", function (evt) {
    var root = evt.target;
    window.setTimeout(function () {
      announcePending(root.parentNode || document);
    }, ANNOUNCE_DELAY);
  });

  function start() {
    document.querySelectorAll("[data-flashbag]").forEach(listen);
    window.setTimeout(announcePending, ANNOUNCE_DELAY);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
