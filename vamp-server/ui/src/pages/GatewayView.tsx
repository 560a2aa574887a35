// One gateway: live charts of request rate, response time and error rate per route (polled every 2 s), and the
// routes with weight sliders that keep the total at 100 %, condition and condition-strength editors, and
// stickiness. Saving validates, then PUTs the whole gateway, as the original UI did.
import { useMemo, useRef, useState } from 'preact/hooks';
import { JSON_TYPE, call, encPath, getJson, getNumber } from '../api';
import type { Json } from '../kinds';
import { kindInfo, namePath } from '../kinds';
import { Link, setQuery, useLocation } from '../router';
import { Chart, PALETTE, fmt } from '../components/Chart';
import { SourceEditor } from '../components/SourceEditor';
import { Badge, ErrorBox, message, notify, useInterval } from '../components/common';
import { even, percent, rebalance } from '../weights';

const POLL_MS = 2000;
const HISTORY = 150;
/** The metrics window asked for, in seconds (servers without `?window=` use their own, 30 s). */
const WINDOW = '10';

interface RouteDraft {
  path: string;
  reference?: string;
  weight: number;
  condition: string;
  /** The condition as loaded, sent back unchanged when the text was not edited. */
  conditionOriginal: unknown;
  conditionShown: string;
  strength: number;
}

interface Draft {
  sticky: string;
  routes: RouteDraft[];
}

interface Sample {
  rate: number | null;
  responseTime: number | null;
  errorRate: number | null;
  health: number | null;
}

function conditionText(c: unknown): string {
  if (!c) return '';
  if (typeof c === 'string') return c;
  const o = c as Json;
  return o.reference ? `reference:${String(o.reference)}` : String(o.condition ?? '');
}

function toDraft(g: Json): Draft {
  const routes = Object.entries((g.routes ?? {}) as Record<string, unknown>).map(([path, r]) => {
    const route = (typeof r === 'object' && r ? r : {}) as Json;
    const shown = conditionText(route.condition);
    return {
      path,
      reference: typeof r === 'string' ? r : (route.reference as string | undefined),
      weight: percent(route.weight),
      condition: shown,
      conditionOriginal: route.condition,
      conditionShown: shown,
      strength: percent(route.condition_strength),
    };
  });
  return { sticky: String(g.sticky ?? ''), routes };
}

function fromDraft(g: Json, d: Draft): Json {
  const out: Json = { ...g };
  delete out.kind;
  if (d.sticky) out.sticky = d.sticky;
  else delete out.sticky;
  const routes: Json = {};
  for (const r of d.routes) {
    const orig = ((g.routes as Json)[r.path] ?? {}) as Json;
    if (r.reference) {
      routes[r.path] = orig;
      continue;
    }
    const route: Json = { ...orig, weight: `${r.weight}%`, condition_strength: `${r.strength}%` };
    const text = r.condition.trim();
    const reference = /^(?:reference|ref):\s*(.+)$/i.exec(text);
    if (!text) delete route.condition;
    else if (r.condition === r.conditionShown) route.condition = r.conditionOriginal;
    else route.condition = reference ? { reference: reference[1].trim() } : text;
    routes[r.path] = route;
  }
  out.routes = routes;
  return out;
}

/** The label of a route: its last distinctive segments (the breed of an internal gateway's route). */
function short(path: string): string {
  const parts = path.split('/');
  return parts.length >= 4 ? parts[parts.length - 2] : path;
}

/** Metrics the server did not have, not asked for again until the time noted (ms). */
const unsupported = new Map<string, number>();

/** A metric's number, or `null` when the server has none; a metric it does not know is retried after a minute. */
async function metric(path: string, kind: string): Promise<number | null> {
  if ((unsupported.get(kind) ?? 0) > Date.now()) return null;
  const v = await getNumber(path, { window: WINDOW });
  if (v === null) unsupported.set(kind, Date.now() + 60000);
  else unsupported.delete(kind);
  return v;
}

