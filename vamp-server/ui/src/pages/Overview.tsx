// The start page: how many artifacts of each kind there are, the deployments and their state, the server's
// components, and the latest events.
import { useState } from 'preact/hooks';
import { list, serverInfo } from '../api';
import type { Json } from '../kinds';
import { KINDS, namePath } from '../kinds';
import { Link } from '../router';
import { Badge, ErrorBox, message, tone, useInterval } from '../components/common';
import { phases } from './ArtifactList';
import { EventRow, type VampEvent } from './Events';
import type { Info } from '../app';

export function Overview() {
  const [counts, setCounts] = useState<Record<string, number>>({});
  const [deployments, setDeployments] = useState<Json[]>([]);
  const [events, setEvents] = useState<VampEvent[]>([]);
  const [info, setInfo] = useState<Info>();
  const [error, setError] = useState<string>();

  useInterval(async () => {
    try {
      const totals = await Promise.all(KINDS.map((k) => list(`/${k.plural}`, 1, k.plural === 'deployments' ? 30 : 1)));
      setCounts(Object.fromEntries(KINDS.map((k, i) => [k.plural, totals[i].total])));
      setDeployments(totals[KINDS.findIndex((k) => k.plural === 'deployments')].items);
      setEvents((await list<VampEvent>('/events', 1, 8)).items);
      setInfo(await serverInfo<Info>());
      setError(undefined);
    } catch (e) {
      setError(message(e));
    }
  }, 4000);

  return (
    <div class="page">
      <header class="page-head">
        <div>
          <h1>Overview</h1>
          <p class="muted">Canary releases and A/B tests: deploy blueprints, then shift traffic between versions through the gateways.</p>
        </div>
        <div class="actions">
          <Link class="button primary" href="/new/blueprints">
            New blueprint
          </Link>
        </div>
      </header>
      <ErrorBox error={error} />
      <div class="tiles">
        {KINDS.map((k) => (
          <Link key={k.plural} href={`/${k.plural}`} class="tile">
            <span class="count">{counts[k.plural] ?? '…'}</span>
            <span>{k.title}</span>
          </Link>
        ))}
      </div>
      <div class="grid2">
        <section class="card">
          <h2>Deployments</h2>
          <table class="mini">
            <tbody>
              {deployments.map((d) => (
                <tr key={String(d.name)}>
                  <td>
                    <Link href={`/deployments/${namePath(String(d.name))}`}>{String(d.name)}</Link>
                  </td>
                  <td>
                    {Object.entries(phases(d)).map(([p, n]) => (
                      <Badge key={p} tone={tone(p.replace('Undeploying ', ''))}>
                        {p} {n}
                      </Badge>
                    ))}
                  </td>
                </tr>
              ))}
              {deployments.length === 0 && (
                <tr>
                  <td class="muted">
                    Nothing deployed. Open a <Link href="/blueprints">blueprint</Link> and deploy it.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </section>
        <section class="card">
          <h2>Server</h2>
          <table class="mini">
            <tbody>
              {(info?.components ?? []).map((c) => (
                <tr key={c.name}>
                  <td>{c.name.replace(/_/g, ' ')}</td>
                  <td>
                    <Badge tone={c.ok ? 'ok' : 'bad'}>{c.ok ? 'ok' : 'failing'}</Badge>
                  </td>
                  <td class="small muted">{String(c.details?.kind ?? '')} {String(c.details?.version ?? '')}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="small">
            <Link href="/admin">Admin</Link> for the configuration and the HAProxy template.
          </p>
        </section>
      </div>
      <section class="card">
        <div class="toolbar">
          <h2>Latest events</h2>
          <span class="spacer" />
          <Link href="/events">all events, live</Link>
        </div>
        <table class="list events">
          <tbody>
            {events.map((e, i) => (
              <EventRow key={e.id ?? i} e={e} />
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}
