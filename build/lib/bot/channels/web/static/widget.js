/* The web chat's widget: the one script a page of the partnership's site includes,
 *
 *   <script src="https://ASSISTANT/widget.js" defer></script>
 *
 * (a partnership other than the installation's default: https://ASSISTANT/site/KEY/widget.js).
 * It adds a button that opens the chat panel (a frame served by the assistant, so the page
 * never sees the conversation and the panel's own security rules apply) and closes it again.
 * Optional attributes on the script tag: data-label (the button's text), data-title (the
 * panel's name for screen readers). The panel stays open across the page's reloads.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || document.getElementById("sa-launcher")) return;
  var source = new URL(script.src, document.baseURI);
  var origin = source.origin; // who the panel's messages must come from
  // Where this partnership's chat lives: the widget's own address without "/widget.js".
  var base = origin + source.pathname.replace(/\/widget\.js$/, "");
  var label = script.getAttribute("data-label") || "Ask the safeguarding assistant";
  var title = script.getAttribute("data-title") || "Chat with the safeguarding assistant";
  var remembered = "sa-chat-open";

  ["/chat/theme.css", "/chat/static/widget.css"].forEach(function (path) {
    var sheet = document.createElement("link");
    sheet.rel = "stylesheet";
    sheet.href = base + path;
    document.head.appendChild(sheet);
  });

  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.id = "sa-launcher";
  launcher.className = "sa-launcher";
  launcher.textContent = label;
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "sa-chat");

  var box = document.createElement("div");
  box.id = "sa-chat";
  box.className = "sa-chat";
  box.setAttribute("role", "region");
  box.setAttribute("aria-label", title);
  box.hidden = true;
  var frame = null;

  function remember(open) {
    try {
      if (open) window.sessionStorage.setItem(remembered, "1");
      else window.sessionStorage.removeItem(remembered);
    } catch (error) {
      /* storage is off: the panel simply starts closed */
    }
  }

  function focusPanel() {
    frame.focus();
    frame.contentWindow.postMessage("sa:focus", origin);
  }

  function open(takeFocus) {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.className = "sa-frame";
      frame.title = title;
      frame.src = base + "/chat";
      if (takeFocus) frame.addEventListener("load", focusPanel, { once: true });
      box.appendChild(frame);
    } else if (takeFocus) {
      focusPanel();
    }
    box.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    document.documentElement.classList.add("sa-chat-open");
    remember(true);
  }

  function close() {
    box.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    document.documentElement.classList.remove("sa-chat-open");
    remember(false);
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (box.hidden) open(true);
    else close();
  });

  window.addEventListener("message", function (event) {
    if (frame && event.origin === origin && event.source === frame.contentWindow) {
      if (event.data === "sa:close") close();
    }
  });

  document.body.appendChild(box);
  document.body.appendChild(launcher);
  var wasOpen = false;
  try {
    wasOpen = window.sessionStorage.getItem(remembered) === "1";
  } catch (error) {
    wasOpen = false;
  }
  if (wasOpen) open(false);
})();
