// fetch() for the LittleWriter API: the signed-in user's bearer token, JSON in and out, and
// problem+json answers (RFC 9457) turned into an ApiError that says what went wrong and where.
import { token } from "./session.js";

export class ApiError extends Error {
  constructor({ status, code, detail, errors = [], retryAfter = null, requestId = null }) {
    super(detail || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status; // 0: no answer at all (offline, connection cut)
    this.code = code;
    this.detail = detail;
    this.errors = errors; // [{field: "body.characters.0.name", message}] on a 422
    this.retryAfter = retryAfter; // seconds, from Retry-After
    this.requestId = requestId;
  }

  /** The field errors of a 422, keyed by field without its "body." prefix. */
  fieldErrors() {
    const byField = new Map();
    for (const { field, message } of this.errors) {
      const name = String(field).replace(/^body\.?/, "") || "body";
      // pydantic's "Value error, must not be blank" reads better as "Must not be blank"
      const plain = String(message).replace(/^Value error, /, "");
      if (!byField.has(name)) byField.set(name, plain.charAt(0).toUpperCase() + plain.slice(1));
    }
    return byField;
  }
}

export function retryAfterSeconds(value, now = Date.now()) {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : Math.max(0, Math.ceil((when - now) / 1000));
}

async function problemOf(response) {
  const retryAfter = retryAfterSeconds(response.headers.get("Retry-After"));
  const requestId = response.headers.get("X-Request-ID");
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not a problem document (a proxy's page): the status says enough
  }
  return new ApiError({
    status: response.status,
    code: body.code ?? "http_error",
    detail: body.detail ?? response.statusText,
    errors: Array.isArray(body.errors) ? body.errors : [],
    retryAfter,
    requestId: body.request_id ?? requestId,
  });
}

/** The raw answer of a successful call (for files and streams); throws ApiError otherwise. */
export async function apiFetch(path, { method = "GET", json, headers = {}, signal } = {}) {
  const sent = new Headers(headers);
  const bearer = token();
  if (bearer) sent.set("Authorization", `Bearer ${bearer}`);
  const init = { method, headers: sent, signal, cache: "no-store" };
  if (json !== undefined) {
    sent.set("Content-Type", "application/json");
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError({ status: 0, code: "network_error", detail: String(error.message) });
  }
  if (!response.ok) throw await problemOf(response);
  return response;
}

/** A JSON call: the parsed body, or null for 204; throws ApiError for any error. */
export async function api(path, options = {}) {
  const response = await apiFetch(path, options);
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") ?? "";
  return type.includes("json") ? response.json() : response.text();
}
