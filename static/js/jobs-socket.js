// The live feed of the shop's jobs over /ws/jobs (contract: /work/shared/ARCHITECTURE.md, "Websocket").
// - every connect and every refresh takes a fresh token from App Bridge (`getToken`);
// - the token is refreshed on the open socket (`{"type":"auth"}`) well before it expires;
// - a reconnect resumes with `since=<last seq>`; a seq gap (seq != last + 1) triggers a resync;
// - a dropped socket is reconnected with exponential back-off and full jitter;
// - the shop is the token's: when it changes, the caller is told to forget what it shows.

const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_UNINSTALLED = 4403;
const CLOSE_RESYNC = 4000; // ours: "I saw a gap, reconnecting with since"
// After this many resyncs without a healthy stretch, ask for a full snapshot instead of a replay.
const MAX_RESYNCS = 3;

export class JobsSocket {
  constructor({
    url, getToken, shopFromToken, onSnapshot, onJob, onStatus, onShopChange = () => {},
    refreshMs = 40000, baseDelayMs = 500, maxDelayMs = 30000, healthyAfterMs = 5000, random = Math.random,
    WebSocketImpl = window.WebSocket,
  }) {
    Object.assign(this, {
      url, getToken, shopFromToken, onSnapshot, onJob, onStatus, onShopChange,
      refreshMs, baseDelayMs, maxDelayMs, healthyAfterMs, random, WebSocketImpl,
    });
    this.ws = null;
    this.shop = null;
    this.lastSeq = null;
    this.attempt = 0;
    this.resyncs = 0;
    this.authFailures = 0;
    this.stopped = true;
    this.connecting = false;
    this.timers = { reconnect: null, refresh: null, healthy: null };
  }

  start() {
    this.stopped = false;
    this._connect();
  }

  stop() {
    this.stopped = true;
    this._clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "page closed");
  }

  /** Skip the back-off wait (the merchant pressed "Retry now", or the browser came back online). */
  reconnectNow() {
    if (this.stopped || this.ws || this.connecting) return;
    clearTimeout(this.timers.reconnect);
    this._connect();
  }

  async _connect() {
    if (this.stopped || this.connecting) return;
    this.connecting = true;
    clearTimeout(this.timers.reconnect);
    let token;
    try {
      token = await this.getToken();
    } catch (_error) {
      this.connecting = false;
      this._scheduleReconnect(0);
      return;
    }
    this.connecting = false;
    if (this.stopped) return;
    const shop = this.shopFromToken(token);
    if (shop !== this.shop) {
      // Another shop (or the first connect): nothing we hold may be shown or resumed.
      this.shop = shop;
      this.lastSeq = null;
      this.onShopChange(shop);
    }
    const params = new URLSearchParams({ id_token: token });
    if (this.lastSeq !== null) params.set("since", String(this.lastSeq));
    const ws = new this.WebSocketImpl(`${this.url}?${params}`);
    this.ws = ws;
    ws.onopen = () => this._onOpen(ws);
    ws.onmessage = (event) => this._onMessage(ws, event);
    ws.onclose = (event) => this._onClose(ws, event);
  }

  _onOpen(ws) {
    if (ws !== this.ws) return;
    this.onStatus({ status: "live" });
    this.timers.healthy = setTimeout(() => this._markHealthy(), this.healthyAfterMs);
    this.timers.refresh = setInterval(() => this._refresh(ws), this.refreshMs);
  }

  _markHealthy() {
    this.attempt = 0;
    this.authFailures = 0;
  }

  _onMessage(ws, event) {
    if (ws !== this.ws) return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (_error) {
      console.warn("jobs socket: ignored a frame that is not JSON");
      return;
    }
    this._markHealthy();
    if (message.type === "snapshot") {
      this.lastSeq = message.seq;
      this.resyncs = 0;
      this.onSnapshot(message.jobs, message.seq);
    } else if (message.type === "job") {
      if (this.lastSeq === null) {
        this._resync(); // an event without a baseline: ask for a snapshot
      } else if (message.seq <= this.lastSeq) {
        // already applied (a replay overlapping what we had)
      } else if (message.seq !== this.lastSeq + 1) {
        this._resync();
      } else {
        this.lastSeq = message.seq;
        this.onJob(message.job, message.seq);
      }
    }
  }

  _resync() {
    this.resyncs += 1;
    if (this.resyncs > MAX_RESYNCS) this.lastSeq = null; // replays keep failing: take a snapshot
    const ws = this.ws;
    this.ws = null;
    this._clearTimers();
    if (ws) ws.close(CLOSE_RESYNC, "resync");
    this._connect();
  }

  _onClose(ws, event) {
    if (ws !== this.ws) return;
    this.ws = null;
    this._clearTimers();
    if (this.stopped) return;
    if (event.code === CLOSE_UNINSTALLED) {
      this.stopped = true;
      this.onStatus({ status: "uninstalled" });
      return;
    }
    if (event.code === CLOSE_UNAUTHORIZED) this.authFailures += 1;
    this._scheduleReconnect(event.code);
  }

  _scheduleReconnect(code) {
    // Full jitter over an exponentially growing window, so that every page of a restarted server does
    // not come back in the same instant.
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** this.attempt);
    const delayMs = Math.round(ceiling / 2 + this.random() * (ceiling / 2));
    this.attempt += 1;
    this.onStatus({ status: "reconnecting", code, delayMs, attempt: this.attempt, authFailures: this.authFailures });
    this.timers.reconnect = setTimeout(() => this._connect(), delayMs);
  }

  async _refresh(ws) {
    let token;
    try {
      token = await this.getToken();
    } catch (_error) {
      return; // try again at the next tick; the server allows a grace period
    }
    if (ws !== this.ws || ws.readyState !== 1 /* OPEN */) return;
    if (this.shopFromToken(token) !== this.shop) {
      this._resync(); // App Bridge now speaks for another shop: reconnect (and forget) with its token
      return;
    }
    ws.send(JSON.stringify({ type: "auth", id_token: token }));
  }

  _clearTimers() {
    clearTimeout(this.timers.reconnect);
    clearInterval(this.timers.refresh);
    clearTimeout(this.timers.healthy);
  }
}