async function sample(gateway: string, route: string): Promise<Sample> {
  const base = `/metrics/gateways/${encPath(gateway)}/routes/${encPath(route)}`;
  const [rate, responseTime, errorRate, health] = await Promise.all([
    getNumber(`${base}/rate`, { window: WINDOW }),
    getNumber(`${base}/responseTime`, { window: WINDOW }),
    metric(`${base}/errorRate`, 'errorRate'),
    getNumber(`/health/gateways/${encPath(gateway)}/routes/${encPath(route)}`, { window: WINDOW }),
  ]);
  return { rate, responseTime, errorRate: errorRate ?? (health === null ? null : Math.max(0, 1 - health)), health };
}

function Slider({ label, value, onChange, disabled, testId }: { label: string; value: number; onChange: (v: number) => void; disabled?: boolean; testId?: string }) {
  return (
    <div class="slider">
      <input
        type="range"
        min="0"
        max="100"
        step="1"
        value={value}
        disabled={disabled}
        aria-label={label}
        data-testid={testId}
        onInput={(e) => onChange(Number((e.target as HTMLInputElement).value))}
      />
      <input
        type="number"
        min="0"
        max="100"
        value={value}
        disabled={disabled}
        aria-label={`${label} (number)`}
        onChange={(e) => onChange(Number((e.target as HTMLInputElement).value))}
      />
      <span>%</span>
    </div>
  );
}

