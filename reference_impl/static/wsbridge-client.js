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
 *     onEvent(event, info) {},        // each event once, in seq order
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
 */
(function (global) {
  "use strict";

  // Close codes after which retrying cannot help (see reference_impl/protocol.py CLOSE_CODES).
  var FINAL_CLOSE_CODES = { 1000: true, 1003: true, 1008: true, 1009: true, 4001: true };
  var CONTROL_TYPES = {
    authenticated: true, subscribed: true, resync_required: true, unsubscribed: true,
    error: true, pong: true,
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

  /** The seq and epoch of an event: native wire dicts carry them; AG-UI events carry them in
   * their envelope (`seq`/`epoch` at the top level, else `rawEvent` or `meta`). */
  function position(message) {
    var holders = [message, message.rawEvent || {}, message.meta || {}, message.wsbridge || {}];
    for (var i = 0; i < holders.length; i += 1) {
      if (typeof holders[i].seq === "number") {
        return { seq: holders[i].seq, epoch: holders[i].epoch || null };
      }
    }
    return { seq: null, epoch: null };
  }

  WsBridgeClient.prototype._event = function (message) {
    var at = position(message);
    if (at.seq === null) {  // nothing to order by: pass it on as it is
      this.onEvent(message, { seq: null, epoch: this.epoch });
      return;
    }
    if (at.epoch && at.epoch !== this.epoch) { this._setEpoch(at.epoch, "event"); this.lastSeq = 0; }
    if (this.lastSeq !== null && at.seq <= this.lastSeq) {
      this.onStatus({ kind: "duplicate", seq: at.seq, lastSeq: this.lastSeq });
      return;
    }
    if (this.lastSeq !== null && at.seq > this.lastSeq + 1) {
      this.onStatus({ kind: "gap", from: this.lastSeq + 1, to: at.seq - 1 });
    }
    this.lastSeq = at.seq;
    this.onEvent(message, { seq: at.seq, epoch: this.epoch });
  };

  global.WsBridgeClient = WsBridgeClient;
})(typeof window !== "undefined" ? window : this);
