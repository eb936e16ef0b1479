// Errors of the daemon as exceptions: one class per family of error codes, each with code,
// message, retriable, status and field (validation) or rule (policy). A code this client does
// not know yet falls into the family of its HTTP status.
import type { components } from "./schema.js";

export type ErrorCode = components["schemas"]["ErrorCode"];

export interface ErrorDetail {
  code: string;
  message: string;
  retriable: boolean;
  field?: string | null;
  rule?: string | null;
}

export class CardServiceError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  readonly status: number;
  readonly field: string | null;
  readonly rule: string | null;

  constructor(detail: ErrorDetail, status = 0) {
    super(`${detail.code}: ${detail.message}`);
    this.name = new.target.name;
    this.code = detail.code;
    this.retriable = detail.retriable;
    this.status = status;
    this.field = detail.field ?? null;
    this.rule = detail.rule ?? null;
  }
}

/** The daemon could not be reached or did not answer (retriable). */
export class ConnectionFailed extends CardServiceError {}
/** Token missing, unknown, revoked, or its role does not allow the call (401/403). */
export class AuthError extends CardServiceError {}
/** No such reader, card, route or pairing request (404). */
export class NotFound extends CardServiceError {}
/** The card is not in a state for this (blank, personalized, revoked, invalid, another card). */
export class CardStateError extends CardServiceError {}
/** Reader or PC/SC: no card, card pulled, reader busy, no reader, time-outs. */
export class ReaderError extends CardServiceError {}
/** The card answered with an error, refused the key, or is not a permit card. */
export class CardProtocolError extends CardServiceError {}
/** The request is not acceptable; field names the field. */
export class InvalidRequest extends CardServiceError {}
/** The permit rules forbid this; rule names the rule. */
export class PolicyViolation extends CardServiceError {}
/** Too many requests just now. */
export class RateLimited extends CardServiceError {}
/** The daemon cannot do this now (keys, storage, internal error). */
export class ServerError extends CardServiceError {}
/** The pairing request was denied or expired. */
export class PairingFailed extends CardServiceError {}

type Family = new (detail: ErrorDetail, status?: number) => CardServiceError;

export const FAMILIES: Array<[Family, string[]]> = [
  [AuthError, ["UNAUTHENTICATED", "FORBIDDEN", "HOST_NOT_ALLOWED", "ORIGIN_NOT_ALLOWED"]],
  [NotFound, ["NOT_FOUND", "READER_NOT_FOUND", "ROUTE_NOT_FOUND"]],
  [CardStateError, ["ALREADY_PERSONALIZED", "CARD_CHANGED", "CARD_INVALID", "CARD_REVOKED",
    "CITIZEN_HAS_CARD", "NOT_PERSONALIZED", "WRITE_NOT_CONFIRMED"]],
  [ReaderError, ["NO_CARD", "CARD_REMOVED", "CARD_RESET", "READER_BUSY", "READER_AMBIGUOUS",
    "NO_READER", "PCSC_UNAVAILABLE", "TRANSPORT_ERROR", "CARD_TIMEOUT"]],
  [CardProtocolError, ["CARD_ERROR", "CARD_AUTH_FAILED", "CARD_AUTH_BLOCKED", "NOT_A_PERMIT_CARD"]],
  [InvalidRequest, ["VALIDATION_ERROR", "UNSUPPORTED_MEDIA_TYPE", "IDEMPOTENCY_KEY_REUSED",
    "METHOD_NOT_ALLOWED", "TOKEN_NAME_TAKEN", "PAYLOAD_TOO_LARGE", "MALFORMED_REQUEST"]],
  [PolicyViolation, ["POLICY_VIOLATION"]],
  [RateLimited, ["RATE_LIMITED", "TOO_MANY_PENDING", "TOO_MANY_SUBSCRIBERS"]],
  [ServerError, ["INTERNAL_ERROR", "KEYS_MISSING", "KEYS_INSECURE", "AUDIT_STATE",
    "REGISTRY_UNAVAILABLE", "SCHEMA_OUTDATED"]],
];

export function familyFor(code: string, status: number): Family {
  for (const [family, codes] of FAMILIES) if (codes.includes(code)) return family;
  if (status === 401 || status === 403) return AuthError;
  if (status === 404) return NotFound;
  if (status === 409) return CardStateError;
  if (status === 429) return RateLimited;
  if (status >= 400 && status < 500) return InvalidRequest;
  if (status === 502 || status === 504) return ReaderError;
  return ServerError;
}

export function fromResponse(status: number, body: unknown): CardServiceError {
  const detail = (body as { error?: ErrorDetail } | null)?.error;
  if (!detail || typeof detail.code !== "string") {
    return new ServerError({ code: "HTTP_ERROR", message: `HTTP ${status} without an error body`,
      retriable: [502, 503, 504].includes(status) }, status);
  }
  const Family = familyFor(detail.code, status);
  return new Family({ ...detail, retriable: Boolean(detail.retriable) }, status);
}
