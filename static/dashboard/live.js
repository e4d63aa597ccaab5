/* Live updates of the dashboard pages. Plain JavaScript, no build step, no network but our own.
 *
 * A page opts in with data attributes on <main>:
 *   data-live="execution" data-execution="<id>" data-after="<seq>" data-panel-url="..."
 *   data-live="projects"  data-projects="<id>,<id>" [data-panels-url="..."]
 * The server renders the page; this script opens the page's WebSocket feed(s), applies each event
 * at once where it can (a step row, a badge, a progress bar) and re-fetches the server-rendered
 * panel for everything else. Sockets reconnect with back-off and resume from the last sequence
 * number seen, so a dropped connection loses nothing.
 */
(function () {
  "use strict";

  var main = document.querySelector("main[data-live]");
  if (!main || !("WebSocket" in window)) return;

  var TONES = {
    passed: "ok", failed: "bad", error: "bad", timed_out: "bad", cancelled: "muted",
    cancelling: "warn", running: "active", awaiting_input: "warn", queued: "idle", pending: "idle",
    skipped: "muted", blocked: "warn", interrupted: "warn"
  };
  var TERMINAL = ["passed", "failed", "error", "cancelled", "timed_out", "interrupted"];

  // --- small helpers -------------------------------------------------------------------------

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function badge(status) {
    return el("span", { "class": "badge badge-" + (TONES[status] || "idle"), "data-status": status },
      String(status).replace(/_/g, " "));
  }

  function millis(ms) {
    if (ms === null || ms === undefined) return "–";
    var s = ms / 1000;
    if (s < 60) return s.toFixed(1) + " s";
    return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
  }

  /* One clock for the whole page: 24-hour HH:MM:SS in the browser's time zone, for the times the
   * server rendered (<time data-clock datetime=ISO>, rewritten here) and the ones events bring. */
  function clock(date) {
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return two(date.getHours()) + ":" + two(date.getMinutes()) + ":" + two(date.getSeconds());
  }

  function localizeClocks(root) {
    (root || document).querySelectorAll("time[data-clock]").forEach(function (node) {
      var when = new Date(node.getAttribute("datetime"));
      if (isNaN(when)) return;
      node.textContent = clock(when);
      node.title = when.toLocaleString();
    });
  }

  function setIndicator(state) {
    document.querySelectorAll("[data-role=live-indicator]").forEach(function (node) {
      node.classList.toggle("on", state === "on");
      node.classList.toggle("off", state !== "on");
      node.textContent = state === "on" ? "live" : "reconnecting…";
    });
  }

  function wsUrl(path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  /* A socket that reconnects with back-off; `path()` is asked again on each attempt so it can
   * carry the latest resume point. */
  function feed(path, onMessage, onOpen) {
    var delay = 500;
    function open() {
      var socket = new WebSocket(wsUrl(path()));
      socket.onopen = function () {
        delay = 500;
        setIndicator("on");
        if (onOpen) onOpen();
      };
      socket.onmessage = function (event) {
        var message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        onMessage(message);
      };
      socket.onclose = function () {
        setIndicator("off");
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 10000);
      };
    }
    open();
  }

  /* Re-fetch a server-rendered fragment, at most one request in flight, bursts coalesced. */
  function refresher(url, apply, wait) {
    var timer = null, busy = false, again = false;
    function run() {
      timer = null;
      if (busy) { again = true; return; }
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) apply(html); })
        .catch(function () { /* the next event or reconnect tries again */ })
        .then(function () {
          busy = false;
          if (again) { again = false; schedule(); }
        });
    }
    function schedule() { if (!timer) timer = setTimeout(run, wait); }
    return schedule;
  }

  // A case run's step counts onto the outcome segments of its bar, as executions/progress.py
  // does on the server (templates/dashboard/_outcome_bar.html): same colours, same label.
  var SEGMENTS = ["passed", "failed", "error", "skipped"];
  var SEGMENT_OF = {
    passed: "passed", warning: "passed", failed: "failed", timed_out: "failed",
    error: "error", undefined: "error", blocked: "error",
    skipped: "skipped", interrupted: "skipped", cancelled: "skipped"
  };

  function paintProgress(bar, label, summary) {
    var total = summary.steps_total || 0, done = summary.steps_done || 0, raw = summary.counts || {};
    var counts = { passed: 0, failed: 0, error: 0, skipped: 0 }, parts = [];
    Object.keys(raw).forEach(function (status) {
      if (status !== "pending" && status !== "running") counts[SEGMENT_OF[status] || "error"] += raw[status];
    });
    var whole = Math.max(total, done);
    if (bar) bar.textContent = "";
    SEGMENTS.forEach(function (name) {
      if (!counts[name]) return;
      parts.push(counts[name] + " " + name);
      if (!bar) return;
      var seg = el("i", { "class": "seg seg-" + name, "data-segment": name, "data-count": counts[name] });
      seg.style.width = (whole ? 100 * counts[name] / whole : 0) + "%";
      bar.appendChild(seg);
    });
    var text = done + "/" + (total || "?") + " steps" + (parts.length ? ": " + parts.join(", ") : "");
    if (bar) { bar.title = text; bar.setAttribute("aria-label", text); }
    if (label) label.textContent = text;
  }

  function setProgress(container, summary, terminal) {
    if (!container || !summary) return;
    var bar = container.querySelector("[data-role=progress]");
    if (bar) bar.classList.toggle("done", !!terminal);
    paintProgress(bar, container.querySelector("[data-role=progress-label]"), summary);
  }

  // --- one execution (and a suite run's children) ----------------------------------------------

  function executionPage() {
    var id = Number(main.dataset.execution);
    var after = Number(main.dataset.after || 0);
    var steps = {}; // order -> latest step event, re-applied over a panel older than it

    function logLine(m) {
      var log = document.getElementById("event-log");
      if (!log) return;
      var text = m.kind === "step" && m.step
        ? "step " + m.step.order + " " + m.step.name + ": " + m.step.status
        : m.kind === "transition" ? (m.from_status || "new") + " → " + m.to_status : m.kind;
      var item = el("li");
      item.appendChild(el("span", { "class": "seq" }, m.seq));
      item.appendChild(document.createTextNode(" "));
      var when = new Date(m.at);
      item.appendChild(el("time", { "class": "muted", datetime: m.at, title: when.toLocaleString() }, clock(when)));
      item.appendChild(document.createTextNode(" " + text + (m.reason ? " – " + m.reason : "")));
      log.appendChild(item);
      log.scrollTop = log.scrollHeight;
    }

    function stepRow(m) {
      var s = m.step, row = el("tr", { "data-order": s.order, "class": "new" });
      row.appendChild(el("td", {}, s.order));
      var name = el("td", {}, s.name || s.kind);
      name.appendChild(el("div", { "class": "muted" }, s.kind));
      row.appendChild(name);
      var status = el("td");
      status.appendChild(badge(s.status));
      row.appendChild(status);
      row.appendChild(el("td", { "class": "muted" }, millis(s.duration_ms)));
      var detail = el("td", { "data-role": "detail" });
      if (m.reason) detail.appendChild(el("pre", {}, m.reason));
      row.appendChild(detail);
      return row;
    }

    function applyStep(m) {
      var body = document.getElementById("steps");
      if (!body) return;
      var row = stepRow(m), existing = body.querySelector('tr[data-order="' + m.step.order + '"]');
      if (existing) { existing.replaceWith(row); } else {
        var next = Array.prototype.find.call(body.rows, function (r) {
          return Number(r.dataset.order) > m.step.order;
        });
        body.insertBefore(row, next || null);
      }
      var empty = document.getElementById("steps-empty");
      if (empty) empty.remove();
      if (m.summary) {
        paintProgress(document.getElementById("execution-progress"),
          document.getElementById("execution-progress-label"), m.summary);
      }
    }

    /* A transition changes the badge, and when it ends the run also the Cancel button and the
     * open attempt, in the same frame: the page never shows "passed" beside "Cancel" and "in
     * progress" while the panel is being fetched again. */
    function setStatus(status) {
      var holder = document.getElementById("execution-status");
      if (holder) { holder.innerHTML = ""; holder.appendChild(badge(status)); }
      if (TERMINAL.indexOf(status) < 0) return;
      document.querySelectorAll("#execution-panel [data-role=cancel]").forEach(function (button) {
        button.closest("form").remove();
      });
      document.querySelectorAll("#execution-panel [data-role=attempt-outcome]").forEach(function (cell) {
        if (cell.querySelector(".badge")) return;
        cell.innerHTML = "";
        cell.appendChild(badge(status));
      });
      var progress = document.getElementById("execution-progress");
      if (progress) progress.classList.add("done");
    }

    var refreshPanel = refresher(main.dataset.panelUrl, function (html) {
      var holder = document.getElementById("execution-panel");
      holder.innerHTML = html;
      localizeClocks(holder);
      var panel = holder.querySelector("[data-panel-after]");
      var panelAfter = panel ? Number(panel.dataset.panelAfter) : 0;
      Object.keys(steps).forEach(function (order) {
        if (steps[order].seq > panelAfter) applyStep(steps[order]);
      });
    }, 250);

    function applyChild(m) {
      var row = document.querySelector('tr[data-child="' + m.execution + '"]');
      if (!row) { refreshPanel(); return; }
      if (m.kind === "transition") {
        var cell = row.querySelector("[data-role=status]");
        cell.innerHTML = "";
        cell.appendChild(badge(m.to_status));
        refreshPanel(); // the suite's own progress and times
      }
      setProgress(row, m.summary, TERMINAL.indexOf(m.status) >= 0);
    }

    function apply(m) {
      if (m.execution !== id) { applyChild(m); return; }
      if (m.seq <= after) return; // seen already (a resume overlaps what the page rendered)
      after = m.seq;
      logLine(m);
      if (m.kind === "step" && m.step && m.step.kind === "manual") {
        refreshPanel(); // a tester's words and files are on the server-rendered row only
      } else if (m.kind === "step" && m.step) {
        steps[m.step.order] = m;
        applyStep(m);
      } else {
        if (m.kind === "transition") setStatus(m.to_status);
        refreshPanel();
      }
    }

    feed(function () { return "/ws/executions/" + id + "/?after=" + after; }, function (m) {
      if (m.type === "execution.event") apply(m);
    });
  }

  // --- the overview and project pages: one feed per project ----------------------------------

  function projectsPage() {
    var ids = (main.dataset.projects || "").split(",").filter(Boolean);
    var panelsUrl = main.dataset.panelsUrl;
    var refresh = panelsUrl
      ? refresher(panelsUrl, function (html) {
          var holder = document.getElementById("overview-panels");
          if (holder) holder.innerHTML = html;
        }, 700)
      : refresher(location.href, function (html) {
          // Pages without a panel endpoint: swap the live sections of a fresh copy of the page.
          var fresh = new DOMParser().parseFromString(html, "text/html");
          ["project-runs"].forEach(function (sectionId) {
            var now = document.getElementById(sectionId), next = fresh.getElementById(sectionId);
            if (now && next) now.replaceWith(next);
          });
        }, 700);

    function apply(m) {
      var row = document.querySelector('tr[data-execution-row="' + m.execution + '"]');
      if (row && m.kind === "step") { setProgress(row, m.summary, false); return; }
      if (row && m.kind === "transition") {
        var cell = row.querySelector("[data-role=status]");
        if (cell) { cell.innerHTML = ""; cell.appendChild(badge(m.to_status)); }
      }
      refresh();
    }

    // No resume here: on every (re)connect the panels are fetched afresh, which shows the current
    // state more cheaply than replaying what happened meanwhile.
    ids.forEach(function (pid) {
      feed(function () { return "/ws/projects/" + pid + "/"; }, function (m) {
        if (m.type === "execution.event") apply(m);
      }, refresh);
    });
    // Time moves on even when nothing happens ("3 minutes ago", the oldest queued age).
    setInterval(refresh, 30000);
  }

  localizeClocks(document);
  if (main.dataset.live === "execution") executionPage();
  else if (main.dataset.live === "projects") projectsPage();
})();
