// The page's JSON API client: every call carries a fresh App Bridge session token.
import { getToken, shopFromToken } from "./session.js";

const RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request";

/** An API call that failed; `detail` is the server's explanation, fit to show to the merchant. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

/**
 * Call the API; resolves to `{shop, data}` where `shop` is the shop of the token used, so callers can
 * drop answers that belong to another shop than the one on screen.
 */
export async function apiFetch(path, { method = "GET", body } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    const token = await getToken();
    const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
      });
    } catch (_error) {
      throw new ApiError(0, "shopapp could not be reached. Check your connection and try again.");
    }
    // App Bridge's contract: a 401 with this header means "get a new token and try once more".
    if (response.status === 401 && response.headers.get(RETRY_HEADER) === "1" && attempt === 0) continue;
    let data = null;
    try {
      data = await response.json();
    } catch (_error) {
      data = null;
    }
    if (!response.ok) {
      const detail = (data && data.detail) || `The request failed (HTTP ${response.status}).`;
      throw new ApiError(response.status, detail);
    }
    return { shop: shopFromToken(token), data };
  }
}

export const listJobs = (state, limit = 50) => {
  const query = new URLSearchParams({ limit: String(limit) });
  if (state) query.set("state", state);
  return apiFetch(`/api/jobs?${query}`);
};
export const startJob = (kind) => apiFetch("/api/jobs", { method: "POST", body: { kind } });
export const retryJob = (id) => apiFetch(`/api/jobs/${encodeURIComponent(id)}/retry`, { method: "POST" });
export const cancelJob = (id) => apiFetch(`/api/jobs/${encodeURIComponent(id)}/cancel`, { method: "POST" });
/** `{queued, running, retrying, succeeded, failed}`: how many of the shop's jobs are in each state. */
export const countJobs = () => apiFetch("/api/jobs/counts");
/** One job with its failed attempts and its delivery's ids and times (never the payload). */
export const jobDetail = (id) => apiFetch(`/api/jobs/${encodeURIComponent(id)}`);
/** Retry up to 100 failed jobs: `{retried, remaining, jobs}`. */
export const retryFailedJobs = () => apiFetch("/api/jobs/retry-failed", { method: "POST" });
