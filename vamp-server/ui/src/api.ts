// The REST API client: every call goes to /api/v1 on the origin that served the UI, with the bearer token when
// one is stored. A 401 asks the app to show the sign-in page. Server-sent events are read with fetch (not
// EventSource), so the token travels in the Authorization header and never in a URL.

const TOKEN_KEY = 'vamp.token';

export const YAML = 'application/x-yaml';
export const JSON_TYPE = 'application/json';

/** An API answer other than 2xx, with the server's `message`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY) ?? localStorage.getItem(TOKEN_KEY);
}

/** Stores the token for this tab, or also for later visits when `remember` is set. */
export function storeToken(token: string, remember: boolean) {
  clearToken();
  sessionStorage.setItem(TOKEN_KEY, token);
  if (remember) localStorage.setItem(TOKEN_KEY, token);
}

/**
 * Signs in from a link `…#token=<token>` (what `vamp serve` and an operator can hand out): the token is stored
 * for this tab and removed from the address bar and history, so it is neither bookmarked nor sent anywhere.
 */
export function adoptTokenFromUrl() {
  const match = /^#token=([^&]+)/.exec(window.location.hash);
  if (!match) return;
  storeToken(decodeURIComponent(match[1]), false);
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(TOKEN_KEY);
}

type AuthListener = (message: string) => void;
const authListeners = new Set<AuthListener>();

/** Called with the server's message whenever the API answers 401. */
export function onAuthRequired(listener: AuthListener): () => void {
  authListeners.add(listener);
  return () => authListeners.delete(listener);
}

/** A name as a path: each `/`-separated segment encoded (gateway names contain `/`). */
export function encPath(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

/** The Authorization header for the stored token, if any. */
export function authHeaders(): Record<string, string> {
  const token = storedToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function headers(accept: string, contentType?: string): Headers {
  const h = new Headers({ Accept: accept });
  if (contentType) h.set('Content-Type', contentType);
  const token = storedToken();
  if (token) h.set('Authorization', `Bearer ${token}`);
  return h;
}

function url(path: string, query?: Record<string, string | string[] | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
  }
  const q = params.toString();
  return `/api/v1${path}${q ? `?${q}` : ''}`;
}

async function failure(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`;
  try {
    const text = await response.text();
    try {
      const body = JSON.parse(text);
      if (body && typeof body.message === 'string') message = body.message;
    } catch {
      if (text.trim()) message = text.trim();
    }
  } catch {
    // the body could not be read: keep the status line
  }
  if (response.status === 401) authListeners.forEach((l) => l(message));
  return new ApiError(response.status, message);
}

export interface CallOptions {
  query?: Record<string, string | string[] | undefined>;
  body?: string;
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
}

/** One call; throws `ApiError` for non-2xx answers. */
export async function call(method: string, path: string, o: CallOptions = {}): Promise<Response> {
  const response = await fetch(url(path, o.query), {
    method,
    headers: headers(o.accept ?? JSON_TYPE, o.body !== undefined ? o.contentType ?? YAML : undefined),
    body: o.body,
    signal: o.signal,
  });
  if (!response.ok) throw await failure(response);
  return response;
}

export async function getJson<T = unknown>(path: string, o: CallOptions = {}): Promise<T> {
  const r = await call('GET', path, o);
  return (await r.json()) as T;
}

/** GET /info: its body comes with a 500 too, when a component fails. */
export async function serverInfo<T>(): Promise<T> {
  const r = await fetch(url('/info'), { headers: headers(JSON_TYPE) });
  if (r.status !== 200 && r.status !== 500) throw await failure(r);
  return (await r.json()) as T;
}

/** GET /health: `{healthy, failing}`, with a 503 when unhealthy. */
export async function serverHealth<T>(): Promise<T> {
  const r = await fetch(url('/health'), { headers: headers(JSON_TYPE) });
  if (r.status !== 200 && r.status !== 503) throw await failure(r);
  return (await r.json()) as T;
}

export async function getText(path: string, accept = YAML, o: CallOptions = {}): Promise<string> {
  return (await call('GET', path, { ...o, accept })).text();
}

/** A number from a metrics or health endpoint, or `null` when the server has none (404, 400, 501). */
export async function getNumber(path: string, query?: Record<string, string>): Promise<number | null> {
  try {
    const value = await getJson<unknown>(path, { query });
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
  } catch (e) {
    if (e instanceof ApiError && e.status !== 401) return null;
    throw e;
  }
}

/** A write; the answer parsed as JSON when it is JSON, else its text. */
export async function send(method: string, path: string, o: CallOptions = {}): Promise<unknown> {
  const r = await call(method, path, o);
  const text = await r.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export interface Page<T> {
  items: T[];
  total: number;
}

/** One page of a listing, with the total from `X-Total-Count`. */
export async function list<T = Record<string, unknown>>(
  path: string,
  page = 1,
  perPage = 30,
  query: Record<string, string | string[] | undefined> = {},
): Promise<Page<T>> {
  const r = await call('GET', path, { query: { ...query, page: String(page), per_page: String(perPage) } });
  const items = (await r.json()) as T[];
  const total = Number(r.headers.get('X-Total-Count') ?? items.length);
  return { items, total: Number.isFinite(total) ? total : items.length };
}

/** Every item of a listing, page by page (the server caps a page at 30). */
export async function listAll<T = Record<string, unknown>>(path: string, limit = 600): Promise<T[]> {
  const out: T[] = [];
  for (let page = 1; out.length < limit; page++) {
    const { items, total } = await list<T>(path, page, 30);
    out.push(...items);
    if (items.length === 0 || out.length >= total) break;
  }
  return out;
}

export interface SseMessage {
  event: string;
  data: string;
}

/**
 * Reads server-sent events from `path` until `signal` aborts, reconnecting after a drop (1 s, then up to 10 s).
 * `onState` tells whether the stream is open.
 */
export function stream(
  path: string,
  query: Record<string, string | string[] | undefined>,
  onMessage: (m: SseMessage) => void,
  signal: AbortSignal,
  onState: (open: boolean, error?: string, status?: number) => void = () => {},
): void {
  let delay = 1000;
  const run = async () => {
    while (!signal.aborted) {
      try {
        const r = await call('GET', path, { query, accept: 'text/event-stream', signal });
        onState(true);
        delay = 1000;
        const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut: number;
          while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, '');
            const m = parseBlock(block);
            if (m) onMessage(m);
          }
        }
        onState(false, 'the stream ended');
      } catch (e) {
        if (signal.aborted) return;
        onState(false, e instanceof Error ? e.message : String(e), e instanceof ApiError ? e.status : undefined);
        if (e instanceof ApiError && (e.status === 404 || e.status === 401 || e.status === 501)) return;
      }
      await new Promise((ok) => setTimeout(ok, delay));
      delay = Math.min(delay * 2, 10000);
    }
  };
  void run();
}

function parseBlock(block: string): SseMessage | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length ? { event, data: data.join('\n') } : null;
}
