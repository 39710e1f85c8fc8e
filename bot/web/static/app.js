// opsbot's dashboard (a Telegram Mini App). Loads nothing but opsbot's own files: the init data
// and the theme come from the URL fragment Telegram opens the page with (#tgWebAppData=…), not
// from telegram-web-app.js, which mainland phones cannot fetch. Text goes in as textContent only.
"use strict";
(function () {
  var hash = new URLSearchParams(location.hash.slice(1));
  var initData = hash.get("tgWebAppData") || sessionStorage.getItem("opsbot.initData") || "";
  if (hash.get("tgWebAppData")) sessionStorage.setItem("opsbot.initData", initData);
  var S = {}; // the page's words, from /app/api/me in the viewer's language
  var me = null;
  var view, tabs;
  var state = { tab: "today", kind: "month", offset: 0, person: null, fbOffset: 0,
                region: "", industry: "" };

  function theme() {
    var raw = hash.get("tgWebAppThemeParams");
    if (!raw) return;
    var params;
    try { params = JSON.parse(raw); } catch (e) { return; }
    var root = document.documentElement.style;
    Object.keys(params).forEach(function (key) {
      var value = String(params[key]);
      if (/^#[0-9a-fA-F]{3,8}$/.test(value)) {
        root.setProperty("--tg-theme-" + key.replace(/_/g, "-"), value);
      }
    });
  }

  function say(key, values) {
    var text = S[key] || key;
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(values[k]); });
    return text;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "on") node.addEventListener("click", attrs[k]);
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function svg(tag, attrs, children) {
    var node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  var early = {}; // the first page's data, asked for together with /app/api/me

  function api(path, options) {
    if (!options && early[path]) { var found = early[path]; delete early[path]; return found; }
    options = options || {};
    var headers = { Authorization: "tma " + initData };
    if (options.body) headers["Content-Type"] = "application/json";
    return fetch("app/api/" + path, { method: options.method || "GET", headers: headers,
                                      body: options.body, cache: "no-store" })
      .then(function (r) {
        if (r.status === 401 || (r.status === 403 && path === "me")) {
          return r.text().then(function () { deny(); throw "denied"; });
        }
        return r.json().then(function (body) { body.__status = r.status; return body; });
      });
  }

  function deny() {
    document.getElementById("tabs").hidden = true;
    view.hidden = true;
    view.textContent = "";
    document.getElementById("denied").hidden = false;
  }

  function show(nodes) {
    view.textContent = "";
    nodes.forEach(function (n) { if (n) view.appendChild(n); });
    view.setAttribute("data-tab", state.tab);
  }

  function loading() { show([el("p", { class: "muted", text: say("loading") })]); }

  function failed() { show([el("p", { class: "error", text: say("failed") })]); }

  function drawTabs() {
    tabs.textContent = "";
    me.tabs.forEach(function (name) {
      tabs.appendChild(el("button", {
        role: "tab", "data-tab": name, "aria-selected": String(state.tab === name),
        text: say("tab_" + name), on: function () { state.tab = name; go(); }
      }));
    });
  }

  function go() {
    drawTabs();
    loading();
    ({ today: today, kpi: kpi, channels: channels, approvals: approvals, feedback: feedback })[state.tab]();
  }

  // ---- 今天 ----------------------------------------------------------------------------------

  var ICON = { filed: "✅", late: "🕓", overdue: "⚠️", waiting: "⏳", away: "🌴" };

  function today() {
    api("today").then(function (d) {
      var nodes = [el("h1", { text: d.day })];
      if (!d.sections.length) nodes.push(el("p", { class: "muted", text: say("nothing_owed") }));
      d.sections.forEach(function (s) {
        var list = el("ul", { class: "lines" });
        s.lines.forEach(function (l) {
          var when = l.at ? " · " + l.at : "";
          list.appendChild(el("li", { class: "state-" + l.state }, [
            el("span", { class: "who", text: ICON[l.state] + " " + l.name }),
            el("span", { class: "what", text: say("state_" + l.state) + when })
          ]));
        });
        if (!s.lines.length) list.appendChild(el("li", { class: "muted", text: say("nobody") }));
        nodes.push(el("section", { class: "card" }, [
          el("h2", { text: s.form + " · " + s.period }), list]));
      });
      if (d.tasks.open) {
        var tasks = el("ul", { class: "lines" });
        d.tasks.items.forEach(function (t) {
          tasks.appendChild(el("li", { class: t.overdue ? "state-overdue" : "" }, [
            el("span", { class: "who", text: (t.overdue ? "⚠️ " : "📌 ") + t.name + ": " + t.title }),
            el("span", { class: "what", text: say("due", { at: t.at }) })
          ]));
        });
        nodes.push(el("section", { class: "card" }, [
          el("h2", { text: say("tasks") }),
          el("p", { class: "muted", text: say("tasks_counts", { open: d.tasks.open, overdue: d.tasks.overdue }) }),
          tasks]));
      }
      show(nodes);
    }).catch(stop);
  }

  // ---- KPI -----------------------------------------------------------------------------------

  function kpi() {
    var q = "kpi?period=" + state.kind + "&offset=" + state.offset +
      (state.person ? "&person=" + state.person : "");
    api(q).then(function (d) {
      if (d.__status !== 200) { failed(); return; }
      var kinds = el("div", { class: "switch", role: "group" });
      ["week", "month", "quarter"].forEach(function (k) {
        kinds.appendChild(el("button", { "data-period": k, "aria-pressed": String(state.kind === k),
          text: say(k), on: function () { state.kind = k; state.offset = 0; kpi(); } }));
      });
      var nav = el("div", { class: "nav" }, [
        el("button", { "data-nav": "earlier", text: say("earlier"), on: function () { state.offset -= 1; kpi(); } }),
        el("strong", { class: "period", text: d.period }),
        state.offset < 0 ? el("button", { "data-nav": "later", text: say("later"),
          on: function () { state.offset += 1; kpi(); } }) : el("span")
      ]);
      var nodes = [kinds, nav];
      if (me.director) {
        var who = el("select", { id: "person", "aria-label": say("team") });
        who.appendChild(el("option", { value: "", text: "👥 " + say("team") }));
        d.people.forEach(function (p) {
          var o = el("option", { value: String(p.id), text: p.name });
          if (String(state.person) === String(p.id)) o.selected = true;
          who.appendChild(o);
        });
        who.addEventListener("change", function () { state.person = who.value || null; kpi(); });
        nodes.push(who);
      }
      if (d.score !== null && d.score !== undefined) {
        nodes.push(el("section", { class: "card score" }, [
          el("h2", { text: say("score") }),
          el("p", { class: "big", id: "score", text: d.score }),
          el("p", { class: "muted", text: say("score_note", { best: d.best || "100" }) })]));
      }
      if (!d.lines.length) nodes.push(el("p", { class: "muted", text: say("no_kpis") }));
      else nodes.push(el("section", { class: "card" }, [el("h2", { text: say("plan_vs_actual") }),
                                                          planChart(d.lines), kpiTable(d.lines)]));
      var trend = d.lines.length ? el("section", { class: "card", id: "trend" }, [
        el("h2", { text: say("trend") }), el("p", { class: "muted", text: say("loading") })]) : null;
      nodes.push(trend);
      if (d.scores.length) {
        var list = el("ul", { class: "lines" });
        d.scores.forEach(function (s) {
          list.appendChild(el("li", {}, [
            el("button", { class: "link", text: s.name, on: function () { state.person = s.id; kpi(); } }),
            el("span", { class: "what", text: s.score || "—" })]));
        });
        nodes.push(el("section", { class: "card" }, [el("h2", { text: say("scores") }), list,
          el("p", { class: "muted", text: say("score_note", { best: d.best || "100" }) })]));
      }
      show(nodes);
      // The trend is six assessments: drawn after the first view, not before it.
      if (trend) {
        api(q.replace("kpi?", "kpi/trend?")).then(function (t) {
          if (t.__status !== 200 || !trend.isConnected) return;
          trend.replaceChild(trendChart(t.labels, t.series), trend.lastChild);
        }).catch(stop);
      }
    }).catch(stop);
  }

  function kpiTable(lines) {
    var list = el("ul", { class: "lines kpi" });
    lines.forEach(function (l) {
      var note = l.problem ? say("problem_" + l.problem) : (l.pace ? say("pace", { pace: l.pace }) : "");
      list.appendChild(el("li", {}, [
        el("span", { class: "who", text: l.name + (l.weight ? say("weight", { weight: l.weight }) : "") }),
        el("span", { class: "what", text: l.actual + " / " + l.target + " · " + l.completion }),
        note ? el("span", { class: "note", text: note }) : null
      ]));
    });
    return list;
  }

  // Completion bars: the line at 100 % is the plan; a bar past it is over plan.
  function planChart(lines) {
    var rowH = 26, w = 320, left = 110, right = 44, top = 6;
    var h = top + lines.length * rowH + 6, span = w - left - right;
    var maxRatio = Math.max(1.2, Math.max.apply(null, lines.map(function (l) { return l.ratio || 0; })));
    var plan = left + span / maxRatio;
    var g = svg("svg", { viewBox: "0 0 " + w + " " + h, class: "chart plan", role: "img" });
    lines.forEach(function (l, i) {
      var y = top + i * rowH;
      var ratio = l.ratio || 0, width = Math.max(1, span * ratio / maxRatio);
      g.appendChild(svg("text", { x: left - 6, y: y + 15, "text-anchor": "end", class: "label",
                                  text: l.name.length > 7 ? l.name.slice(0, 7) + "…" : l.name }));
      g.appendChild(svg("rect", { x: left, y: y + 4, width: span, height: 14, class: "track", rx: 3 }));
      g.appendChild(svg("rect", { x: left, y: y + 4, width: width, height: 14, rx: 3,
                                  class: ratio >= 1 ? "bar done" : "bar" }));
      g.appendChild(svg("text", { x: w - right + 4, y: y + 15, class: "value", text: l.completion }));
    });
    g.appendChild(svg("line", { x1: plan, x2: plan, y1: 2, y2: h - 2, class: "planline" }));
    return g;
  }

  var COLOURS = 6;

  function trendChart(labels, series) {
    var w = 320, h = 150, left = 34, right = 8, top = 8, bottom = 24;
    var all = [];
    series.forEach(function (s) { s.values.forEach(function (v) { if (v !== null) all.push(v); }); });
    var max = Math.max(1.2, Math.max.apply(null, all.concat([0])));
    var x = function (i) { return left + (labels.length > 1 ? i * (w - left - right) / (labels.length - 1) : 0); };
    var y = function (v) { return top + (h - top - bottom) * (1 - v / max); };
    var g = svg("svg", { viewBox: "0 0 " + w + " " + h, class: "chart trend", role: "img" });
    [0, 0.5, 1].forEach(function (v) {
      g.appendChild(svg("line", { x1: left, x2: w - right, y1: y(v), y2: y(v), class: v === 1 ? "planline" : "grid" }));
      g.appendChild(svg("text", { x: left - 4, y: y(v) + 4, "text-anchor": "end", class: "axis", text: Math.round(v * 100) + "%" }));
    });
    [0, labels.length - 1].forEach(function (i) {
      g.appendChild(svg("text", { x: x(i), y: h - 6, "text-anchor": i ? "end" : "start", class: "axis", text: labels[i] }));
    });
    series.forEach(function (s, n) {
      var d = "";
      s.values.forEach(function (v, i) {
        if (v === null) return;
        d += (d ? " L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1);
        g.appendChild(svg("circle", { cx: x(i), cy: y(v), r: 2.5, class: "c" + (n % COLOURS) }));
      });
      if (d) g.appendChild(svg("path", { d: d, class: "series c" + (n % COLOURS) }));
    });
    var box = el("div", { class: "chartbox" }, [g]);
    var legend = el("ul", { class: "legend" });
    series.forEach(function (s, n) { legend.appendChild(el("li", { class: "c" + (n % COLOURS), text: s.name })); });
    box.appendChild(legend);
    return box;
  }

  // ---- 渠道 ----------------------------------------------------------------------------------

  function channels() {
    var q = "channels?region=" + encodeURIComponent(state.region) + "&industry=" + encodeURIComponent(state.industry);
    api(q).then(function (d) {
      var region = picker("region", d.regions, state.region, say("all_regions"));
      var industry = picker("industry", d.industries, state.industry, say("all_industries"));
      var nodes = [el("div", { class: "filters" }, [region, industry]),
                   el("section", { class: "card" }, [el("h2", { text: say("funnel") }), funnel(d.funnel)])];
      var list = el("ul", { class: "lines channels" });
      d.channels.forEach(function (c) {
        list.appendChild(el("li", {}, [
          el("button", { class: "link", "data-channel": String(c.id), text: c.name,
                         on: function () { history(c.id); } }),
          el("span", { class: "what", text: c.stage + " · " + c.region + " · " + c.industry +
                       (c.owner ? " · " + c.owner : "") })]));
      });
      if (!d.channels.length) list.appendChild(el("li", { class: "muted", text: say("no_channels") }));
      nodes.push(el("section", { class: "card" }, [el("h2", { text: say("channels") }), list]));
      nodes.push(el("div", { id: "history" }));
      show(nodes);
    }).catch(stop);
  }

  function picker(name, choices, current, all) {
    var select = el("select", { id: name, "aria-label": all });
    select.appendChild(el("option", { value: "", text: all }));
    choices.forEach(function (c) {
      var o = el("option", { value: c[0], text: c[1] });
      if (c[0] === current) o.selected = true;
      select.appendChild(o);
    });
    select.addEventListener("change", function () { state[name] = select.value; channels(); });
    return select;
  }

  function funnel(stages) {
    var rowH = 28, w = 320, h = stages.length * rowH + 4, mid = 200;
    var max = Math.max(1, Math.max.apply(null, stages.map(function (s) { return s.count; })));
    var g = svg("svg", { viewBox: "0 0 " + w + " " + h, class: "chart funnel", role: "img" });
    stages.forEach(function (s, i) {
      var width = Math.max(2, 200 * s.count / max), y = i * rowH + 2;
      g.appendChild(svg("rect", { x: mid - width / 2 + 10, y: y, width: width, height: rowH - 6, rx: 3,
                                  class: s.stage === "lost" ? "bar lost" : "bar" }));
      g.appendChild(svg("text", { x: 4, y: y + 16, class: "label", text: s.label }));
      g.appendChild(svg("text", { x: w - 4, y: y + 16, "text-anchor": "end", class: "value",
                                  "data-stage": s.stage, text: String(s.count) }));
    });
    return g;
  }

  function history(id) {
    api("channels/" + id).then(function (d) {
      var box = document.getElementById("history");
      if (!box || d.__status !== 200) return;
      var list = el("ol", { class: "lines" });
      d.history.forEach(function (c) {
        list.appendChild(el("li", {}, [
          el("span", { class: "who", text: (c.from ? c.from + " → " : "") + c.to }),
          el("span", { class: "what", text: c.at + (c.by ? " · " + c.by : "") })]));
      });
      box.textContent = "";
      box.appendChild(el("section", { class: "card", id: "channel-history" }, [
        el("h2", { text: say("history") + ": " + d.name }), list,
        el("button", { text: say("close"), on: function () { box.textContent = ""; } })]));
      box.scrollIntoView({ block: "nearest" });
    }).catch(stop);
  }

  // ---- 待审批 --------------------------------------------------------------------------------

  function approvals(note) {
    api("approvals").then(function (d) {
      var nodes = [];
      if (note) nodes.push(el("p", { class: note.ok ? "ok" : "error", role: "status", text: note.text }));
      if (!d.items.length) nodes.push(el("p", { class: "muted", text: say("nothing_waiting") }));
      d.items.forEach(function (item) {
        var buttons = el("div", { class: "actions" });
        var card = el("section", { class: "card approval", "data-item": item.kind + ":" + item.id }, [
          el("h2", { text: item.form + " #" + item.id + " · " + item.title }),
          el("p", { class: "muted", text: say("by", { name: item.proposer, at: item.submitted }) }),
          el("pre", { class: "cardtext", text: item.text }), buttons]);
        item.decisions.forEach(function (decision) {
          var label = item.suggestion ? say("suggestion_" + decision) : say(decision);
          buttons.appendChild(el("button", { "data-decision": decision, class: decision,
            text: label, on: function () { decide(card, item, decision); } }));
        });
        nodes.push(card);
      });
      show(nodes);
    }).catch(stop);
  }

  function decide(card, item, decision) {
    var asks = item.reasons[decision]; // as the chat asks: the form says (a plan: not to approve)
    if (!asks) { send(item, decision, null); return; }
    var old = card.querySelector("form");
    if (old) old.remove();
    var ask = say(item.suggestion ? "ask_reply" : "ask_" + decision);
    var text = el("textarea", { name: "reason", rows: "3", maxlength: "1000", required: "required",
                                placeholder: ask });
    var form = el("form", { class: "reason" }, [
      el("label", { text: ask }), text,
      el("div", { class: "actions" }, [
        el("button", { type: "submit", class: "primary", text: say("send") }),
        el("button", { type: "button", text: say("cancel"), on: function () { form.remove(); } })])]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (text.value.trim()) send(item, decision, text.value.trim());
    });
    card.appendChild(form);
    text.focus();
  }

  function send(item, decision, reason) {
    var body = JSON.stringify({ kind: item.kind, id: item.id, version: item.version,
                                decision: decision, reason: reason });
    api("approvals/decide", { method: "POST", body: body }).then(function (d) {
      approvals(d.decided ? { ok: true, text: say("decided") } : { ok: false, text: d.message || say("failed") });
    }).catch(stop);
  }

  // ---- 反馈 ----------------------------------------------------------------------------------

  function feedback() {
    api("feedback?offset=" + state.fbOffset).then(function (d) {
      if (d.__status !== 200) { failed(); return; }
      var nav = el("div", { class: "nav" }, [
        el("button", { "data-nav": "earlier", text: say("earlier"), on: function () { state.fbOffset -= 1; feedback(); } }),
        el("strong", { class: "period", text: d.period }),
        state.fbOffset < 0 ? el("button", { "data-nav": "later", text: say("later"),
          on: function () { state.fbOffset += 1; feedback(); } }) : el("span")]);
      var nodes = [nav, el("p", { class: "muted", id: "fb-counts",
                                  text: say("feedback_counts", { items: d.items, mentions: d.mentions }) })];
      if (!d.items) nodes.push(el("p", { class: "muted", text: say("no_feedback") }));
      nodes.push(el("section", { class: "card" }, [el("h2", { text: say("by_category") }),
        pairBars(d.categories)]));
      if (d.themes.length) {
        var themes = el("ol", { class: "lines themes" });
        d.themes.forEach(function (t) {
          themes.appendChild(el("li", {}, [el("span", { class: "who", text: t.text }),
            el("span", { class: "what", text: t.category + " · ×" + t.count })]));
        });
        nodes.push(el("section", { class: "card" }, [el("h2", { text: say("themes") }), themes]));
      }
      var segments = d.segments.filter(function (s) { return s.count; });
      if (segments.length) {
        nodes.push(el("section", { class: "card" }, [el("h2", { text: say("segments") }),
          pairBars(segments)]));
      }
      if (d.channels.length) {
        var ch = el("ul", { class: "lines" });
        d.channels.forEach(function (c) {
          ch.appendChild(el("li", {}, [el("span", { class: "who", text: c.name }),
                                       el("span", { class: "what", text: "×" + c.count })]));
        });
        nodes.push(el("section", { class: "card" }, [el("h2", { text: say("by_channel") }), ch]));
      }
      show(nodes);
    }).catch(stop);
  }

  // Horizontal bars: this week's count, and a thin one for last week's when there is one.
  function pairBars(rows) {
    var rowH = 26, w = 320, left = 92, right = 52, h = rows.length * rowH + 4, span = w - left - right;
    var max = Math.max(1, Math.max.apply(null, rows.map(function (r) { return Math.max(r.count, r.previous || 0); })));
    var g = svg("svg", { viewBox: "0 0 " + w + " " + h, class: "chart bars", role: "img" });
    rows.forEach(function (r, i) {
      var y = i * rowH + 2;
      g.appendChild(svg("text", { x: left - 6, y: y + 14, "text-anchor": "end", class: "label", text: r.label }));
      g.appendChild(svg("rect", { x: left, y: y + 3, width: Math.max(1, span * r.count / max), height: 12, rx: 2, class: "bar" }));
      if (r.previous !== undefined) {
        g.appendChild(svg("rect", { x: left, y: y + 17, width: Math.max(1, span * r.previous / max), height: 4, rx: 1, class: "bar previous" }));
      }
      g.appendChild(svg("text", { x: w - right + 4, y: y + 14, class: "value",
        text: r.previous !== undefined ? r.count + " / " + r.previous : String(r.count) }));
    });
    return g;
  }

  function stop(reason) { if (reason !== "denied") failed(); }

  document.addEventListener("DOMContentLoaded", function () {
    view = document.getElementById("view");
    tabs = document.getElementById("tabs");
    theme();
    if (!initData) { deny(); return; }
    var wanted = hash.get("tab") || "today";
    var first = { today: "today", kpi: "kpi?period=month&offset=0", channels: "channels?region=&industry=",
                  approvals: "approvals", feedback: "feedback?offset=0" }[wanted];
    if (first) early[first] = api(first);
    api("me").then(function (d) {
      me = d;
      S = d.strings;
      document.title = say("title");
      document.documentElement.lang = d.locale;
      if (me.tabs.indexOf(wanted) >= 0) state.tab = wanted;
      go();
    }).catch(stop);
  });
})();
