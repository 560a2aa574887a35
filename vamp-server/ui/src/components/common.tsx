// Small shared pieces: toasts, data loading hooks, status badges, and the error box.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

type Toast = { id: number; kind: 'ok' | 'error' | 'info'; text: string };
let toasts: Toast[] = [];
let nextId = 1;
const toastListeners = new Set<(t: Toast[]) => void>();

/** Shows a message for a few seconds (errors stay longer). */
export function notify(kind: Toast['kind'], text: string) {
  const t = { id: nextId++, kind, text };
  toasts = [...toasts, t].slice(-5);
  toastListeners.forEach((l) => l(toasts));
  setTimeout(
    () => {
      toasts = toasts.filter((x) => x.id !== t.id);
      toastListeners.forEach((l) => l(toasts));
    },
    kind === 'error' ? 9000 : 3500,
  );
}

export function Toasts() {
  const [list, setList] = useState<Toast[]>(toasts);
  useEffect(() => {
    toastListeners.add(setList);
    return () => {
      toastListeners.delete(setList);
    };
  }, []);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} class={`toast ${t.kind}`}>
          {t.text}
        </div>
      ))}
    </div>
  );
}

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change (and on `reload`); keeps the last data while reloading. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const generation = useRef(0);
  useEffect(() => {
    const g = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => g === generation.current && setState({ data, loading: false }),
      (e) => g === generation.current && setState((s) => ({ data: s.data, error: message(e), loading: false })),
    );
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** Calls `tick` every `ms` while the page is visible, and once at once. */
export function useInterval(tick: () => void, ms: number, deps: unknown[] = []) {
  const saved = useRef(tick);
  saved.current = tick;
  useEffect(() => {
    saved.current();
    const id = setInterval(() => {
      if (document.visibilityState !== 'hidden') saved.current();
    }, ms);
    return () => clearInterval(id);
  }, [ms, ...deps]);
}

export function ErrorBox({ error }: { error?: string }) {
  return error ? (
    <div class="error-box" role="alert">
      {error}
    </div>
  ) : null;
}

export function Badge({ tone, children }: { tone: 'ok' | 'warn' | 'bad' | 'muted' | 'info'; children: ComponentChildren }) {
  return <span class={`badge ${tone}`}>{children}</span>;
}

/** The tone of a service phase or workflow status. */
export function tone(status: string): 'ok' | 'warn' | 'bad' | 'muted' | 'info' {
  const s = status.toLowerCase();
  if (['done', 'running', 'deployed', 'healthy', 'ok'].includes(s)) return 'ok';
  if (s.includes('fail') || s === 'error' || s === 'stopped') return 'bad';
  if (['suspended', 'stopping', 'suspending'].includes(s)) return 'muted';
  return 'warn';
}

export function Spinner() {
  return <span class="spinner" aria-label="loading" />;
}

export function timeAgo(iso: string | undefined): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleString();
}
