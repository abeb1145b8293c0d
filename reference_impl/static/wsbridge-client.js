/*
 * wsbridge-client.js: the browser client of the pytest-wsbridge WebSocket protocol.
 *
 * A classic script (no build step, no dependency) defining window.WsBridgeClient. Serve it from
 * your own pages with reference_impl.web.static_file("wsbridge-client.js"), or take it from
 * /static/wsbridge-client.js of `wsbridge serve`. See docs/operations.md.
 *
 *   const client = new WsBridgeClient({
 *     url: "wss://example.com/ws", threadId: "thread-1", token: "...", lastSeq: 0,
 *     dialect: "native",              // or "ag-ui"
 *     onEvent(event, info) {},        // each event once, in seq order; info: {seq, epoch,
 *                                     //  part, parts} (an AG-UI frame is part of a native event)
 *     onStatus(status) {},            // {kind: "connecting"|"subscribed"|"reconnecting"|
 *                                     //  "resync"|"epoch"|"gap"|"duplicate"|"error"|"closed", ...}
 *   });
 *   client.start();  ...  client.stop();
 *
 * It authenticates with an `auth` frame (browsers cannot set headers), subscribes, and after a
 * drop reconnects with exponential back-off and full jitter, resuming with last_seq and epoch.
 * An event at or below the last seq of the same epoch is a duplicate and is dropped; a jump in
 * seq is reported as a gap; resync_required and epoch changes are reported and followed (a new
 * epoch is read from its start, a trimmed log from its head).
 *
 * In the "ag-ui" dialect each frame is an envelope {type: "ag-ui", thread_id, seq, epoch, part,
 * parts, event}; onEvent gets the bare AG-UI `event`. The unit of resume is the native event
 * (seq): after a drop the server replays a cut event from part 0, and parts already handed on
 * are dropped as duplicates, so each AG-UI event reaches onEvent once.
 */
