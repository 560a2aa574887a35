// The list of one artifact kind: every item (fetched page by page), filtered by name, in pages of 20, with the
// kind's own columns. Deployments, gateways and workflows get a live status column.
import { useMemo, useState } from 'preact/hooks';
import { listAll } from '../api';
import type { Json, KindInfo } from '../kinds';
import { namePath } from '../kinds';
import { Link, navigate } from '../router';
import { Badge, ErrorBox, Spinner, tone, useInterval, useLoad } from '../components/common';

const PAGE = 20;

/** The phases of a deployment's services, counted: "Done 2, Initiated 1". */
export function phases(d: Json): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of Object.values((d.clusters ?? {}) as Record<string, Json>)) {
    for (const s of (c.services ?? []) as Json[]) {
      const status = (s.status ?? {}) as Json;
      const phase = ((status.phase ?? {}) as Json).name as string | undefined;
      const key = `${status.intention === 'Undeployment' ? 'Undeploying ' : ''}${phase ?? '?'}`;
      out[key] = (out[key] ?? 0) + 1;
    }
  }
  return out;
}

function StatusCell({ kind, item }: { kind: string; item: Json }) {
  if (kind === 'deployments') {
    return (
      <>
        {Object.entries(phases(item)).map(([p, n]) => (
          <Badge key={p} tone={tone(p.replace('Undeploying ', ''))}>
            {p} {n}
          </Badge>
        ))}
      </>
    );
  }
  if (kind === 'gateways') {
    const parts = String(item.name).split('/').length;
    return <Badge tone="info">{parts === 3 ? 'internal' : parts === 2 ? 'deployment' : 'user'}</Badge>;
  }
  if (kind === 'workflows') return <Badge tone={tone(String(item.status ?? ''))}>{String(item.status ?? '?')}</Badge>;
  return null;
}

export function ArtifactList({ kind }: { kind: KindInfo }) {
  const [filter, setFilter] = useState('');
  const [page, setPage] = useState(1);
  const live = ['deployments', 'gateways', 'workflows'].includes(kind.plural);
  const items = useLoad(() => listAll<Json>(`/${kind.plural}`), [kind.plural]);
  useInterval(() => live && !items.loading && items.reload(), 3000, [kind.plural]);

  const shown = useMemo(
    () => (items.data ?? []).filter((i) => String(i.name).toLowerCase().includes(filter.toLowerCase())),
    [items.data, filter],
  );
  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  const current = Math.min(page, pages);
  const slice = shown.slice((current - 1) * PAGE, current * PAGE);

  return (
    <div class="page">
      <header class="page-head">
        <div>
          <h1>{kind.title}</h1>
          <p class="muted">{kind.blurb}</p>
        </div>
        <div class="actions">
          <input
            type="search"
            placeholder={`Filter ${kind.plural} by name`}
            value={filter}
            onInput={(e) => {
              setFilter((e.target as HTMLInputElement).value);
              setPage(1);
            }}
          />
          <Link class="button primary" href={`/new/${kind.plural}`}>
            New {kind.singular}
          </Link>
        </div>
      </header>
      <ErrorBox error={items.error} />
      {items.data === undefined && items.loading ? (
        <Spinner />
      ) : (
        <table class="list" data-testid={`${kind.plural}-list`}>
          <thead>
            <tr>
              <th>name</th>
              {live && <th>status</th>}
              {kind.columns.map(([h]) => (
                <th key={h}>{h}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {slice.map((item) => {
              const href = `/${kind.plural}/${namePath(String(item.name))}`;
              return (
                <tr key={String(item.name)} class="clickable" onClick={(e) => (e.target as HTMLElement).tagName !== 'A' && navigate(href)}>
                  <td>
                    <Link href={href}>{String(item.name)}</Link>
                  </td>
                  {live && (
                    <td>
                      <StatusCell kind={kind.plural} item={item} />
                    </td>
                  )}
                  {kind.columns.map(([h, f]) => (
                    <td key={h} class="cell">
                      {f(item)}
                    </td>
                  ))}
                </tr>
              );
            })}
            {slice.length === 0 && (
              <tr>
                <td colSpan={kind.columns.length + 2} class="muted empty">
                  {filter ? `No ${kind.plural} match "${filter}".` : `No ${kind.plural} yet.`}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
      {pages > 1 && (
        <div class="pager">
          <button disabled={current <= 1} onClick={() => setPage(current - 1)}>
            ‹ previous
          </button>
          <span>
            page {current} of {pages} · {shown.length} {kind.plural}
          </span>
          <button disabled={current >= pages} onClick={() => setPage(current + 1)}>
            next ›
          </button>
        </div>
      )}
    </div>
  );
}
