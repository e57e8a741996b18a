/* Opvoedmaatje web chat: a small accessible socket.io widget (no framework, no CDN).
 *
 * Talks the project's socket.io channel: `session_request` / `session_confirm`, `user_uttered` /
 * `bot_uttered` messages. The session id is issued and signed by the server; the page keeps the
 * signed id in localStorage and presents it again after a reload, which keeps the conversation.
 * When the server answers another id (it did not accept the stored one: forged, or signed with
 * a secret that has since changed), the conversation at the server is a new one, and the page
 * forgets what it showed. Requesting a new session ("Gesprek wissen") leaves the old one's room.
 * The conversation shown is kept in localStorage too, until "Gesprek wissen" is used, and never
 * longer than the retention period (data-retention-days, the catalogue's retention_days) after
 * the last message: older messages are dropped, and when the last one is older the session id
 * goes too. A bot message with metadata {"opvoedmaatje_erased": true} (the answer to "wis mijn
 * gegevens") clears the local history and the session id as well.
 * Accessibility: the messages are in a role="log" live region, the typing state and connection
 * problems in a role="status" region, quick replies are real buttons in a labelled group, and
 * focus goes back to the input after a choice.
 */
(function () {
  "use strict";

  var root = document.getElementById("opvoedmaatje-chat");
  if (!root) { return; }

  var SESSION_KEY = "opvoedmaatje.session_id";
  var HISTORY_KEY = "opvoedmaatje.history";
  var SAVED_AT_KEY = "opvoedmaatje.saved_at";   /* ms since 1970 of the last message kept */
  var LANGUAGE_KEY = "opvoedmaatje.language";   /* the language this conversation was switched to */
  var PAGE_LANGUAGE = root.getAttribute("data-language");   /* set when the page was asked in a language */
  var MAX_HISTORY = 200;
  var DAY_MS = 24 * 60 * 60 * 1000;
  var RETENTION_MS = retentionDays(root.getAttribute("data-retention-days")) * DAY_MS;
  var CLOCK_SLACK_MS = DAY_MS;                  /* a stamp further in the future is not believed */
  var TYPING_TIMEOUT_MS = 45000;
  var TEXT = {
    typing: "Opvoedmaatje typt\u2026",
    slow: "Het antwoord duurt lang. Probeer het zo nog eens.",
    offline: "Geen verbinding met de chat. We proberen het opnieuw\u2026",
    unavailable: "De chat werkt nu niet. Probeer het later nog eens, of bel het Centrum voor Jeugd en Gezin.",
    cleared: "Het gesprek is gewist op dit apparaat.",
    erased: "Het gesprek is gewist, ook op dit apparaat.",
    bot: "Opvoedmaatje:",
    user: "Jij:",
    choices: "Kies een antwoord",
    newTab: "(opent in een nieuw tabblad)",
    log_label: "Gesprek met Opvoedmaatje"
  };
  /* another language than Dutch (issue 17): the server gives the widget's texts in it */
  try {
    var given = JSON.parse(root.getAttribute("data-texts") || "{}");
    Object.keys(given).forEach(function (key) {
      if (typeof given[key] === "string" && given[key]) { TEXT[key] = given[key]; }
    });
  } catch (e) { /* keep the Dutch texts */ }

  var log = document.getElementById("chat-log");
  var empty = document.getElementById("chat-empty");
  var status = document.getElementById("chat-status");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var sendButton = document.getElementById("chat-send");
  var clearButton = document.getElementById("chat-clear");

  var socket = null;
  var sessionId = null;
  var requestedId = null;   /* the signed id presented in the last session_request */
  var confirmed = false;
  var queue = [];
  var typingTimer = null;
  var history = [];
  var answer = [];   /* the bot messages since the parent's last message, as shown */

  function retentionDays(raw) {
    var days = parseInt(raw, 10);
    return days > 0 && days <= 3660 ? days : 90;
  }

  /* ---------- storage (may be blocked: then the chat still works, without persistence) */

  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function save(key, value) {
    try {
      if (value === null) { window.localStorage.removeItem(key); }
      else { window.localStorage.setItem(key, value); }
    } catch (e) { /* storage full or blocked */ }
  }
  function fresh(stamp, now) {
    return typeof stamp === "number" && isFinite(stamp) && stamp > now - RETENTION_MS &&
      stamp <= now + CLOCK_SLACK_MS;
  }
  function forgetStored() {
    save(SESSION_KEY, null);
    save(HISTORY_KEY, null);
    save(SAVED_AT_KEY, null);
    save(LANGUAGE_KEY, null);
  }
  /* Drop what is past the retention period: every message older than it and, when the last
     activity is older (or unknown: stored before stamps were kept), the session id as well. */
  function expireStored() {
    var now = Date.now();
    var raw = load(SAVED_AT_KEY);
    var savedAt = raw === null ? NaN : Number(raw);
    if (!fresh(savedAt, now)) {
      if (load(SESSION_KEY) !== null || load(HISTORY_KEY) !== null || raw !== null) { forgetStored(); }
      return [];
    }
    var items = loadHistory();
    var kept = items.filter(function (item) { return fresh(item.at, now); });
    if (kept.length !== items.length) { save(HISTORY_KEY, JSON.stringify(kept)); }
    return kept;
  }
  function loadHistory() {
    try {
      var items = JSON.parse(load(HISTORY_KEY) || "[]");
      return Array.isArray(items) ? items.filter(function (item) {
        return item && (item.from === "bot" || item.from === "user") && typeof item.text === "string";
      }) : [];
    } catch (e) { return []; }
  }
  function touch() { save(SAVED_AT_KEY, String(Date.now())); }
  function remember(entry) {
    entry.at = Date.now();
    history.push(entry);
    if (history.length > MAX_HISTORY) { history = history.slice(-MAX_HISTORY); }
    save(HISTORY_KEY, JSON.stringify(history));
    touch();
  }

  /* ---------- rendering */

  var LINK = /\[([^\]\n]{1,200})\]\((https?:\/\/[^\s)]+)\)|(https?:\/\/[^\s<>"]+)|\b((?:[a-z0-9-]+\.)+(?:nl|com|org|eu|info)(?:\/[^\s<>"]*)?)/gi;

  function trimUrl(url) {
    var trailing = "";
    while (/[.,;:!?)]$/.test(url)) { trailing = url.slice(-1) + trailing; url = url.slice(0, -1); }
    return [url, trailing];
  }

  function link(label, href) {
    var a = document.createElement("a");
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.textContent = label;
    var hint = document.createElement("span");
    hint.className = "visually-hidden";
    hint.textContent = " " + TEXT.newTab;
    a.appendChild(hint);
    return a;
  }

  /* Text with links as DOM nodes; never innerHTML, so no markup from messages runs. */
  function richText(parent, text) {
    var last = 0;
    var match;
    LINK.lastIndex = 0;
    while ((match = LINK.exec(text)) !== null) {
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      if (match[1]) {
        parent.appendChild(link(match[1], match[2]));
      } else {
        var raw = match[3] || match[4];
        var parts = trimUrl(raw);
        var href = match[3] ? parts[0] : "https://" + parts[0];
        parent.appendChild(link(parts[0], href));
        if (parts[1]) { parent.appendChild(document.createTextNode(parts[1])); }
      }
      last = match.index + match[0].length;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function removeChoices() {
    var groups = log.querySelectorAll(".choices");
    for (var i = 0; i < groups.length; i++) { groups[i].parentNode.removeChild(groups[i]); }
  }

  function renderMessage(entry) {
    if (empty && empty.parentNode) { empty.parentNode.removeChild(empty); }
    var bubble = document.createElement("div");
    bubble.className = "msg " + (entry.from === "bot" ? "msg-bot" : "msg-user");
    bubble.setAttribute("dir", "auto"); /* Arabic right to left, the rest left to right */
    var who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = (entry.from === "bot" ? TEXT.bot : TEXT.user) + " ";
    bubble.appendChild(who);
    var paragraphs = entry.text.split(/\n{2,}/);
    for (var i = 0; i < paragraphs.length; i++) {
      var p = document.createElement("p");
      p.setAttribute("dir", "auto");
      richText(p, paragraphs[i]);
      bubble.appendChild(p);
    }
    log.appendChild(bubble);
    if (entry.from === "bot" && entry.buttons && entry.buttons.length) {
      renderChoices(entry.buttons);
    }
    scrollDown();
  }

  function renderChoices(buttons) {
    /* the choices of every message of this answer stay (a topic's menu, then one question) */
    if (answer.length <= 1) { removeChoices(); }
    var group = document.createElement("div");
    group.className = "choices";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", TEXT.choices);
    buttons.forEach(function (button) {
      var b = document.createElement("button");
      b.type = "button";
      b.setAttribute("dir", "auto");
      b.textContent = button.title;
      b.addEventListener("click", function () {
        sendMessage(button.payload, button.title);
        input.focus();
      });
      group.appendChild(b);
    });
    log.appendChild(group);
  }

  function setStatus(text) { status.textContent = text || ""; }

  function typing(on) {
    if (typingTimer) { window.clearTimeout(typingTimer); typingTimer = null; }
    if (on) {
      log.setAttribute("aria-busy", "true");
      setStatus(TEXT.typing);
      typingTimer = window.setTimeout(function () {
        log.removeAttribute("aria-busy");
        setStatus(TEXT.slow);
      }, TYPING_TIMEOUT_MS);
    } else {
      log.removeAttribute("aria-busy");
      if (status.textContent === TEXT.typing || status.textContent === TEXT.slow) { setStatus(""); }
    }
  }

  /* ---------- messages */

  function buttonsOf(message) {
    var raw = message.quick_replies || message.buttons || [];
    if (!Array.isArray(raw)) { return []; }
    return raw.filter(function (b) {
      return b && typeof b.title === "string" && b.title && typeof b.payload === "string";
    }).map(function (b) { return { title: b.title, payload: b.payload }; });
  }

  /* The assistant erased the conversation ("wis mijn gegevens"): its metadata says so, nested
     or merged into the message as Rasa does with a bot message's metadata; on socket.io it may
     also come as a message of its own right after the confirmation text. */
  function erasedBy(message) {
    var metadata = message.metadata;
    return message.opvoedmaatje_erased === true ||
      (!!metadata && typeof metadata === "object" && metadata.opvoedmaatje_erased === true);
  }

  function receive(message) {
    if (!message || typeof message !== "object") { return; }
    var erased = erasedBy(message);
    if (erased) {
      /* the assistant's answer since the parent's last message is the confirmation: it stays in
         view (not stored); everything else goes */
      var confirmation = answer.slice();
      clearConversation(TEXT.erased, false);
      confirmation.forEach(function (entry) { renderMessage({ from: "bot", text: entry.text, buttons: [] }); });
      answer = confirmation;
    }
    var text = typeof message.text === "string" ? message.text : "";
    if (!text && message.attachment && message.attachment.payload && message.attachment.payload.src) {
      text = message.attachment.payload.src;
    }
    var buttons = buttonsOf(message);
    if (!text && !buttons.length) { return; }
    /* a follow-up (issue 19) shown again when the parent comes back: once on this page */
    var followup = typeof message.opvoedmaatje_followup === "string" ? message.opvoedmaatje_followup : null;
    if (followup && history.some(function (item) {
      return item.followup === followup || (item.from === "bot" && item.text === text);  /* shown live */
    })) { return; }
    typing(false);
    var entry = { from: "bot", text: text, buttons: buttons };
    if (followup) { entry.followup = followup; }
    if (!erased) { remember(entry); }   /* the confirmation is shown, not kept */
    answer.push(entry);
    renderMessage(entry);
  }

  /* A page opened in another language (?lang=en, the language menu) switches the conversation
     once: the assistant answers that it speaks the language now, and says it is a digital assistant. */
  function switchLanguage() {
    if (!PAGE_LANGUAGE || load(LANGUAGE_KEY) === PAGE_LANGUAGE) { return; }
    save(LANGUAGE_KEY, PAGE_LANGUAGE);
    typing(true);
    emitMessage(root.getAttribute("data-switch-payload"));
  }

  function emitMessage(payload) {
    socket.emit("user_uttered", { message: payload, session_id: sessionId });
  }

  function sendMessage(payload, shown) {
    payload = (payload || "").trim();
    if (!payload) { return; }
    removeChoices();
    answer = [];
    var entry = { from: "user", text: shown || payload };
    remember(entry);
    renderMessage(entry);
    typing(true);
    if (socket && confirmed) { emitMessage(payload); } else { queue.push(payload); }
  }

  /* ---------- connection */

  function requestSession() {
    confirmed = false;
    requestedId = sessionId;
    socket.emit("session_request", { session_id: sessionId });
  }

  function connect() {
    if (typeof window.io !== "function") {
      setStatus(TEXT.unavailable);
      input.disabled = true;
      sendButton.disabled = true;
      return;
    }
    socket = window.io(root.getAttribute("data-socket-url"), {
      path: root.getAttribute("data-socket-path") || "/socket.io/",
      reconnectionDelayMax: 10000
    });
    socket.on("connect", function () {
      if (status.textContent === TEXT.offline) { setStatus(""); }
      requestSession();
    });
    socket.on("session_confirm", function (data) {
      var id = typeof data === "string" ? data : (data && data.session_id);
      if (typeof id !== "string" || !id) { return; }
      var pending = [];
      if (requestedId && requestedId !== id) {
        /* the server did not continue the stored conversation: what is shown is not it; what
           the parent typed meanwhile goes to the new one */
        pending = queue.slice();
        clearConversation("", false, false);
      }
      requestedId = null;
      sessionId = id;
      save(SESSION_KEY, id);
      if (load(SAVED_AT_KEY) === null) { touch(); }   /* a session without messages expires too */
      confirmed = true;
      switchLanguage();
      while (queue.length) { emitMessage(queue.shift()); }
      pending.forEach(function (payload) { sendMessage(payload); });
    });
    socket.on("bot_uttered", receive);
    socket.on("connect_error", function () {
      if (!status.textContent || status.textContent === TEXT.typing) { setStatus(TEXT.offline); }
    });
    socket.on("disconnect", function () { confirmed = false; });
  }

  /* ---------- start */

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) { input.focus(); return; }
    input.value = "";
    sendMessage(text);
    input.focus();
  });

  /* Forget the conversation on this device: stored history, session id, what is shown; a new
     session is requested (unless `request` is false), and the server leaves the old one's room. */
  function clearConversation(statusText, focus, request) {
    forgetStored();
    history = [];
    answer = [];
    queue = [];
    sessionId = null;
    typing(false);
    while (log.lastChild) { log.removeChild(log.lastChild); }
    var label = document.createElement("p");
    label.className = "visually-hidden";
    label.id = "chat-log-label";
    label.textContent = TEXT.log_label;
    log.appendChild(label);
    if (empty) { log.appendChild(empty); }
    if (socket && request !== false) { requestSession(); }
    setStatus(statusText || "");
    if (focus) { input.focus(); }
  }

  clearButton.addEventListener("click", function () { clearConversation(TEXT.cleared, true); });
  // Erase at the municipality too: the assistant deletes the conversation and any request to a
  // professional, then confirms with opvoedmaatje_erased, on which this page forgets its copy.
  var eraseButton = document.getElementById("chat-erase");
  eraseButton.addEventListener("click", function () {
    sendMessage(eraseButton.getAttribute("data-command") || "wis mijn gegevens");
  });

  /* a page left open past the retention period forgets too, when it is looked at again */
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible" || !history.length) { return; }
    if (!fresh(history[history.length - 1].at, Date.now())) { clearConversation("", false); }
  });

  history = expireStored();
  sessionId = load(SESSION_KEY);
  if (history.length) {
    log.setAttribute("aria-live", "off");   /* do not read the restored conversation aloud */
    history.forEach(function (entry, index) {
      var isLast = index === history.length - 1;
      renderMessage({ from: entry.from, text: entry.text, buttons: isLast ? buttonsOf(entry) : [] });
    });
    window.setTimeout(function () { log.setAttribute("aria-live", "polite"); }, 500);
  }
  connect();
}());
