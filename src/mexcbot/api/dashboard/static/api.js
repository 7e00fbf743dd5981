// The REST API, with the token from session storage as a bearer header (never in a URL).

const KEY = "mexcbot.token";

export const session = {
  get token() {
    return sessionStorage.getItem(KEY);
  },
  save(token) {
    sessionStorage.setItem(KEY, token);
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

/** A refused request: `status`, and the API's problem document (code, detail, field, errors). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem && problem.detail ? problem.detail : `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** The event the app listens to: the token stopped working (revoked, or the bot's db reset). */
export const UNAUTHORIZED = "mexcbot:unauthorized";

export async function api(method, path, body, { token = session.token, headers = {} } = {}) {
  const sent = { Authorization: `Bearer ${token}`, ...headers };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers: sent,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const text = response.status === 204 ? "" : await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (!response.ok) {
    if (response.status === 401) window.dispatchEvent(new CustomEvent(UNAUTHORIZED));
    throw new ApiError(response.status, data);
  }
  return data;
}

export const get = (path) => api("GET", path);

/** GET that answers null for 404 (a feature this bot does not have). */
export async function optional(path) {
  try {
    return await get(path);
  } catch (error) {
    if (error.status === 404 && (!error.problem || !error.problem.code || error.problem.code === "not_found")) return null;
    throw error;
  }
}

/** A query string from the non-empty values of `params`. */
export function query(params) {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return entries.length ? "?" + new URLSearchParams(entries).toString() : "";
}

export function newIdempotencyKey() {
  return `dash-${crypto.randomUUID()}`;
}
