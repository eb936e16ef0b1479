// The /v1/events subscription: reconnects after a lost connection and tells the listener when
// events were missed (a gap in seq, or a hello past the last event; count null: the daemon
// restarted and its seq started over).
import WebSocket from "ws";

export interface DaemonEvent { type: string; ts?: string; seq?: number; [field: string]: unknown }
export interface MissedEvents { type: "missed"; count: number | null; reason: "gap" | "reconnected" | "restarted" }
export type EventListener = (event: DaemonEvent | MissedEvents) => void;

export class SeqTracker {
  stream: string | null = null;
  last = 0;

  see(message: DaemonEvent): MissedEvents | null {
    if (message.type === "hello") return this.hello(message);
    if (typeof message.seq !== "number") return null;
    const gap = message.seq - this.last - 1;
    this.last = Math.max(this.last, message.seq);
    return gap > 0 ? { type: "missed", count: gap, reason: "gap" } : null;
  }

  private hello(hello: DaemonEvent): MissedEvents | null {
    const stream = String(hello.stream ?? "");
    const seq = Number(hello.seq ?? 0);
    const first = this.stream === null;
    const restarted = stream !== this.stream;
    this.stream = stream;
    if (first || restarted) {
      this.last = seq;
      return first ? null : { type: "missed", count: null, reason: "restarted" };
    }
    const gap = seq - this.last;
    this.last = Math.max(this.last, seq);
    return gap > 0 ? { type: "missed", count: gap, reason: "reconnected" } : null;
  }
}

export class EventSubscription {
  private socket: WebSocket | null = null;
  private closed = false;
  private pauseMs = 200;
  readonly tracker = new SeqTracker();

  constructor(private readonly baseUrl: string, private readonly token: string | undefined,
              private readonly listener: EventListener, private readonly reconnect: boolean) {
    this.open();
  }

  close(): void {
    this.closed = true;
    this.socket?.close();
  }

  private open(): void {
    const url = this.baseUrl.replace(/^http/, "ws") + "/v1/events";
    const headers: Record<string, string> = this.token ? { Authorization: `Bearer ${this.token}` } : {};
    const socket = new WebSocket(url, { headers });
    this.socket = socket;
    socket.on("open", () => { this.pauseMs = 200; });
    socket.on("message", (data) => {
      const message = JSON.parse(String(data)) as DaemonEvent;
      const missed = this.tracker.see(message);
      if (missed) this.listener(missed);
      this.listener(message);
    });
    socket.on("error", () => { /* followed by close */ });
    socket.on("close", () => {
      if (this.closed || !this.reconnect) return;
      setTimeout(() => { if (!this.closed) this.open(); }, this.pauseMs);
      this.pauseMs = Math.min(5000, this.pauseMs * 2);
    });
  }
}
