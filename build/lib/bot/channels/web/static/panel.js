/* The chat panel: draws the conversation and sends what the user types or presses.
 *
 * Every message the server sends has a number; the panel shows each number once, in order,
 * and tells the server the last one it has shown whenever it (re)connects, so whatever it
 * missed is sent again and nothing is shown twice. A message the user sends keeps its own id
 * until the server says it has stored it; until then it is sent again after a reconnect (the
 * server recognises the id and handles it once). Everything is drawn with textContent:
 * markup in a message is shown as typed, never run. A WebSocket carries the conversation;
 * where one cannot be opened, plain HTTP requests do the same (long polling).
 */
(function () {
  "use strict";

  var log = document.getElementById("log");
  var statusLine = document.getElementById("status");
  var form = document.getElementById("composer");
  var input = document.getElementById("message");
  var errorLine = document.getElementById("message-error");
  var closeButton = document.getElementById("close");
  var urgentButton = document.getElementById("urgent");
  var framed = window.parent !== window;
  // The panel's own address (/chat, or /site/KEY/chat): its socket and API are below it.
  var chat = location.pathname.replace(/\/+$/, "");

  var shown = 0; // the number of the last message shown: what the panel acknowledges
  var unconfirmed = []; // messages sent and not yet confirmed as stored, oldest first
  var own = {}; // client id -> the element of a message this page sent
  var asked = {}; // client id -> the user's message on this page, to show above its answer
  var waiting = {}; // client id -> true until its answer has come
  var socket = null;
  var useHttp = !("WebSocket" in window) || /[?&]transport=http\b/.test(location.search);
  var failures = 0;
  var opened = false;
  var stopped = false;

  // --- drawing ---------------------------------------------------------------------------

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function hidden(text) {
    return element("span", "visually-hidden", text);
  }

  // Addresses and email addresses in a text become links; everything else stays text.
  var ADDRESS = /(https?:\/\/[^\s<>"]+|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})/g;

  function linked(text) {
    var fragment = document.createDocumentFragment();
    var last = 0;
    text.replace(ADDRESS, function (match, _whole, offset) {
      var address = match.replace(/[.,;:)\]]+$/, "");
      fragment.appendChild(document.createTextNode(text.slice(last, offset)));
      var link = element("a", null, address);
      if (/^https?:/.test(address)) {
        link.href = address;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        link.appendChild(hidden(" (opens in a new tab)"));
      } else {
        link.href = "mailto:" + address;
      }
      fragment.appendChild(link);
      last = offset + address.length;
      return match;
    });
    fragment.appendChild(document.createTextNode(text.slice(last)));
    return fragment;
  }

  function paragraphs(text, into) {
    text.split(/\n{2,}/).forEach(function (block) {
      if (!block.trim()) return;
      var paragraph = element("p", "message-text");
      paragraph.appendChild(linked(block));
      into.appendChild(paragraph);
    });
  }

  // After new messages, the first of them (or the question they answer) is brought to the
  // top of the log, as far as it goes: a long answer is read from its beginning, not found
  // scrolled past.
  var scrollTarget = null;

  function reveal(bubble) {
    if (scrollTarget) return;
    scrollTarget = bubble;
    window.requestAnimationFrame(function () {
      var top = scrollTarget.offsetTop - 8;
      scrollTarget = null;
      log.scrollTop = Math.min(top, log.scrollHeight - log.clientHeight);
    });
  }

  function drawAssistant(body) {
    var bubble = element("div", "message message-assistant");
    if (body.kind === "urgent") bubble.className += " message-urgent";
    // What the message is, for the page's tests and styles (never drawn as text).
    bubble.setAttribute("data-kind", body.kind || "");
    if (body.last) bubble.setAttribute("data-last", "true");
    bubble.appendChild(hidden("The assistant said: "));
    if (body.title) bubble.appendChild(element("h2", "message-title", body.title));
    paragraphs(body.text || "", bubble);
    if (body.links && body.links.length) {
      var list = element("ul", "message-links");
      body.links.forEach(function (link) {
        var item = element("li");
        var anchor = element("a", null, link.label);
        anchor.href = link.url;
        anchor.target = "_blank";
        anchor.rel = "noopener noreferrer";
        anchor.appendChild(hidden(" (opens in a new tab)"));
        item.appendChild(anchor);
        list.appendChild(item);
      });
      bubble.appendChild(list);
    }
    if (body.buttons && body.buttons.length) {
      var group = element("div", "message-buttons");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", body.title ? "Options: " + body.title : "Options");
      body.buttons.forEach(function (choice) {
        var button = element("button", "button-choice", choice.label);
        button.type = "button";
        button.addEventListener("click", function () {
          say(choice.data, true, choice.label);
        });
        group.appendChild(button);
      });
      bubble.appendChild(group);
    }
    return bubble;
  }

  function drawUser(text) {
    var bubble = element("div", "message message-user");
    bubble.appendChild(hidden("You said: "));
    if (text === null) {
      bubble.appendChild(
        element("p", "message-text message-unkept", "(Your message was sent. It is not kept here.)")
      );
    } else {
      var paragraph = element("p", "message-text", text);
      bubble.appendChild(paragraph);
    }
    return bubble;
  }

  function show(message) {
    if (message.seq <= shown) return; // shown already (a message sent again after a reconnect)
    shown = message.seq;
    var body = message.body || {};
    if (message.role === "user") {
      var mine = body.client_id && own[body.client_id];
      if (mine) {
        mine.setAttribute("data-seq", String(message.seq));
        delete own[body.client_id];
        return;
      }
      var bubble = drawUser(body.text === undefined ? null : body.text);
      bubble.setAttribute("data-seq", String(message.seq));
      log.appendChild(bubble);
      if (body.client_id) asked[body.client_id] = bubble;
      reveal(bubble);
    } else {
      var reply = drawAssistant(body);
      reply.setAttribute("data-seq", String(message.seq));
      log.appendChild(reply);
      // An answer is read with its question above it, when both fit.
      reveal((body.reply_to && asked[body.reply_to]) || reply);
      if (body.last && body.reply_to) delete asked[body.reply_to];
      if (body.reply_to && body.last) delete waiting[body.reply_to];
    }
    if (!Object.keys(waiting).length) setStatus("");
  }

  function setStatus(text) {
    if (statusLine.textContent !== text) statusLine.textContent = text;
  }

  function setError(text) {
    errorLine.textContent = text;
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  // --- sending ---------------------------------------------------------------------------

  function newId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
  }

  function say(text, pressed, label) {
    var id = newId();
    var payload = { type: "say", id: id, text: text, pressed: !!pressed, label: label || null };
    var bubble = drawUser(pressed ? label : text);
    own[id] = bubble;
    asked[id] = bubble;
    log.appendChild(bubble);
    reveal(bubble);
    unconfirmed.push(payload);
    waiting[id] = true;
    setError("");
    setStatus("Sending…");
    deliver(payload);
  }

  function deliver(payload) {
    if (useHttp) {
      post(payload);
    } else if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(payload));
    } // otherwise it goes when the socket opens
  }

  function confirmed(id) {
    unconfirmed = unconfirmed.filter(function (p) {
      return p.id !== id;
    });
  }

  function refused(event) {
    var payload = unconfirmed.filter(function (p) {
      return p.id === event.id;
    })[0];
    confirmed(event.id);
    if (event.id) delete waiting[event.id];
    var bubble = event.id && own[event.id];
    if (bubble) {
      bubble.parentNode.removeChild(bubble);
      delete own[event.id];
      delete asked[event.id];
    }
    // A typed message goes back where it was typed, so nothing is lost.
    if (payload && !payload.pressed && !input.value) input.value = payload.text;
    setStatus("");
    setError(event.reason || "That message was not sent.");
    input.focus();
  }

  function handle(event) {
    if (event.type === "message") show(event);
    else if (event.type === "received") confirmed(event.id);
    else if (event.type === "refused") refused(event);
    else if (event.type === "reset") {
      while (log.firstChild) log.removeChild(log.firstChild);
      shown = 0;
    }
  }

  // --- the socket ------------------------------------------------------------------------

  function socketAddress() {
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + location.host + chat + "/socket?after=" + shown;
  }

  function connect() {
    if (stopped) return;
    if (useHttp) {
      poll();
      return;
    }
    setStatus(opened ? "Connection lost. Reconnecting…" : "Connecting…");
    var current = new WebSocket(socketAddress());
    socket = current;
    current.onopen = function () {
      opened = true;
      failures = 0;
      setStatus(Object.keys(waiting).length ? "Sending…" : "");
      unconfirmed.forEach(function (payload) {
        current.send(JSON.stringify(payload));
      });
    };
    current.onmessage = function (message) {
      try {
        handle(JSON.parse(message.data));
      } catch (error) {
        /* a frame this page cannot read: ignored */
      }
    };
    current.onclose = function (closing) {
      if (socket !== current) return;
      socket = null;
      if (closing.code === 4001 || closing.code === 4029) {
        stop(
          closing.reason && closing.code === 4029
            ? closing.reason
            : "This chat needs its cookie, and the browser did not send it. Reload the page, or allow cookies for this site."
        );
        return;
      }
      failures += 1;
      // A network that never lets a socket through: the same conversation over plain HTTP.
      if (!opened && failures >= 3) {
        useHttp = true;
        poll();
        return;
      }
      setTimeout(connect, Math.min(10000, 250 * Math.pow(2, failures)));
    };
  }

  function stop(reason) {
    stopped = true;
    setStatus("");
    setError(reason);
  }

  // --- plain HTTP ------------------------------------------------------------------------

  var polling = false;

  function poll() {
    if (polling || stopped) return;
    polling = true;
    fetch(chat + "/api/messages?wait=25&after=" + shown, {
      credentials: "same-origin",
      cache: "no-store",
    })
      .then(function (response) {
        if (response.status === 401 || response.status === 429) {
          return response.json().then(function (body) {
            stop(body.error);
            return null;
          });
        }
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (body) {
        polling = false;
        if (!body) return;
        failures = 0;
        if (body.reset) handle({ type: "reset" });
        body.messages.forEach(handle);
        poll();
      })
      .catch(function () {
        polling = false;
        failures += 1;
        setStatus("Connection lost. Reconnecting…");
        setTimeout(poll, Math.min(10000, 250 * Math.pow(2, failures)));
      });
  }

  function post(payload) {
    fetch(chat + "/api/send", {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    })
      .then(function (response) {
        return response.json();
      })
      .then(handle)
      .catch(function () {
        // Not confirmed: sent again shortly (the server handles an id once).
        setTimeout(function () {
          if (unconfirmed.indexOf(payload) !== -1) post(payload);
        }, 2000);
      });
  }

  // --- the page's controls ---------------------------------------------------------------

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) {
      setError("Please type a message.");
      input.focus();
      return;
    }
    input.value = "";
    say(text, false, null);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  urgentButton.addEventListener("click", function () {
    say("/urgent", true, urgentButton.textContent);
  });

  function close() {
    if (framed) window.parent.postMessage("sa:close", "*");
  }

  if (framed) {
    closeButton.hidden = false;
    closeButton.addEventListener("click", close);
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") close();
  });

  // The widget asks the panel to take the focus when it opens it.
  window.addEventListener("message", function (event) {
    if (event.source === window.parent && event.data === "sa:focus") input.focus();
  });

  connect();
})();
