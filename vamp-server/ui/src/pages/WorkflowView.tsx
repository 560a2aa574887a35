// One workflow: its status with start / suspend / restart (PUT /workflows/{name}/status), its executions and its
// live log when the server offers them (n/a otherwise), its events, and its source.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, call, encPath, getJson, getText, list, stream } from '../api';
import type { Json } from '../kinds';
import { kindInfo } from '../kinds';
import { Link, setQuery, useLocation } from '../router';
import { SourceEditor } from '../components/SourceEditor';
import { Badge, ErrorBox, message, notify, timeAgo, tone, useInterval } from '../components/common';
import { EventRow, type VampEvent } from './Events';

/** The status changes offered in each status: label and the status to PUT. */
function actions(status: string): [string, string][] {
  if (status === 'running' || status === 'starting' || status === 'restarting') return [['Suspend', 'suspending'], ['Restart', 'restarting']];
  if (status === 'suspended' || status === 'suspending') return [['Resume', 'starting'], ['Restart', 'restarting']];
  return [['Start', 'starting'], ['Restart', 'restarting']];
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return /^\d{4}-\d\d-\d\dT/.test(v) ? `${new Date(v).toLocaleString()} (${timeAgo(v)})` : v;
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function Executions({ name }: { name: string }) {
  const [rows, setRows] = useState<Json[] | null | undefined>();
  const [error, setError] = useState<string>();
  useInterval(
    () =>
      getJson<unknown>(`/workflows/${encPath(name)}/executions`).then(
        (v) => setRows(Array.isArray(v) ? (v as Json[]) : []),
        (e) => (e instanceof ApiError && (e.status === 404 || e.status === 501) ? setRows(null) : setError(message(e))),
      ),
    5000,
    [name],
  );
  if (rows === null) return <p class="muted" data-testid="executions-na">Executions: n/a (this server does not record workflow executions).</p>;
  if (rows === undefined) return <ErrorBox error={error} />;
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))].slice(0, 7);
  return (
    <table class="list">
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c}>{c}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.slice(0, 50).map((r, i) => (
          <tr key={i}>
            {columns.map((c) => (
              <td key={c} class="cell small">
                {cell(r[c])}
              </td>
            ))}
          </tr>
        ))}
        {rows.length === 0 && (
          <tr>
            <td class="muted empty" colSpan={Math.max(columns.length, 1)}>
              No executions yet.
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

function Logs({ name }: { name: string }) {
  const [lines, setLines] = useState<string[]>([]);
  const [state, setState] = useState<{ open: boolean; error?: string; status?: number }>({ open: false });
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const abort = new AbortController();
    setLines([]);
    stream(
      `/workflows/${encPath(name)}/logs`,
      {},
      (m) => {
        let text = m.data;
        try {
          const v = JSON.parse(m.data);
          text = typeof v === 'string' ? v : [v.timestamp, v.level, v.message ?? v.line ?? JSON.stringify(v)].filter(Boolean).join(' ');
        } catch {
          // plain text
        }
        setLines((cur) => [...cur, text].slice(-1000));
      },
      abort.signal,
      (open, error, status) => setState({ open, error, status }),
    );
    return () => abort.abort();
  }, [name]);
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, follow]);
  const na = !state.open && (state.status === 404 || state.status === 501);
  return (
    <div>
      <div class="toolbar">
        <h2>Log</h2>
        <span class={`live ${state.open ? 'on' : ''}`}>{state.open ? '● live' : na ? 'n/a' : '○ connecting'}</span>
        <span class="spacer" />
        <label class="check">
          <input type="checkbox" checked={follow} onChange={() => setFollow(!follow)} /> follow
        </label>
      </div>
      {na ? (
        <p class="muted" data-testid="logs-na">
          Logs: n/a (this server does not stream workflow logs).
        </p>
      ) : (
        <pre class="log" ref={box}>
          {lines.length ? lines.join('\n') : 'no log lines yet'}
        </pre>
      )}
    </div>
  );
}

export function WorkflowView({ name }: { name: string }) {
  const { query } = useLocation();
  const tab = query.get('tab') ?? 'status';
  const [status, setStatus] = useState<string>();
  const [workflow, setWorkflow] = useState<Json>();
  const [error, setError] = useState<string>();
  const [events, setEvents] = useState<VampEvent[]>([]);
  const load = async () => {
    try {
      const [s, w] = await Promise.all([getText(`/workflows/${encPath(name)}/status`, 'text/plain'), getJson<Json>(`/workflows/${encPath(name)}`)]);
      setStatus(s.trim());
      setWorkflow(w);
      setError(undefined);
      const e = await list<VampEvent>('/events', 1, 10, { tag: `workflows:${name}` });
      setEvents(e.items);
    } catch (e) {
      setError(message(e));
    }
  };
  useInterval(() => void load(), 2000, [name]);

  const set = async (to: string) => {
    try {
      await call('PUT', `/workflows/${encPath(name)}/status`, { body: to, contentType: 'text/plain', accept: 'text/plain' });
      notify('ok', `Workflow ${name}: ${to}`);
      void load();
    } catch (e) {
      notify('error', message(e));
    }
  };

  const breed = workflow?.breed as Json | undefined;
  return (
    <div class="page">
      <header class="page-head">
        <div>
          <div class="crumbs">
            <Link href="/workflows">Workflows</Link> /
          </div>
          <h1>
            {name} {status && <Badge tone={tone(status)}>{status}</Badge>}
          </h1>
          {workflow && (
            <div class="muted">
              schedule <b>{typeof workflow.schedule === 'string' ? workflow.schedule : JSON.stringify(workflow.schedule)}</b> · breed{' '}
              <b>{String(breed?.name ?? breed?.reference ?? '')}</b>
            </div>
          )}
        </div>
        <div class="actions">
          {actions(status ?? '').map(([label, to]) => (
            <button key={to} onClick={() => set(to)} disabled={!status}>
              {label}
            </button>
          ))}
        </div>
      </header>
      <nav class="tabs">
        <button class={tab === 'status' ? 'on' : ''} onClick={() => setQuery('tab', null)}>
          Executions &amp; log
        </button>
        <button class={tab === 'source' ? 'on' : ''} onClick={() => setQuery('tab', 'source')}>
          Source &amp; revisions
        </button>
      </nav>
      <ErrorBox error={error} />
      {tab === 'source' && <SourceEditor kind={kindInfo('workflows')!} name={name} />}
      {tab === 'status' && (
        <>
          <section class="card">
            <h2>Executions</h2>
            <Executions name={name} />
          </section>
          <section class="card">
            <Logs name={name} />
          </section>
          <section class="card">
            <h2>Events</h2>
            <table class="list events">
              <tbody>
                {events.map((e, i) => (
                  <EventRow key={e.id ?? i} e={e} />
                ))}
                {events.length === 0 && (
                  <tr>
                    <td class="muted">No events for this workflow.</td>
                  </tr>
                )}
              </tbody>
            </table>
          </section>
        </>
      )}
    </div>
  );
}
