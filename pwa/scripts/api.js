// The gateway's JSON API: problem+json errors, a session held in memory with its refresh token in
// an httpOnly cookie, and money-moving POSTs that keep one Idempotency-Key across every retry.
// No DOM: `fetch`, the clock and the sleep are injected, so node's test runner drives it.

export const PROBLEM_BASE = "https://interkop.id/problems/";
export const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/** The gateway refused: `detail` is the sentence to show a person. */
export class ApiError extends Error {
  constructor(problem, status) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.name = "ApiError";
    this.problem = problem ?? {};
    this.status = status;
    this.slug = String(this.problem.type ?? "").replace(PROBLEM_BASE, "");
  }
}

/** No answer from the gateway: the outcome of a request that moves money is unknown. */
export class NetworkError extends Error {
  constructor(cause) {
    super("network error");
    this.name = "NetworkError";
    this.cause = cause;
  }
}

/** True when trying the same request again (with the same Idempotency-Key) is safe and useful. */
export function isRetryable(error) {
  if (error instanceof NetworkError) return true;
  if (!(error instanceof ApiError)) return false;
  return error.status >= 500;
}

export function createApi({
  fetchImpl = (...args) => globalThis.fetch(...args),
  language = () => "id",
  sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now = () => Date.now(),
  newKey = () => crypto.randomUUID(),
  retryDelaysMs = [400, 1000, 2000],
  onSessionChange = () => {},
} = {}) {
  let session = null; // {accessToken, expiresAt}; never stored anywhere but here

  function setSession(tokens) {
    session = tokens ? { accessToken: tokens.access_token, expiresAt: now() + tokens.expires_in * 1000 } : null;
    onSessionChange(session);
    return session;
  }

  async function send(method, path, { body, form, headers = {}, auth = true, file = false } = {}) {
    const all = { Accept: "application/json", "Accept-Language": language(), ...headers };
    if (body !== undefined) all["Content-Type"] = "application/json";
    // A file upload (FormData): the browser writes the multipart Content-Type and its boundary.
    if (auth && session) all.Authorization = `Bearer ${session.accessToken}`;
    let response;
    try {
      response = await fetchImpl(`/api/v1${path}`, {
        method,
        headers: all,
        body: form ?? (body === undefined ? undefined : JSON.stringify(body)),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (cause) {
      throw new NetworkError(cause);
    }
    const type = response.headers.get("Content-Type") ?? "";
    let payload = null;
    if (type.includes("json")) {
      try {
        payload = await response.json();
      } catch {
        payload = null;
      }
    }
    if (!response.ok) throw new ApiError(payload, response.status);
    if (file) {
      // A report file: its bytes and the name the gateway gave it (Content-Disposition).
      const disposition = response.headers.get("Content-Disposition") ?? "";
      const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? null;
      return { blob: await response.blob(), name, type };
    }
    return payload;
  }

  /** Ask for new tokens with the refresh cookie; false when there is no session to resume. */
  async function refresh() {
    try {
      setSession(await send("POST", "/auth/refresh", { body: {}, auth: false }));
      return true;
    } catch (error) {
      if (error instanceof ApiError) {
        setSession(null);
        return false;
      }
      throw error;
    }
  }

  async function request(method, path, options = {}) {
    if (session && now() > session.expiresAt - 30_000) await refresh();
    try {
      return await send(method, path, options);
    } catch (error) {
      const expired = error instanceof ApiError && error.status === 401 && error.slug === "invalid-token";
      if (!expired || options.auth === false || !(await refresh())) throw error;
      return send(method, path, options);
    }
  }

  /**
   * Prepare a POST that moves money. The Idempotency-Key is made now, before the first attempt,
   * and every call of `send()` — the automatic retries and any retry the person asks for — sends
   * that same key, so the gateway pays at most once. `key` resumes a request sent before (a
   * payment whose answer was lost, kept by pending.js across a reload;
   * a refund kept in a screen's params across a language switch).
   */
  function moneyPost(path, body, { key = newKey() } = {}) {
    return {
      key,
      async send({ onRetry = () => {} } = {}) {
        for (let attempt = 0; ; attempt += 1) {
          try {
            return await request("POST", path, { body, headers: { "Idempotency-Key": key } });
          } catch (error) {
            if (!isRetryable(error) || attempt >= retryDelaysMs.length) throw error;
            onRetry(error, attempt + 1);
            await sleep(retryDelaysMs[attempt]);
          }
        }
      },
    };
  }

  return {
    get session() {
      return session;
    },
    async login(phone, pin) {
      const tokens = await send("POST", "/auth/login", {
        body: { phone, pin },
        headers: { "Interkop-Session": "cookie" },
        auth: false,
      });
      return setSession(tokens);
    },
    /** Set one's own PIN on the current one (a slip's, after an import); logs in as login does. */
    async changePin(phone, pin, newPin) {
      const tokens = await send("POST", "/auth/pin", {
        body: { phone, pin, new_pin: newPin },
        headers: { "Interkop-Session": "cookie" },
        auth: false,
      });
      return setSession(tokens);
    },
    refresh,
    async logout() {
      setSession(null);
      try {
        await send("POST", "/auth/logout", { body: {}, auth: false });
      } catch {
        // Offline: the cookie stays until the next logout; the access token is gone already.
      }
    },
    get: (path) => request("GET", path),
    /** GET a report file (XLSX by default): {blob, name, type}; a refusal is an ApiError. */
    download: (path, accept = XLSX) => request("GET", path, { file: true, headers: { Accept: accept } }),
    post: (path, body) => request("POST", path, { body }),
    put: (path, body) => request("PUT", path, { body }),
    delete: (path) => request("DELETE", path),
    /** POST a file as multipart/form-data (`form`: a FormData). */
    upload: (path, form) => request("POST", path, { form }),
    moneyPost,
  };
}
