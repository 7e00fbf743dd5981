// The live websocket (/api/v1/ws): authenticate with a first message (a browser cannot set
// headers on a websocket, and the token never goes in the URL), subscribe, and on a lost
// connection reconnect with backoff, resuming from the last sequence number seen.

export const CORE_TOPICS = ["orders", "fills", "balances", "tickers", "positions", "risk", "streams", "reconciliation"];
/** Topics of features that may not exist on this bot: subscribed one by one (an unknown topic
 * is an error message, and must not spoil the core subscription). */
export const OPTIONAL_TOPICS = ["listings", "autobuy"];

const MAX_BACKOFF_MS = 15000;
/** The server pings every 15 s (MEXCBOT_API_WS_HEARTBEAT): this long without a word and the
 * connection is taken for dead (a sleeping laptop, a dropped route) and replaced. */
const SILENCE_MS = 45000;

export class Live extends EventTarget {
  constructor(token) {
    super();
    this.token = token;
    this.lastSeq = null;
    this.attempt = 0;
    this.state = "connecting";
    this.ws = null;
    this.stopped = false;
    this.timer = null;
    this.resumes = 0;
  }

  start() {
    this.stopped = false;
    this.connect();
    this.watchdog = setInterval(() => {
      if (this.ws && this.state === "live" && Date.now() - this.heard > SILENCE_MS) this.abandon(this.ws);
    }, 5000);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    if (this.ws) this.ws.close(1000, "logout");
    this.ws = null;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws`);
    this.ws = ws;
    this.heard = Date.now();
    ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "auth", token: this.token })));
    ws.addEventListener("message", (event) => this.receive(ws, event));
    ws.addEventListener("close", (event) => this.closed(ws, event));
  }

  /** Give up on a silent connection at once (its close handshake may never finish). */
  abandon(ws) {
    this.closed(ws, { code: 4000 });
    ws.close();
  }

  receive(ws, event) {
    this.heard = Date.now();
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    switch (message.type) {
      case "authenticated": {
        const subscribe = { type: "subscribe", topics: CORE_TOPICS };
        if (this.lastSeq !== null) {
          subscribe.since = this.lastSeq;
          this.resumes += 1;
        }
        ws.send(JSON.stringify(subscribe));
        for (const topic of OPTIONAL_TOPICS) ws.send(JSON.stringify({ type: "subscribe", topics: [topic] }));
        break;
      }
      case "subscribed":
        this.attempt = 0;
        this.setState("live");
        break;
      case "snapshot":
      case "update":
        if (typeof message.seq === "number") this.lastSeq = Math.max(this.lastSeq ?? 0, message.seq);
        this.dispatchEvent(new CustomEvent("message", { detail: message }));
        break;
      case "ping":
        ws.send(JSON.stringify({ type: "pong" }));
        break;
      case "error":
        this.dispatchEvent(new CustomEvent("problem", { detail: message.data }));
        break;
      default:
        break;
    }
  }

  closed(ws, event) {
    if (ws !== this.ws || this.stopped) return;
    this.ws = null; // a second close event of the same socket is not a second loss
    if (event.code === 4401) {
      this.setState("unauthorized");
      return;
    }
    this.setState("lost");
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
    this.attempt += 1;
    this.timer = setTimeout(() => {
      if (!this.stopped) {
        this.setState("connecting");
        this.connect();
      }
    }, delay);
  }

  setState(state) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }
}
