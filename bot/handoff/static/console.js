/* Agent console (bot/handoff/console.py): live queue, live conversation, actions.
 * No framework, and never HTML built from data: everything members typed is set
 * with textContent. The CSRF token comes from <body data-csrf>, the URL prefix from
 * <body data-prefix>; both are set by the server. */
(function () {
  "use strict";

  var body = document.body;
  var prefix = body.dataset.prefix || "";
  var csrf = body.dataset.csrf || "";
  var QUEUE_POLL_MS = 3000;
  var CONVERSATION_POLL_MS = 1500;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function notice(message, isError) {
    var box = document.getElementById("notice");
    if (!box) return;
    box.textContent = message || "";
    box.classList.toggle("error", !!isError);
  }

  function toLogin() {
    window.location.assign(prefix + "/login");
  }

  function request(method, path, payload) {
    var options = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      options.headers["X-CSRF-Token"] = csrf;
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(payload || {});
    }
    return fetch(prefix + path, options).then(function (response) {
      if (response.status === 401) {
        toLogin();
        throw new Error("unauthenticated");
      }
      return response.json().then(
        function (data) { return { ok: response.ok, status: response.status, data: data }; },
        function () { return { ok: false, status: response.status, data: {} }; }
      );
    });
  }

  /* -- queue page ------------------------------------------------------------ */

  function renderQueue(items) {
    var rows = document.getElementById("queue-rows");
    var empty = document.getElementById("queue-empty");
    if (!rows) return;
    rows.replaceChildren();
    items.forEach(function (item) {
      var tr = el("tr", "status-" + item.status);
      var first = el("td");
      var a = el("a", null, item.created);
      a.href = prefix + "/conversations/" + encodeURIComponent(item.id);
      first.appendChild(a);
      tr.appendChild(first);
      [item.waiting, item.status_label, item.reason_label, item.topic, item.channel_label, item.assigned_agent || ""]
        .forEach(function (value) { tr.appendChild(el("td", null, value)); });
      rows.appendChild(tr);
    });
    if (empty) empty.hidden = items.length > 0;
  }

  function pollQueue() {
    request("GET", "/api/queue")
      .then(function (result) {
        if (result.ok) {
          renderQueue(result.data);
          notice("");
        } else {
          notice(result.data.message || "一覧を更新できませんでした。", true);
        }
      })
      .catch(function (error) {
        if (error.message !== "unauthenticated") notice("一覧を更新できませんでした。接続を確認してください。", true);
      })
      .finally(function () { window.setTimeout(pollQueue, QUEUE_POLL_MS); });
  }

  /* -- conversation page ----------------------------------------------------- */

  function conversationPage(root) {
    var id = root.dataset.handoffId;
    var after = parseInt(root.dataset.after || "0", 10) || 0;
    var base = "/api/conversations/" + encodeURIComponent(id);
    var transcript = document.getElementById("transcript");
    var replyForm = document.getElementById("reply");
    var replyText = document.getElementById("reply-text");
    var buttons = root.querySelectorAll("button[data-action]");
    var busy = false;

    function appendMessage(m) {
      if (m.id <= after) return;
      after = m.id;
      var li = el("li", "msg from-" + m.author);
      li.dataset.id = String(m.id);
      var meta = el("span", "meta");
      meta.appendChild(el("span", "who", m.author_label));
      meta.appendChild(document.createTextNode(" "));
      meta.appendChild(el("time", null, m.time));
      li.appendChild(meta);
      li.appendChild(el("span", "text", m.text));
      transcript.appendChild(li);
      li.scrollIntoView({ block: "nearest" });
    }

    function showHandoff(h) {
      document.getElementById("status").textContent = h.status_label;
      document.getElementById("assigned").textContent = h.assigned_agent || "未割り当て";
      document.getElementById("waiting").textContent = h.waiting;
      var open = h.status === "queued" || h.status === "active";
      buttons.forEach(function (button) {
        var action = button.dataset.action;
        if (action === "take") button.disabled = busy || !open || h.assigned_to_me;
        else button.disabled = busy || !open || (h.status === "active" && !h.assigned_to_me);
      });
      var canReply = open && h.assigned_to_me;
      replyText.disabled = !canReply;
      replyForm.querySelector("button").disabled = busy || !canReply;
    }

    function poll() {
      request("GET", base + "?after=" + after)
        .then(function (result) {
          if (result.status === 404) {
            notice("この会話は見つかりません。", true);
            return;
          }
          if (!result.ok) {
            notice(result.data.message || "会話を更新できませんでした。", true);
            return;
          }
          result.data.messages.forEach(appendMessage);
          showHandoff(result.data.handoff);
        })
        .catch(function (error) {
          if (error.message !== "unauthenticated") notice("会話を更新できませんでした。接続を確認してください。", true);
        })
        .finally(function () { window.setTimeout(poll, CONVERSATION_POLL_MS); });
    }

    function act(action, payload) {
      busy = true;
      return request("POST", base + "/" + action, payload)
        .then(function (result) {
          if (result.data.handoff) showHandoff(result.data.handoff);
          var sent = result.data.stored_message || result.data.message;
          if (sent && sent.id) appendMessage(sent);
          notice(result.ok ? "" : result.data.message || "操作に失敗しました。", !result.ok);
          return result;
        })
        .finally(function () { busy = false; });
    }

    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        var question = button.dataset.confirm;
        if (question && !window.confirm(question)) return;
        act(button.dataset.action);
      });
    });

    replyForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = replyText.value;
      if (!text.trim()) return;
      act("reply", { text: text }).then(function (result) {
        if (result.ok || result.status === 502) replyText.value = "";
      });
    });

    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (body.dataset.page === "queue") window.setTimeout(pollQueue, QUEUE_POLL_MS);
    var root = document.getElementById("conversation");
    if (body.dataset.page === "conversation" && root) conversationPage(root);
  });
})();