(function (global) {
  "use strict";

  // Close codes after which retrying cannot help (see reference_impl/protocol.py CLOSE_CODES).
  var FINAL_CLOSE_CODES = { 1000: true, 1003: true, 1008: true, 1009: true, 4001: true };
  var CONTROL_TYPES = {
    authenticated: true, subscribed: true, resync_required: true, unsubscribed: true,
    error: true, pong: true, run_accepted: true,
  };

  function WsBridgeClient(options) {
    if (!options || !options.url || !options.threadId) {
      throw new Error("WsBridgeClient needs {url, threadId}");
    }
    this.url = options.url;
    this.threadId = options.threadId;
    this.token = options.token || null;
    this.dialect = options.dialect || "native";
    this.lastSeq = options.lastSeq === undefined ? null : options.lastSeq;
    this.nextPart = 0;  // the next part expected of event lastSeq + 1 (ag-ui envelopes)
    this.epoch = options.epoch || null;
    this.onEvent = options.onEvent || function () {};
    this.onStatus = options.onStatus || function () {};
    this.minDelay = options.minDelay === undefined ? 250 : options.minDelay;
    this.maxDelay = options.maxDelay === undefined ? 8000 : options.maxDelay;
    this.random = options.random || Math.random;
    this.failures = 0;
    this.connections = 0;
    this.stopped = true;
    this.ws = null;
    this.timer = null;
  }

  WsBridgeClient.prototype.start = function () {
    this.stopped = false;
    this._connect();
  };

  WsBridgeClient.prototype.stop = function () {
    this.stopped = true;
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    if (this.ws !== null) { this.ws.close(1000, "client stopped"); this.ws = null; }
    this.onStatus({ kind: "closed", reason: "stopped" });
  };

  /** The delay before reconnect attempt n (1, 2, ...): full jitter over an exponential cap. */
  WsBridgeClient.prototype.backoff = function (attempt) {
    var cap = Math.min(this.maxDelay, this.minDelay * Math.pow(2, attempt - 1));
    return Math.round(cap / 2 + this.random() * cap / 2);
  };

  WsBridgeClient.prototype._connect = function () {
    var self = this;
    var ws = new WebSocket(this.url);
    this.ws = ws;
    this.connections += 1;
    this.onStatus({
      kind: "connecting", attempt: this.failures, resumeAfter: this.lastSeq, epoch: this.epoch,
    });
    ws.onopen = function () {
      if (self.token) { ws.send(JSON.stringify({ type: "auth", token: self.token })); }
      self._subscribe();
    };
    ws.onmessage = function (message) { self._receive(message.data); };
    ws.onclose = function (closed) {
      if (self.ws !== ws) { return; }
      self.ws = null;
      if (self.stopped) { return; }
      if (FINAL_CLOSE_CODES[closed.code]) {
        self.stopped = true;
        self.onStatus({ kind: "closed", code: closed.code, reason: closed.reason || "" });
        return;
      }
      self.failures += 1;
      var delay = self.backoff(self.failures);
      self.onStatus({
        kind: "reconnecting", code: closed.code, reason: closed.reason || "",
        attempt: self.failures, delay: delay, resumeAfter: self.lastSeq,
      });
      self.timer = setTimeout(function () { self.timer = null; self._connect(); }, delay);
    };
  };

  WsBridgeClient.prototype._subscribe = function () {
    var frame = { type: "subscribe", thread_id: this.threadId };
    if (this.lastSeq !== null) { frame.last_seq = this.lastSeq; }
    if (this.epoch !== null && this.lastSeq !== null) { frame.epoch = this.epoch; }
    if (this.dialect !== "native") { frame.dialect = this.dialect; }
    this.ws.send(JSON.stringify(frame));
  };

  WsBridgeClient.prototype._receive = function (data) {
    var message;
    try { message = JSON.parse(data); } catch (e) {
      this.onStatus({ kind: "error", code: "invalid_json", message: String(e) });
      return;
    }
    var kind = message.type;
    if (CONTROL_TYPES[kind] && !("seq" in message && "run_id" in message)) {
      this._control(message);
      return;
    }
    this._event(message);
  };

  WsBridgeClient.prototype._control = function (message) {
    if (message.type === "subscribed") {
      this.failures = 0;
      this._setEpoch(message.epoch, "subscribed");
      this.onStatus({
        kind: "subscribed", epoch: message.epoch, headSeq: message.head_seq,
        recovered: message.recovered, connection: this.connections,
      });
    } else if (message.type === "resync_required") {
      var newEpoch = message.epoch !== this.epoch;
      this.onStatus({
        kind: "resync", epoch: message.epoch, headSeq: message.head_seq,
        reason: message.reason || "", previousEpoch: this.epoch, lastSeq: this.lastSeq,
      });
      // A new epoch is a new history: read it from its start. The same epoch, trimmed: go on
      // from its head (what was trimmed is gone).
      this.nextPart = 0;
      if (newEpoch && this.lastSeq !== 0) {
        this._setEpoch(message.epoch, "resync");
        this.lastSeq = 0;
      } else {
        this.epoch = message.epoch;
        this.lastSeq = message.head_seq;
      }
      if (this.ws !== null) { this._subscribe(); }
    } else if (message.type === "error") {
      this.onStatus({ kind: "error", code: message.code, message: message.message });
    }
  };

  WsBridgeClient.prototype._setEpoch = function (epoch, why) {
    if (!epoch || epoch === this.epoch) { return; }
    var previous = this.epoch;
    this.epoch = epoch;
    if (previous !== null) {
      this.onStatus({ kind: "epoch", epoch: epoch, previousEpoch: previous, why: why });
    }
  };

  /** Where a frame stands: a native wire event is one whole event; an "ag-ui" envelope is part
   * `part` of `parts` of native event `seq`, and carries the AG-UI event in `event`. */
  function position(message) {
    var seq = typeof message.seq === "number" ? message.seq : null;
    if (message.type === "ag-ui" && message.event && typeof message.event === "object") {
      var parts = typeof message.parts === "number" && message.parts > 0 ? message.parts : 1;
      var part = typeof message.part === "number" ? message.part : 0;
      return { seq: seq, epoch: message.epoch || null, part: part, parts: parts,
        event: message.event };
    }
    return { seq: seq, epoch: message.epoch || null, part: 0, parts: 1, event: message };
  }

  WsBridgeClient.prototype._event = function (message) {
    var at = position(message);
    var info = { seq: at.seq, epoch: this.epoch, part: at.part, parts: at.parts };
    if (at.seq === null) {  // nothing to order by: pass it on as it is
      this.onEvent(at.event, info);
      return;
    }
    if (at.epoch && at.epoch !== this.epoch) {
      this._setEpoch(at.epoch, "event");
      this.lastSeq = 0;
      this.nextPart = 0;
      info.epoch = this.epoch;
    }
    var last = this.lastSeq;
    if (last !== null && (at.seq <= last || (at.seq === last + 1 && at.part < this.nextPart))) {
      this.onStatus({ kind: "duplicate", seq: at.seq, part: at.part, lastSeq: last });
      return;
    }
    if (last !== null && (at.seq > last + 1 || at.part > (at.seq === last + 1 ? this.nextPart : 0))) {
      this.onStatus({ kind: "gap", from: last + 1, to: at.seq - (at.part > 0 ? 0 : 1) });
    }
    if (at.part >= at.parts - 1) {  // the event is complete: a resume point
      this.lastSeq = at.seq;
      this.nextPart = 0;
    } else {
      this.lastSeq = at.seq - 1;
      this.nextPart = at.part + 1;
    }
    this.onEvent(at.event, info);
  };

  global.WsBridgeClient = WsBridgeClient;
})(typeof window !== "undefined" ? window : this);
