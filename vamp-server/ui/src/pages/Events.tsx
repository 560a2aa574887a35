// The event stream: the latest events (GET /events), then live ones from the server-sent stream
// (/events/stream) with the same tag filter (all tags must match), narrowed further by type.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { list, stream } from '../api';
import { navigate, useLocation } from '../router';
import { Badge, ErrorBox, message } from '../components/common';

export interface VampEvent {
  id?: string;
  tags: string[];
  value: unknown;
  timestamp: string;
  type?: string;
}

const KEEP = 200;

function valueText(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function EventRow({ e, onTag }: { e: VampEvent; onTag?: (t: string) => void }) {
  const [open, setOpen] = useState(false);
  const text = valueText(e.value);
  return (
    <tr class="event">
      <td class="nowrap small">{new Date(e.timestamp).toLocaleTimeString()}</td>
      <td>
        <Badge tone="info">{e.type ?? 'event'}</Badge>
      </td>
      <td class="tags">
        {e.tags.map((t) =>
          onTag ? (
            <button key={t} class="tag" title="filter by this tag" onClick={() => onTag(t)}>
              {t}
            </button>
          ) : (
            <span key={t} class="tag">
              {t}
            </span>
          ),
        )}
      </td>
      <td class="value mono small" onClick={() => setOpen(!open)} title={open ? '' : 'show all'}>
        {open ? <pre>{typeof e.value === 'string' ? e.value : JSON.stringify(e.value, null, 2)}</pre> : text.length > 140 ? `${text.slice(0, 140)}…` : text}
      </td>
    </tr>
  );
}

export function Events() {
  const { query } = useLocation();
  const tags = query.getAll('tag');
  const [input, setInput] = useState(tags.join(', '));
  const [events, setEvents] = useState<VampEvent[]>([]);
  const [live, setLive] = useState<{ open: boolean; error?: string }>({ open: false });
  const [error, setError] = useState<string>();
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const [paused, setPaused] = useState(false);
  const key = tags.join('\n');

  useEffect(() => {
    const abort = new AbortController();
    setEvents([]);
    list<VampEvent>('/events', 1, 30, { tag: tags }).then(
      (p) => setEvents((cur) => [...cur, ...p.items].slice(0, KEEP)),
      (e) => setError(message(e)),
    );
    stream(
      '/events/stream',
      { tag: tags },
      (m) => {
        try {
          const e = JSON.parse(m.data) as VampEvent;
          setEvents((cur) => [e, ...cur].slice(0, KEEP));
        } catch {
          // not an event
        }
      },
      abort.signal,
      (open, error) => setLive({ open, error }),
    );
    return () => abort.abort();
  }, [key]);

  const [frozen, setFrozen] = useState<VampEvent[]>([]);
  useEffect(() => {
    if (paused) setFrozen(events);
  }, [paused]);
  const source = paused ? frozen : events;
  const types = useMemo(() => [...new Set(events.map((e) => e.type ?? 'event'))].sort(), [events]);
  const shown = source.filter((e) => !hidden.has(e.type ?? 'event'));

  const apply = (text: string) => {
    const next = text
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    const q = new URLSearchParams();
    next.forEach((t) => q.append('tag', t));
    const s = q.toString();
    navigate(`/events${s ? `?${s}` : ''}`, true);
  };

  return (
    <div class="page">
      <header class="page-head">
        <div>
          <h1>
            Events{' '}
            <span class={`live ${live.open ? 'on' : ''}`} data-testid="stream-state" title={live.error ?? ''}>
              {live.open ? '● live' : '○ reconnecting'}
            </span>
          </h1>
          <p class="muted">What Vamp did and measured: deployments, gateways, workflows, archive (writes), and more.</p>
        </div>
        <div class="actions">
          <button onClick={() => setPaused(!paused)} class={paused ? 'on' : ''}>
            {paused ? 'Resume' : 'Pause'}
          </button>
        </div>
      </header>
      <form
        class="card filters"
        onSubmit={(e) => {
          e.preventDefault();
          apply(input);
        }}
      >
        <label>
          tags (all must match)
          <input value={input} onInput={(e) => setInput((e.target as HTMLInputElement).value)} placeholder="e.g. deployments:shop, synchronization" aria-label="tag filter" />
        </label>
        <button type="submit" class="primary">
          Apply
        </button>
        {tags.length > 0 && (
          <button
            type="button"
            onClick={() => {
              setInput('');
              apply('');
            }}
          >
            Clear
          </button>
        )}
        <div class="types" aria-label="types">
          {types.length > 0 && <span class="muted small">types</span>}
          {types.map((t) => (
            <label key={t} class="check">
              <input
                type="checkbox"
                checked={!hidden.has(t)}
                onChange={() => {
                  const h = new Set(hidden);
                  if (h.has(t)) h.delete(t);
                  else h.add(t);
                  setHidden(h);
                }}
              />
              {t}
            </label>
          ))}
        </div>
      </form>
      <ErrorBox error={error} />
      <table class="list events" data-testid="events">
        <thead>
          <tr>
            <th>time</th>
            <th>type</th>
            <th>tags</th>
            <th>value</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((e, i) => (
            <EventRow
              key={e.id ?? `${e.timestamp}-${i}`}
              e={e}
              onTag={(t) => {
                const next = [...new Set([...tags, t])].join(', ');
                setInput(next);
                apply(next);
              }}
            />
          ))}
          {shown.length === 0 && (
            <tr>
              <td colSpan={4} class="muted empty">
                No events{tags.length ? ' with these tags' : ''} yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
