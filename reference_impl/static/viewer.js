/*
 * The live viewer of `wsbridge serve` (GET /?thread=T&token=TOK[&dialect=ag-ui][&ws=URL]).
 *
 * Draws each run of the thread as a timeline (started, thinking, tool calls with parameters and
 * results, completed or error, each with its seq), and marks reconnects, resumes, epoch
 * changes, resyncs and gaps between them. window.wsbridgeViewer.state is what it saw (tests
 * read it). No framework, no build step: DOM calls only (the page's CSP forbids inline code).
 */
(function () {
  "use strict";

  var params = new URLSearchParams(window.location.search);
  var threadId = params.get("thread");
  var state = {
    status: "idle", epoch: null, lastSeq: null, events: [], runs: {}, reconnects: 0,
    duplicates: 0, gaps: [], resyncs: [], epochs: [], errors: [], subscribed: 0,
  };
  window.wsbridgeViewer = { state: state, client: null };

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function short(value, limit) {
    var text = typeof value === "string" ? value : JSON.stringify(value);
    if (text === undefined) { text = String(value); }
    limit = limit || 160;
    return text.length > limit ? text.slice(0, limit - 1) + "…" : text;
  }

  function clock(timestamp) {
    var date = timestamp ? new Date(timestamp) : new Date();
    if (isNaN(date.getTime())) { date = new Date(); }
    return date.toISOString().slice(11, 23);
  }

  // -- what an event says, per dialect ------------------------------------------------------

  /** The detail of a thinking row: "step N: " + the reasoning + " (P%)"; ``fields`` holds
   * step_number and progress_percentage (a native payload, or a mapped event's
   * metadata.wsbridge). */
  function thinking(fields, text) {
    return (fields.step_number != null ? "step " + fields.step_number + ": " : "") +
      short(text || "") +
      (fields.progress_percentage != null ? " (" + fields.progress_percentage + "%)" : "");
  }

  /** {run, kind, label, detail, agent, time} of a native wire event. */
  function describeNative(e) {
    var p = e.payload || {};
    var d = { run: e.run_id, kind: e.type, agent: e.agent_name, time: e.timestamp, detail: "" };
    switch (e.type) {
      case "agent_started":
        d.label = "started"; d.detail = p.context ? short(p.context) : ""; break;
      case "agent_thinking":
        d.label = "thinking"; d.detail = thinking(p, p.reasoning); break;
      case "tool_executing":
        d.label = "tool " + p.tool_name; d.kind = "tool_executing";
        d.detail = "parameters " + short(p.parameters || {}); break;
      case "tool_completed":
        d.label = "tool " + p.tool_name + " done"; d.kind = "tool_completed";
        d.detail = "result " + short(p.result) +
          (p.execution_time_ms != null ? " in " + p.execution_time_ms + " ms" : "");
        break;
      case "agent_completed":
        d.label = "completed"; d.detail = p.result != null ? short(p.result) : ""; break;
      case "agent_error":
        d.label = "error"; d.detail = short(p.error || ""); break;
      default:
        d.label = e.type; d.detail = short(p);
    }
    return d;
  }

  // AG-UI events that only open or close what the rows around them show.
  var MINOR = {
    REASONING_START: true, REASONING_END: true, REASONING_MESSAGE_START: true,
    REASONING_MESSAGE_END: true, THINKING_START: true, THINKING_END: true,
    THINKING_TEXT_MESSAGE_START: true, THINKING_TEXT_MESSAGE_END: true,
    TEXT_MESSAGE_START: true, TEXT_MESSAGE_END: true, TOOL_CALL_END: true,
  };

  /** The same for an AG-UI event (RUN_STARTED, TOOL_CALL_START, REASONING_MESSAGE_CONTENT, ...);
   * events without a runId belong to the run started last. */
  function describeAgui(e) {
    var t = String(e.type || "");
    if (e.runId) { state.lastRun = e.runId; }
    var d = { run: e.runId || state.lastRun || "(no run)", kind: "custom", agent: "",
      time: e.timestamp, label: t.toLowerCase().replace(/_/g, " "), detail: "",
      minor: !!MINOR[t] };
    if (t === "RUN_STARTED") {
      d.kind = "agent_started"; d.label = "started";
      var vendor = (e.metadata && e.metadata.wsbridge) || {};  // the bridge's native fields
      d.agent = vendor.agent_name || "";
    } else if (t === "RUN_FINISHED") {
      d.kind = "agent_completed"; d.label = "completed";
      d.detail = e.result != null ? short(e.result) : "";
    } else if (t === "RUN_ERROR") {
      d.kind = "agent_error"; d.label = "error";
      d.detail = (e.code ? e.code + ": " : "") + short(e.message || "");
    } else if (t.indexOf("THINKING") === 0 || t.indexOf("REASONING") === 0) {
      d.kind = "agent_thinking";
      if (!d.minor) {  // REASONING_MESSAGE_CHUNK (one agent_thinking), _CONTENT, ...
        d.label = "thinking";
        d.detail = thinking((e.metadata && e.metadata.wsbridge) || {}, e.delta || e.title);
      }
    } else if (t === "TOOL_CALL_START") {
      d.kind = "tool_executing"; d.label = "tool " + e.toolCallName; d.detail = "call " + e.toolCallId;
    } else if (t === "TOOL_CALL_ARGS") {
      d.kind = "tool_executing"; d.label = "tool arguments"; d.detail = "parameters " + short(e.delta || "");
    } else if (t === "TOOL_CALL_END") {
      d.kind = "tool_executing";
    } else if (t === "TOOL_CALL_RESULT") {
      d.kind = "tool_completed"; d.label = "tool result"; d.detail = "result " + short(e.content);
    } else if (t.indexOf("TEXT_MESSAGE") === 0) {
      d.label = "message"; d.detail = short(e.delta || e.role || "");
    } else if (t === "CUSTOM") {
      d.label = "custom " + e.name; d.detail = short(e.value);
    } else {
      var rest = {};
      Object.keys(e).forEach(function (k) { if (k !== "type" && k !== "timestamp") { rest[k] = e[k]; } });
      d.detail = short(rest);
    }
    return d;
  }

  // -- drawing --------------------------------------------------------------------------------

  function runCard(run, agent) {
    var card = state.runs[run];
    if (card) { return card; }
    var section = el("section", "run");
    section.dataset.run = run;
    var head = el("h2", "run-head");
    head.appendChild(el("span", "run-id", run));
    if (agent) { head.appendChild(el("span", "agent", agent)); }
    var badge = el("span", "badge", "running");
    head.appendChild(badge);
    section.appendChild(head);
    var list = el("ol", "events");
    section.appendChild(list);
    $("timeline").appendChild(section);
    card = state.runs[run] = { section: section, list: list, badge: badge, count: 0 };
    return card;
  }

  function note(kind, text) {
    var row = el("div", "note note-" + kind);
    row.dataset.kind = kind;
    row.appendChild(el("span", "time", clock()));
    row.appendChild(el("span", "text", text));
    $("timeline").appendChild(row);
    row.scrollIntoView({ block: "nearest" });
  }

  /** Mark every run still running, inline in its timeline (a drop, a resume, a new epoch). */
  function markOpenRuns(kind, text, badge) {
    Object.keys(state.runs).forEach(function (run) {
      var card = state.runs[run];
      if (card.done) { return; }
      var row = el("li", "marker marker-" + kind, text);
      row.dataset.kind = kind;
      card.list.appendChild(row);
      if (badge) {
        card.done = true;
        card.badge.textContent = badge;
        card.badge.className = "badge badge-" + kind;
      }
    });
  }

  function setStatus(kind, text) {
    state.status = kind;
    var node = $("status");
    node.dataset.kind = kind;
    node.textContent = text;
  }

  function refresh() {
    $("epoch").textContent = state.epoch || "–";
    $("last-seq").textContent = state.lastSeq === null ? "–" : String(state.lastSeq);
    $("count").textContent = String(state.events.length);
    $("reconnects").textContent = String(state.reconnects);
    $("duplicates").textContent = String(state.duplicates);
    $("gaps").textContent = String(state.gaps.length);
  }

  /** The event types that end a run: the END rows of the bridge's event table, which the
   * server writes into the page (body data-terminal-types). */
  function terminalTypes() {
    return (document.body.dataset.terminalTypes || "").split(" ");
  }

  function onEvent(event, info) {
    var d = dialect === "ag-ui" ? describeAgui(event) : describeNative(event);
    state.events.push({
      seq: info.seq, part: info.part || 0, epoch: info.epoch, type: event.type, run: d.run,
    });
    state.lastSeq = info.seq;
    var card = runCard(d.run, d.agent);
    var row = el("li", "event kind-" + d.kind + (d.minor ? " minor" : ""));
    row.dataset.seq = info.seq === null ? "" : String(info.seq);
    row.dataset.part = String(info.part || 0);
    row.dataset.type = event.type;
    var seqText = info.seq === null ? "·" : "#" + info.seq + (info.parts > 1 ? "." + info.part : "");
    row.appendChild(el("span", "seq", seqText));
    row.appendChild(el("span", "time", clock(d.time)));
    row.appendChild(el("span", "label", d.label));
    row.appendChild(el("span", "detail", d.detail));
    card.list.appendChild(row);
    card.count += 1;
    if (terminalTypes().indexOf(d.kind) >= 0) {
      var failed = d.kind === "agent_error";
      card.done = true;
      card.badge.textContent = d.kind === "agent_completed" ? "completed" : failed ? "error" : d.label;
      card.badge.className = "badge badge-" + (failed ? "error" : "done");
    }
    row.scrollIntoView({ block: "nearest" });
    refresh();
  }

  function onStatus(s) {
    switch (s.kind) {
      case "connecting":
        setStatus("connecting", s.attempt ? "reconnecting (attempt " + s.attempt + ")" : "connecting");
        break;
      case "subscribed":
        state.subscribed += 1;
        state.epoch = s.epoch;
        if (state.epochs.indexOf(s.epoch) < 0) { state.epochs.push(s.epoch); }
        setStatus("live", "live");
        if (s.connection > 1) {
          markOpenRuns("resumed", "resumed: " + s.recovered + " missed event(s) replayed");
          note("resumed", "reconnected: resumed in epoch " + s.epoch + " with " + s.recovered +
            " missed event(s) replayed (head seq " + s.headSeq + ")");
        }
        break;
      case "reconnecting":
        setStatus("reconnecting", "disconnected (" + s.code + "), retry " + s.attempt + " in " +
          s.delay + " ms");
        if (s.attempt === 1) {  // one outage, however many attempts it takes
          state.reconnects += 1;
          markOpenRuns("drop", "connection dropped after seq " + s.resumeAfter);
          note("drop", "connection dropped (close " + s.code + (s.reason ? ": " + s.reason : "") +
            "); resuming after seq " + s.resumeAfter + " in " + s.delay + " ms");
        }
        state.attempts = s.attempt;
        break;
      case "resync":
        state.resyncs.push({ epoch: s.epoch, headSeq: s.headSeq, reason: s.reason });
        note("resync", "resync_required: " + (s.reason || "the log cannot serve the resume") +
          " (epoch " + s.epoch + ", head seq " + s.headSeq + ")");
        break;
      case "epoch":
        state.epoch = s.epoch;
        if (state.epochs.indexOf(s.epoch) < 0) { state.epochs.push(s.epoch); }
        markOpenRuns("epoch", "the server's history restarted (new epoch): this run did not finish in it", "interrupted");
        note("epoch", "new epoch " + s.epoch + " (was " + s.previousEpoch +
          "): the server's log restarted; showing it from its start");
        break;
      case "duplicate":
        state.duplicates += 1;
        break;
      case "gap":
        state.gaps.push([s.from, s.to]);
        note("gap", "gap: seq " + s.from + (s.to > s.from ? "–" + s.to : "") + " never arrived");
        break;
      case "error":
        state.errors.push({ code: s.code, message: s.message });
        note("error", "error " + s.code + ": " + s.message);
        break;
      case "closed":
        setStatus("closed", "closed" + (s.code ? " (" + s.code + (s.reason ? ": " + s.reason : "") + ")" : ""));
        break;
      default:
        break;
    }
    refresh();
  }

  // -- start ----------------------------------------------------------------------------------

  var dialect = params.get("dialect") || "native";
  if (!threadId) {
    $("pick").hidden = false;
    return;
  }
  $("summary").hidden = false;
  $("thread").textContent = threadId + (dialect !== "native" ? " (" + dialect + ")" : "");
  document.title = threadId + " · wsbridge viewer";

  var wsUrl = params.get("ws");
  if (!wsUrl) {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    wsUrl = scheme + window.location.host + (document.body.dataset.wsPath || "/");
  }
  var lastSeq = params.get("last_seq");
  var client = new WsBridgeClient({
    url: wsUrl,
    threadId: threadId,
    token: params.get("token"),
    dialect: dialect,
    lastSeq: lastSeq === null ? 0 : Number(lastSeq),
    epoch: params.get("epoch"),
    onEvent: onEvent,
    onStatus: onStatus,
  });
  window.wsbridgeViewer.client = client;
  client.start();
})();
