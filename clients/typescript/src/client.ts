// A small fetch-based client for the cardservice daemon, typed from docs/openapi.json.
// Writes carry an Idempotency-Key (one per call, kept across its retries); answers with a
// retriable code are retried a bounded number of times with back-off; errors are exceptions
// by code family (errors.ts).
import { randomUUID } from "node:crypto";
import type { components } from "./schema.js";
import {
  CardServiceError, ConnectionFailed, PairingFailed, fromResponse,
} from "./errors.js";
import { EventSubscription, type EventListener } from "./events.js";

type Schemas = components["schemas"];
export type Health = Schemas["Health"];
export type Reader = Schemas["Reader"];
export type Card = Schemas["Card"];
export type RegistryCard = Schemas["RegistryCard"];
export type IssueIn = Schemas["IssueIn"];
export type IdentityIn = Schemas["IdentityIn"];
export type ResidenceIn = Schemas["ResidenceIn"];
export type ResignIn = Schemas["ResignIn"];
export type RenewIn = Schemas["RenewIn"];
export type PairingCreated = Schemas["PairingCreated"];
export type PairingStatus = Schemas["PairingStatus"];

export interface Retry { attempts: number; backoffMs: number; maxBackoffMs: number }
export const DEFAULT_RETRY: Retry = { attempts: 3, backoffMs: 250, maxBackoffMs: 4000 };
const NO_RETRY: Retry = { attempts: 1, backoffMs: 0, maxBackoffMs: 0 };

export interface ClientOptions {
  token?: string;
  retry?: Partial<Retry>;
  timeoutMs?: number;
  /** Called for every request actually sent (logging, tests). */
  onRequest?: (method: string, path: string, headers: Record<string, string>) => void;
}

export interface WriteOptions { idempotencyKey?: string }

interface Call { method: "GET" | "POST"; path: string; body?: unknown; headers?: Record<string, string> }

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Client {
  readonly baseUrl: string;
  readonly token: string | undefined;
  readonly retry: Retry;
  private readonly timeoutMs: number;
  private readonly onRequest?: ClientOptions["onRequest"];

  constructor(baseUrl = "http://127.0.0.1:8765", options: ClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.token = options.token;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? 30000;
    this.onRequest = options.onRequest;
  }

  health(): Promise<Health> { return this.run({ method: "GET", path: "/v1/health" }); }

  readers(): Promise<Reader[]> { return this.run({ method: "GET", path: "/v1/readers" }); }

  readCard(readerId: string): Promise<Card> {
    return this.run({ method: "GET", path: `/v1/readers/${enc(readerId)}/card` });
  }

  /** Personalize the blank card body.card_serial (its serial as read) in the reader. */
  issue(readerId: string, body: IssueIn, options: WriteOptions = {}): Promise<Card> {
    return this.run(write(`/v1/readers/${enc(readerId)}/card/issue`, body, options));
  }

  resign(readerId: string, body: ResignIn, options: WriteOptions = {}): Promise<Card> {
    return this.run(write(`/v1/readers/${enc(readerId)}/card/resign`, body, options));
  }

  renew(readerId: string, body: RenewIn, options: WriteOptions = {}): Promise<Card> {
    return this.run(write(`/v1/readers/${enc(readerId)}/card/renew`, body, options));
  }

  revoke(cardSerial: string, reason: "lost" | "replaced" | "withdrawn",
         options: WriteOptions = {}): Promise<RegistryCard> {
    return this.run(write(`/v1/cards/${enc(cardSerial)}/revoke`, { reason }, options));
  }

  registryCard(cardSerial: string): Promise<RegistryCard> {
    return this.run({ method: "GET", path: `/v1/cards/${enc(cardSerial)}` });
  }

  /** Not retried: each request is a new one the clerk sees. */
  requestPairing(name: string): Promise<PairingCreated> {
    return this.run({ method: "POST", path: "/v1/pairing", body: { name } }, NO_RETRY);
  }

  pairingStatus(requestId: string): Promise<PairingStatus> {
    return this.run({ method: "GET", path: `/v1/pairing/${enc(requestId)}` });
  }

  /** Live events; `listener` also gets {type: "missed", count} when events were missed. */
  events(listener: EventListener, options: { reconnect?: boolean } = {}): EventSubscription {
    return new EventSubscription(this.baseUrl, this.token, listener, options.reconnect ?? true);
  }

  /** Ask for a token, show the code for the clerk, wait for approval; the returned client
   * holds the new token (store it: it is given once). Throws PairingFailed when denied or
   * expired. */
  static async pair(baseUrl: string, name: string, showCode: (code: string) => void,
                    options: ClientOptions & { pollEveryMs?: number } = {}): Promise<Client> {
    const anonymous = new Client(baseUrl, { ...options, token: undefined });
    const created = await anonymous.requestPairing(name);
    showCode(created.code);
    for (;;) {
      const status = await anonymous.pairingStatus(created.id);
      if (status.status === "approved" && status.token) {
        return new Client(baseUrl, { ...options, token: status.token });
      }
      if (status.status !== "pending") {
        throw new PairingFailed({ code: `PAIRING_${status.status.toUpperCase()}`,
          message: `the pairing request is ${status.status}`, retriable: false });
      }
      await sleep(options.pollEveryMs ?? 1000);
    }
  }

  private async run<T>(call: Call, retry: Retry = this.retry): Promise<T> {
    const mayRetry = call.method === "GET" || Boolean(call.headers?.["Idempotency-Key"]);
    const attempts = mayRetry ? Math.max(1, retry.attempts) : 1;
    for (let attempt = 0; ; attempt++) {
      let error: CardServiceError;
      try {
        return (await this.send(call)) as T;
      } catch (exc) {
        error = exc instanceof CardServiceError ? exc : new ConnectionFailed({
          code: "CONNECTION_FAILED", message: `the daemon did not answer: ${exc}`, retriable: true });
      }
      if (!error.retriable || attempt + 1 >= attempts) throw error;
      const base = Math.min(retry.maxBackoffMs, retry.backoffMs * 2 ** attempt);
      await sleep(base * (0.75 + Math.random() / 2));
    }
  }

  private async send(call: Call): Promise<unknown> {
    const headers: Record<string, string> = { ...call.headers };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (call.body !== undefined) headers["Content-Type"] = "application/json";
    this.onRequest?.(call.method, call.path, headers);
    const response = await fetch(this.baseUrl + call.path, {
      method: call.method, headers, signal: AbortSignal.timeout(this.timeoutMs),
      body: call.body === undefined ? undefined : JSON.stringify(call.body),
    });
    const text = await response.text();
    let body: unknown = null;
    try { body = text ? JSON.parse(text) : null; } catch { body = null; }
    if (!response.ok) throw fromResponse(response.status, body);
    return body;
  }
}

function write(path: string, body: unknown, options: WriteOptions): Call {
  return { method: "POST", path, body,
    headers: { "Idempotency-Key": options.idempotencyKey ?? randomUUID() } };
}

function enc(part: string): string { return encodeURIComponent(part); }