export function GatewayView({ name }: { name: string }) {
  const { query } = useLocation();
  const tab = query.get('tab') ?? 'traffic';
  const [gateway, setGateway] = useState<Json>();
  const [draft, setDraft] = useState<Draft>();
  const [dirty, setDirty] = useState(false);
  const [error, setError] = useState<string>();
  const [saveError, setSaveError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [series, setSeries] = useState<{ times: number[]; byRoute: Record<string, Sample[]> }>({ times: [], byRoute: {} });
  const inFlight = useRef(false);
  const dirtyRef = useRef(dirty);
  dirtyRef.current = dirty;

  const load = async () => {
    try {
      const g = await getJson<Json>(`/gateways/${encPath(name)}`);
      setGateway(g);
      setError(undefined);
      if (!dirtyRef.current) setDraft(toDraft(g));
    } catch (e) {
      setError(message(e));
    }
  };
  useInterval(() => void load(), 3000, [name]);

  const routes = useMemo(() => Object.keys((gateway?.routes ?? {}) as Json), [gateway]);
  useInterval(
    async () => {
      if (routes.length === 0 || inFlight.current) return;
      inFlight.current = true;
      try {
        const samples = await Promise.all(routes.map((r) => sample(name, r)));
        const now = Date.now() / 1000;
        setSeries((s) => {
          const times = [...s.times, now].slice(-HISTORY);
          const byRoute: Record<string, Sample[]> = {};
          routes.forEach((r, i) => {
            const prev = s.byRoute[r] ?? Array(s.times.length).fill({ rate: null, responseTime: null, errorRate: null, health: null });
            byRoute[r] = [...prev, samples[i]].slice(-HISTORY);
          });
          return { times, byRoute };
        });
      } catch {
        // a failed poll leaves a gap; the next one fills in
      } finally {
        inFlight.current = false;
      }
    },
    POLL_MS,
    [name, routes.join('\n')],
  );

  const chartSeries = (key: keyof Sample) =>
    routes.map((r) => ({ label: short(r), values: (series.byRoute[r] ?? []).map((s) => s[key]) }));
  const rateSeries = useMemo(() => chartSeries('rate'), [series]);
  const rtSeries = useMemo(() => chartSeries('responseTime'), [series]);
  const errSeries = useMemo(() => chartSeries('errorRate'), [series]);

  const edit = (f: (d: Draft) => Draft) => {
    if (!draft) return;
    setDraft(f(draft));
    setDirty(true);
    setSaveError(undefined);
  };
  const setWeight = (i: number, v: number) =>
    edit((d) => {
      const w = rebalance(
        d.routes.map((r) => r.weight),
        i,
        v,
      );
      return { ...d, routes: d.routes.map((r, j) => ({ ...r, weight: w[j] })) };
    });
  const setRoute = (i: number, patch: Partial<RouteDraft>) =>
    edit((d) => ({ ...d, routes: d.routes.map((r, j) => (j === i ? { ...r, ...patch } : r)) }));

  const total = draft ? draft.routes.reduce((a, r) => a + r.weight, 0) : 0;

  const save = async () => {
    if (!gateway || !draft) return;
    setBusy(true);
    setSaveError(undefined);
    const body = JSON.stringify(fromDraft(gateway, draft));
    try {
      const path = `/gateways/${encPath(name)}`;
      await call('PUT', path, { body, contentType: JSON_TYPE, query: { validate_only: 'true' } });
      await call('PUT', path, { body, contentType: JSON_TYPE });
      notify('ok', `Gateway ${name} saved: ${draft.routes.map((r) => `${short(r.path)} ${r.weight}%`).join(', ')}`);
      setDirty(false);
      dirtyRef.current = false;
      await load();
    } catch (e) {
      setSaveError(message(e));
    } finally {
      setBusy(false);
    }
  };

  const latest = (r: string): Sample | undefined => {
    const s = series.byRoute[r];
    return s?.[s.length - 1];
  };
  const segments = name.split('/');
  const type = segments.length === 3 ? 'internal' : segments.length === 2 ? 'deployment' : 'user';
  const port = String(gateway?.port ?? '').split('/')[0];

  return (
    <div class="page">
      <header class="page-head">
        <div>
          <div class="crumbs">
            <Link href="/gateways">Gateways</Link> /
          </div>
          <h1>
            {name} <Badge tone="info">{type}</Badge>
          </h1>
          <div class="muted">
            port <b>{String(gateway?.port ?? '…')}</b>
            {port && (
              <>
                {' '}
                · <a href={`http://${location.hostname}:${port}/`} target="_blank" rel="noreferrer">open</a>
              </>
            )}
            {Array.isArray(gateway?.virtual_hosts) && gateway!.virtual_hosts.length > 0 && <> · virtual hosts {(gateway!.virtual_hosts as string[]).join(', ')}</>}
            {type !== 'user' && (
              <>
                {' '}
                · deployment <Link href={`/deployments/${namePath(segments[0])}`}>{segments[0]}</Link>
              </>
            )}
          </div>
        </div>
      </header>
      <nav class="tabs">
        <button class={tab === 'traffic' ? 'on' : ''} onClick={() => setQuery('tab', null)}>
          Routes &amp; traffic
        </button>
        <button class={tab === 'source' ? 'on' : ''} onClick={() => setQuery('tab', 'source')}>
          Source &amp; revisions
        </button>
      </nav>
      <ErrorBox error={error} />
      {tab === 'source' && <SourceEditor kind={kindInfo('gateways')!} name={name} />}
      {tab === 'traffic' && (
        <>
          <div class="charts">
            <Chart title="Requests / second" unit="req/s" times={series.times} series={rateSeries} testId="chart-rate" />
            <Chart title="Response time" unit="ms" times={series.times} series={rtSeries} testId="chart-response-time" />
            <Chart title="Error rate (5xx)" unit="%" times={series.times} series={errSeries} testId="chart-error-rate" />
          </div>
          {draft && (
            <section class="card">
              <div class="toolbar">
                <h2>Routes</h2>
                <span class="spacer" />
                <label>
                  sticky{' '}
                  <select value={draft.sticky} onChange={(e) => edit((d) => ({ ...d, sticky: (e.target as HTMLSelectElement).value }))} aria-label="sticky">
                    <option value="">not sticky</option>
                    <option value="route">route</option>
                    <option value="instance">instance</option>
                  </select>
                </label>
                <button
                  onClick={() => {
                    const w = even(draft.routes.length);
                    edit((d) => ({ ...d, routes: d.routes.map((r, i) => ({ ...r, weight: w[i] })) }));
                  }}
                  disabled={draft.routes.length < 2}
                >
                  Even split
                </button>
              </div>
              <div class="table-scroll">
              <table class="routes" data-testid="routes">
                <thead>
                  <tr>
                    <th>route</th>
                    <th>weight</th>
                    <th>condition</th>
                    <th>condition strength</th>
                    <th class="num">req/s</th>
                    <th class="num">resp. time</th>
                    <th class="num">errors</th>
                    <th class="num">health</th>
                  </tr>
                </thead>
                <tbody>
                  {draft.routes.map((r, i) => {
                    const s = latest(r.path);
                    const na = (v: number | null | undefined, unit: string) => (v === null || v === undefined ? 'n/a' : fmt(v, unit));
                    return (
                      <tr key={r.path} data-route={r.path}>
                        <td>
                          <span class="swatch" style={{ background: PALETTE[i % PALETTE.length] }} />
                          <span title={r.path} class="strong">{short(r.path)}</span>
                        </td>
                        <td>
                          {r.reference ? (
                            <span class="muted">reference {r.reference}</span>
                          ) : (
                            <Slider label={`weight of ${short(r.path)}`} testId={`weight-${short(r.path)}`} value={r.weight} onChange={(v) => setWeight(i, v)} disabled={draft.routes.length < 2} />
                          )}
                        </td>
                        <td>
                          <input
                            class="condition"
                            placeholder="e.g. User-Agent = Firefox"
                            value={r.condition}
                            aria-label={`condition of ${short(r.path)}`}
                            onInput={(e) => setRoute(i, { condition: (e.target as HTMLInputElement).value })}
                          />
                          {/^(?:reference|ref):/i.test(r.condition) ? (
                            <div class="small">
                              stored condition{' '}
                              <Link href={`/conditions/${namePath(r.condition.replace(/^[^:]*:\s*/, ''))}`}>{r.condition.replace(/^[^:]*:\s*/, '')}</Link>
                            </div>
                          ) : null}
                        </td>
                        <td>
                          <Slider label={`condition strength of ${short(r.path)}`} value={r.strength} onChange={(v) => setRoute(i, { strength: v })} disabled={!r.condition.trim()} />
                        </td>
                        <td class="num" data-testid={`rate-${short(r.path)}`}>{na(s?.rate, '')}</td>
                        <td class="num">{na(s?.responseTime, 'ms')}</td>
                        <td class="num">{na(s?.errorRate, '%')}</td>
                        <td class="num">{na(s?.health, '%')}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
              </div>
              <div class="toolbar">
                <span class={total === 100 ? 'total ok' : 'total bad'} data-testid="weight-total">
                  total {total}%
                </span>
                <span class="spacer" />
                {dirty && <span class="muted">unsaved changes</span>}
                <button
                  onClick={() => {
                    setDirty(false);
                    dirtyRef.current = false;
                    if (gateway) setDraft(toDraft(gateway));
                  }}
                  disabled={!dirty || busy}
                >
                  Revert
                </button>
                <button class="primary" onClick={save} disabled={!dirty || busy || total !== 100}>
                  Save
                </button>
              </div>
              <ErrorBox error={saveError} />
              <p class="muted small">
                Conditions use Vamp's condition language (<code>User-Agent = Firefox</code>, <code>Host = www.example.com</code>,{' '}
                <code>cookie group has beta</code>, <code>has header X-Canary</code>, combined with and, or, not and parentheses), or{' '}
                <code>reference:NAME</code> for a stored condition. The condition strength is the share of matching requests that the route takes. Charts: the last{' '}
                {HISTORY * (POLL_MS / 1000) / 60} minutes, one point every {POLL_MS / 1000} s over a {WINDOW} s window; error rate is
                the share of 5xx answers.
              </p>
            </section>
          )}
        </>
      )}
    </div>
  );
}
