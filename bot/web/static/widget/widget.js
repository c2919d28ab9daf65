/*
 * KOSMO Web chat widget: the login helpdesk bot on a society's portal page.
 *
 * Embed (the society's key and the bot server's address in a config object, then one tag):
 *
 *   <script>window.kosmoChat = { tenant: "kose", socketUrl: "https://bot.example.jp" };</script>
 *   <script src="https://bot.example.jp/widget/widget.js" defer></script>
 *
 * Optional config: societyName (shown in the header), accentColor ("#1d4f91"), title,
 * socketPath ("/socket.io/").
 *
 * Talks to Rasa's socket.io channel (bot/channels/widget.py): the server issues the
 * session id, kept in localStorage per society, so a reload or a second tab continues
 * the same conversation and shows its transcript. The UI lives in a shadow root so the
 * portal's CSS cannot break it (and ours cannot leak into the portal).
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var config = Object.assign({}, window.kosmoChat || {});
  if (!config.tenant || !config.socketUrl) {
    if (window.console) console.error("kosmoChat: config needs tenant and socketUrl");
    return;
  }
  if (window.__kosmoChatLoaded) return;
  window.__kosmoChatLoaded = true;

  var BASE = script && script.src ? script.src.replace(/[^/]*$/, "") : "/widget/";
  // `tenant` is the wire name of the society: in this config and in every message's
  // metadata (bot.domain.societies.METADATA_KEY); the bot's own code says "society".
  var SOCIETY = String(config.tenant);
  var KEY = "kosmo-chat:" + SOCIETY;
  var HIDDEN = {}; // marker: a message the member did not type (the opening greeting)
  var TYPING_TIMEOUT_MS = 60000;

  var T = {
    launcher: "チャットで質問する",
    title: config.title || "ログインのお困りごと相談",
    subtitle: "自動応答のチャットボットがお答えします",
    close: "閉じる",
    closeLabel: "チャットを閉じる",
    log: "会話",
    inputLabel: "メッセージを入力",
    placeholder: "ご質問を入力してください",
    hint: "Enterで送信、Shift+Enterで改行",
    send: "送信",
    typing: "回答を準備しています…",
    connecting: "接続しています…",
    reconnecting: "接続が切れました。再接続しています…",
    failed: "チャットを読み込めませんでした。時間をおいてページを再読み込みしてください。",
    you: "あなた：",
    bot: "チャットボット：",
    choices: "選択肢",
    newTab: "（新しいタブで開きます）",
  };

  // --- storage (private browsing may refuse it: then the chat just does not persist)
  function store(kind) {
    try {
      return kind === "local" ? window.localStorage : window.sessionStorage;
    } catch (e) {
      return null;
    }
  }
  function getItem(kind, name) {
    var s = store(kind);
    try {
      return s ? s.getItem(KEY + ":" + name) : null;
    } catch (e) {
      return null;
    }
  }
  function setItem(kind, name, value) {
    var s = store(kind);
    try {
      if (s) {
        if (value === null) s.removeItem(KEY + ":" + name);
        else s.setItem(KEY + ":" + name, value);
      }
    } catch (e) {
      /* storage full or refused */
    }
  }

  // --- DOM helpers
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === false || value === null || value === undefined) return;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }
  function srOnly(text) {
    return el("span", { className: "sr-only", text: text });
  }

  // Text with clickable links: Markdown [label](https://...) and bare http(s) URLs.
  // Built from text nodes and <a> elements only, never from HTML strings.
  var LINK = /\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)|(https?:\/\/[^\s<>"'（）「」『』、。，！？]+)/g;
  function linkify(text) {
    var frag = document.createDocumentFragment();
    var last = 0;
    var match;
    LINK.lastIndex = 0;
    while ((match = LINK.exec(text)) !== null) {
      var label = match[1];
      var href = match[2] || match[3];
      var end = match.index + match[0].length;
      if (!label) {
        var trail = /[.,;:!?)\]]+$/.exec(href); // sentence punctuation after a bare URL
        if (trail) {
          href = href.slice(0, -trail[0].length);
          end -= trail[0].length;
        }
      }
      frag.appendChild(document.createTextNode(text.slice(last, match.index)));
      frag.appendChild(
        el("a", { href: href, target: "_blank", rel: "noopener noreferrer" }, [
          label || href,
          srOnly(T.newTab),
        ])
      );
      last = end;
      LINK.lastIndex = end;
    }
    frag.appendChild(document.createTextNode(text.slice(last)));
    return frag;
  }

  // --- the UI
  var host = el("div", { className: "kosmo-chat-host", "data-kosmo-chat": SOCIETY });
  if (config.accentColor && /^#[0-9a-fA-F]{6}$/.test(config.accentColor)) {
    host.style.setProperty("--kosmo-accent", config.accentColor);
  }
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  root.appendChild(el("link", { rel: "stylesheet", href: BASE + "widget.css" }));

  var launcher = el("button", {
    type: "button",
    className: "launcher",
    "aria-expanded": "false",
    "aria-controls": "kosmo-chat-panel",
  }, [el("span", { className: "launcher-icon", "aria-hidden": "true", text: "💬" }), T.launcher]);

  var titleId = "kosmo-chat-title";
  var closeButton = el("button", {
    type: "button",
    className: "close",
    "aria-label": T.closeLabel,
    text: T.close,
  });
  var log = el("div", {
    className: "log",
    role: "log",
    "aria-live": "polite",
    "aria-label": T.log,
    tabindex: "0",
  });
  var typing = el("div", { className: "typing", role: "status", hidden: true }, [
    el("span", { className: "dots", "aria-hidden": "true" }, [el("span"), el("span"), el("span")]),
    el("span", { className: "typing-text", text: T.typing }),
  ]);
  var status = el("div", { className: "status", role: "status", hidden: true });
  var input = el("textarea", {
    id: "kosmo-chat-input",
    className: "input",
    rows: "1",
    maxlength: "1000",
    placeholder: T.placeholder,
    "aria-describedby": "kosmo-chat-hint",
    enterkeyhint: "send",
    autocomplete: "off",
  });
  var sendButton = el("button", { type: "submit", className: "send", text: T.send });
  var form = el("form", { className: "composer" }, [
    el("label", { for: "kosmo-chat-input", className: "sr-only", text: T.inputLabel }),
    input,
    sendButton,
    el("p", { id: "kosmo-chat-hint", className: "hint", text: T.hint }),
  ]);
  var header = el("div", { className: "header" }, [
    el("div", { className: "heading" }, [
      el("h2", { id: titleId, className: "title", text: T.title }),
      el("p", {
        className: "subtitle",
        text: config.societyName ? config.societyName + "　" + T.subtitle : T.subtitle,
      }),
    ]),
    closeButton,
  ]);
  var panel = el("div", {
    id: "kosmo-chat-panel",
    className: "panel",
    role: "dialog",
    "aria-modal": "false",
    "aria-labelledby": titleId,
    hidden: true,
  }, [header, status, log, typing, form]);
  root.appendChild(launcher);
  root.appendChild(panel);

  // --- messages
  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }
  function clearChoices() {
    Array.prototype.forEach.call(log.querySelectorAll(".choices"), function (node) {
      node.parentNode.removeChild(node);
    });
  }
  function addUser(text) {
    clearChoices();
    log.appendChild(
      el("div", { className: "msg user" }, [srOnly(T.you), el("span", { className: "bubble", text: text })])
    );
    scrollDown();
  }
  function addBot(message) {
    var text = message.text || "";
    if (text) {
      var bubble = el("span", { className: "bubble" });
      bubble.appendChild(linkify(text));
      log.appendChild(el("div", { className: "msg bot" }, [srOnly(T.bot), bubble]));
    }
    var image = message.image || (message.attachment && message.attachment.payload && message.attachment.payload.src);
    if (image && /^https?:\/\//.test(image)) {
      log.appendChild(el("div", { className: "msg bot" }, [el("img", { src: image, alt: "", className: "image" })]));
    }
    var choices = message.quick_replies || message.buttons || [];
    if (choices.length) {
      clearChoices();
      var group = el("div", { className: "choices", role: "group", "aria-label": T.choices });
      choices.forEach(function (choice) {
        var title = String(choice.title || "");
        var url = choice.url || (/^https?:\/\//.test(choice.payload || "") ? choice.payload : null);
        if (url) {
          group.appendChild(el("a", { className: "choice", href: url, target: "_blank", rel: "noopener noreferrer" }, [title, srOnly(T.newTab)]));
          return;
        }
        var button = el("button", { type: "button", className: "choice", text: title });
        button.addEventListener("click", function () {
          if (send(String(choice.payload || title), title)) input.focus();
        });
        group.appendChild(button);
      });
      log.appendChild(group);
    }
    scrollDown();
  }
  function showHistory(messages) {
    log.textContent = "";
    messages.forEach(function (m) {
      if (m.sender === "user") {
        addUser(m.text);
        return;
      }
      // live messages arrive split at blank lines (Rasa's socket.io output): match that
      var parts = (m.text || "").split(/\n\n+/);
      parts.forEach(function (part, i) {
        var last = i === parts.length - 1;
        addBot({ text: part, buttons: last ? m.buttons || m.quick_replies : null, image: last ? m.image : null });
      });
    });
    var lastItem = messages[messages.length - 1];
    if (lastItem && lastItem.sender === "user") clearChoices();
  }

  var typingTimer = null;
  function setTyping(on) {
    typing.hidden = !on;
    clearTimeout(typingTimer);
    if (on) {
      typingTimer = setTimeout(function () {
        typing.hidden = true;
      }, TYPING_TIMEOUT_MS);
      scrollDown();
    }
  }
  function setStatus(text) {
    status.textContent = text || "";
    status.hidden = !text;
  }

  // --- the connection
  var socket = null;
  var sessionId = null;
  var ready = false;

  function send(text, display) {
    text = String(text || "").trim();
    if (!text || !ready || !socket) return false;
    var metadata = { tenant: SOCIETY };
    if (display && display !== HIDDEN) metadata.display_text = String(display);
    socket.emit("user_uttered", { message: text, session_id: sessionId, metadata: metadata });
    if (display !== HIDDEN) addUser(display || text);
    setTyping(true);
    return true;
  }

  function loadSocketIo(done) {
    // our socket.io copy must not replace a socket.io the portal page may have
    var hadIo = Object.prototype.hasOwnProperty.call(window, "io");
    var pageIo = window.io;
    var tag = el("script", { src: BASE + "vendor/socket.io.min.js", async: true });
    tag.onload = function () {
      var ours = window.io;
      if (hadIo) window.io = pageIo;
      else delete window.io;
      done(ours);
    };
    tag.onerror = function () {
      setStatus(T.failed);
    };
    document.head.appendChild(tag);
  }

  function connect() {
    if (socket) return;
    socket = {}; // connecting
    setStatus(T.connecting);
    loadSocketIo(function (io) {
      socket = io(config.socketUrl, {
        path: config.socketPath || "/socket.io/",
        transports: ["websocket", "polling"],
      });
      socket.on("connect", function () {
        socket.emit("session_request", { session_id: getItem("local", "session") });
      });
      socket.on("session_confirm", function (id) {
        sessionId = typeof id === "string" ? id : id && id.session_id;
        setItem("local", "session", sessionId);
        host.setAttribute("data-session", sessionId);
      });
      socket.on("session_history", function (data) {
        var messages = (data && data.messages) || [];
        ready = true;
        setStatus("");
        sendButton.disabled = false;
        showHistory(messages);
        if (!messages.length) send("/greet", HIDDEN);
      });
      socket.on("bot_uttered", function (message) {
        addBot(message || {});
      });
      socket.on("user_echo", function (message) {
        if (message && message.text) addUser(message.text);
        setTyping(true);
      });
      socket.on("turn_end", function () {
        setTyping(false);
      });
      socket.on("disconnect", function () {
        ready = false;
        setTyping(false);
        setStatus(T.reconnecting);
      });
      socket.on("connect_error", function () {
        setStatus(T.reconnecting);
      });
    });
  }

  // --- open / close
  function open(focus) {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    launcher.hidden = true;
    setItem("session", "open", "1");
    connect();
    if (focus) input.focus();
    scrollDown();
  }
  function close() {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    setItem("session", "open", null);
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    open(true);
  });
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (send(input.value)) {
      input.value = "";
      autosize();
    }
  });
  // Enter sends; Shift+Enter is a new line; Enter that confirms a kana-kanji conversion
  // (isComposing, or keyCode 229 as Safari reports it) belongs to the input method.
  input.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.shiftKey) return;
    if (event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    if (typeof form.requestSubmit === "function") form.requestSubmit();
    else form.dispatchEvent(new Event("submit", { cancelable: true }));
  });
  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  }
  input.addEventListener("input", autosize);
  sendButton.disabled = true;

  function mount() {
    document.body.appendChild(host);
    if (getItem("session", "open")) open(false);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
