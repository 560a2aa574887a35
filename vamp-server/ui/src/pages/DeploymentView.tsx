// One deployment: its gateways, then each cluster with its services — status, scale (editable), instances,
// health and environment variables — refreshed every 2 s; export as a blueprint, undeploy, and the source.
import { useState } from 'preact/hooks';
import { JSON_TYPE, YAML, call, encPath, getJson, getText, listAll } from '../api';
import type { Json } from '../kinds';
import { kindInfo, namePath } from '../kinds';
import { Link, navigate, setQuery, useLocation } from '../router';
import { SourceEditor } from '../components/SourceEditor';
import { Editor } from '../components/Editor';
import { Badge, ErrorBox, message, notify, timeAgo, tone, useInterval } from '../components/common';
import { phases } from './ArtifactList';

interface Scale {
  cpu?: number;
  memory?: string;
  instances?: number;
}

function envList(v: unknown): [string, string][] {
  if (Array.isArray(v)) return v.map((e: Json) => [String(e.name ?? e.alias ?? ''), String(e.value ?? e.interpolated ?? '')]);
  if (v && typeof v === 'object') return Object.entries(v as Json).map(([k, x]) => [k, typeof x === 'string' ? x : JSON.stringify(x)]);
  return [];
}

function ScaleEditor({ deployment, cluster, service, scale, onDone }: { deployment: string; cluster: string; service: string; scale: Scale; onDone: () => void }) {
  const [cpu, setCpu] = useState(String(scale.cpu ?? ''));
  const [memory, setMemory] = useState(String(scale.memory ?? ''));
  const [instances, setInstances] = useState(String(scale.instances ?? 1));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      const body = JSON.stringify({ cpu: Number(cpu), memory, instances: Number(instances) });
      await call('PUT', `/deployments/${encPath(deployment)}/clusters/${encodeURIComponent(cluster)}/services/${encodeURIComponent(service)}/scale`, {
        body,
        contentType: JSON_TYPE,
      });
      notify('ok', `Scaling ${service} to ${instances} instance(s)`);
      onDone();
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="scale-editor" onSubmit={save} aria-label={`scale of ${service}`}>
      <label>
        CPU
        <input type="number" step="0.05" min="0" value={cpu} onInput={(e) => setCpu((e.target as HTMLInputElement).value)} required />
      </label>
      <label>
        memory
        <input value={memory} onInput={(e) => setMemory((e.target as HTMLInputElement).value)} placeholder="128MB" required />
      </label>
      <label>
        instances
        <input type="number" min="0" step="1" value={instances} onInput={(e) => setInstances((e.target as HTMLInputElement).value)} required />
      </label>
      <button class="primary" type="submit" disabled={busy}>
        Apply
      </button>
      <button type="button" onClick={onDone}>
        Cancel
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

function Service({ deployment, cluster, s, reload }: { deployment: string; cluster: string; s: Json; reload: () => void }) {
  const [editing, setEditing] = useState(false);
  const [showEnv, setShowEnv] = useState(false);
  const breed = (s.breed ?? {}) as Json;
  const breedName = String(breed.name ?? breed.reference ?? '?');
  const status = (s.status ?? {}) as Json;
  const phase = (status.phase ?? {}) as Json;
  const scale = (s.scale ?? {}) as Scale;
  const instances = (s.instances ?? []) as Json[];
  const health = s.health as Json | undefined;
  const env = envList(s.environment_variables ?? breed.environment_variables);
  const notification = (phase.notification ?? phase.message) as string | undefined;
  return (
    <div class="service" data-testid={`service-${breedName}`}>
      <div class="service-head">
        <Link href={`/breeds/${namePath(breedName)}`} class="strong">
          {breedName}
        </Link>
        <Badge tone={tone(String(phase.name ?? ''))}>
          {status.intention === 'Undeployment' ? 'undeploying · ' : ''}
          {String(phase.name ?? '?')}
        </Badge>
        <span class="muted small">since {timeAgo(String(phase.since ?? status.since ?? ''))}</span>
        <span class="spacer" />
        <span class="scale-summary">
          {scale.cpu ?? '?'} CPU · {scale.memory ?? '?'} · {scale.instances ?? '?'} instance(s)
        </span>
        {!editing && <button onClick={() => setEditing(true)}>Scale…</button>}
      </div>
      {notification && <div class="error-box">{notification}</div>}
      {editing && <ScaleEditor deployment={deployment} cluster={cluster} service={breedName} scale={scale} onDone={() => { setEditing(false); reload(); }} />}
      <table class="mini">
        <thead>
          <tr>
            <th>instance</th>
            <th>host</th>
            <th>ports</th>
            <th>deployed</th>
          </tr>
        </thead>
        <tbody>
          {instances.map((i) => (
            <tr key={String(i.name)}>
              <td>{String(i.name)}</td>
              <td>{String(i.host)}</td>
              <td>
                {Object.entries((i.ports ?? {}) as Record<string, number>).map(([p, n]) => (
                  <a key={p} href={`http://${i.host}:${n}/`} target="_blank" rel="noreferrer" class="port">
                    {p}:{n}
                  </a>
                ))}
              </td>
              <td>{i.deployed ? <Badge tone="ok">yes</Badge> : <Badge tone="warn">no</Badge>}</td>
            </tr>
          ))}
          {instances.length === 0 && (
            <tr>
              <td colSpan={4} class="muted">
                no instances yet
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <div class="service-foot">
        {health && (
          <span class="small">
            health: {String(health.running ?? 0)} running, {String(health.healthy ?? 0)} healthy, {String(health.unhealthy ?? 0)} unhealthy,{' '}
            {String(health.staged ?? 0)} staged
          </span>
        )}
        <span class="spacer" />
        <button class="link" onClick={() => setShowEnv(!showEnv)}>
          environment variables ({env.length})
        </button>
      </div>
      {showEnv && (
        <table class="mini env" aria-label={`environment of ${breedName}`}>
          <tbody>
            {env.map(([k, v]) => (
              <tr key={k}>
                <td class="mono">{k}</td>
                <td class="mono">{v}</td>
              </tr>
            ))}
            {env.length === 0 && (
              <tr>
                <td class="muted">none</td>
              </tr>
            )}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** Links to gateways, with their ports. */
function Gateways({ gateways }: { gateways: Json[] }) {
  if (gateways.length === 0) return null;
  return (
    <div class="gateway-chips">
      {gateways.map((g) => (
        <Link key={String(g.name)} href={`/gateways/${namePath(String(g.name))}`} class="chip">
          gateway {String(g.name)} · {String(g.port ?? '')}
        </Link>
      ))}
    </div>
  );
}

function ExportBlueprint({ name }: { name: string }) {
  const [text, setText] = useState<string>();
  const [bpName, setBpName] = useState(name);
  const open = async () => {
    try {
      setText(await getText(`/deployments/${encPath(name)}`, YAML, { query: { as_blueprint: 'true' } }));
    } catch (e) {
      notify('error', message(e));
    }
  };
  const save = async () => {
    try {
      const body = text!.replace(/^name:.*$/m, `name: ${JSON.stringify(bpName)}`);
      await call('POST', '/blueprints', { body, contentType: YAML });
      notify('ok', `Blueprint ${bpName} saved`);
      navigate(`/blueprints/${namePath(bpName)}`);
    } catch (e) {
      notify('error', message(e));
    }
  };
  if (text === undefined) return <button onClick={open}>Export as blueprint…</button>;
  return (
    <div class="card export">
      <div class="toolbar">
        <b>As a blueprint</b>
        <span class="spacer" />
        <label>
          name <input value={bpName} onInput={(e) => setBpName((e.target as HTMLInputElement).value)} />
        </label>
        <button class="primary" onClick={save}>
          Save as blueprint
        </button>
        <button onClick={() => setText(undefined)}>Close</button>
      </div>
      <Editor value={text} readOnly height="30vh" label="deployment as blueprint" />
    </div>
  );
}

export function DeploymentView({ name }: { name: string }) {
  const { query } = useLocation();
  const tab = query.get('tab') ?? 'overview';
  const [d, setD] = useState<Json>();
  const [error, setError] = useState<string>();
  const [gone, setGone] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const [gateways, setGateways] = useState<Json[]>([]);
  useInterval(
    () =>
      void listAll<Json>('/gateways').then(
        (all) => setGateways(all.filter((g) => String(g.name).startsWith(`${name}/`))),
        () => {},
      ),
    5000,
    [name],
  );
  const load = () =>
    getJson<Json>(`/deployments/${encPath(name)}`).then(
      (x) => {
        setD(x);
        setError(undefined);
      },
      (e) => {
        if (String(e?.status) === '404') setGone(true);
        setError(message(e));
      },
    );
  useInterval(() => void load(), 2000, [name]);

  const undeploy = async () => {
    try {
      const body = await getText(`/deployments/${encPath(name)}`, YAML, { query: { as_blueprint: 'true' } });
      await call('DELETE', `/deployments/${encPath(name)}`, { body, contentType: YAML });
      notify('ok', `Undeploying ${name}`);
    } catch (e) {
      notify('error', message(e));
    } finally {
      setConfirm(false);
    }
  };

  const counts = d ? phases(d) : {};
  return (
    <div class="page">
      <header class="page-head">
        <div>
          <div class="crumbs">
            <Link href="/deployments">Deployments</Link> /
          </div>
          <h1>
            {name}{' '}
            {Object.entries(counts).map(([p, n]) => (
              <Badge key={p} tone={tone(p.replace('Undeploying ', ''))}>
                {p} {n}
              </Badge>
            ))}
          </h1>
        </div>
        <div class="actions">
          <ExportBlueprint name={name} />
          {confirm ? (
            <>
              <button class="danger" onClick={undeploy}>
                Really undeploy {name}?
              </button>
              <button onClick={() => setConfirm(false)}>Cancel</button>
            </>
          ) : (
            <button class="danger-outline" onClick={() => setConfirm(true)} disabled={!d}>
              Undeploy
            </button>
          )}
        </div>
      </header>
      <nav class="tabs">
        <button class={tab === 'overview' ? 'on' : ''} onClick={() => setQuery('tab', null)}>
          Overview
        </button>
        <button class={tab === 'source' ? 'on' : ''} onClick={() => setQuery('tab', 'source')}>
          Source &amp; revisions
        </button>
      </nav>
      {gone ? (
        <div class="ok-box">
          Deployment {name} does not exist (any more). <Link href="/deployments">All deployments</Link>
        </div>
      ) : (
        <ErrorBox error={error} />
      )}
      {tab === 'source' && !gone && <SourceEditor kind={kindInfo('deployments')!} name={name} />}
      {tab === 'overview' && d && (
        <>
          <Gateways gateways={gateways.filter((g) => String(g.name).split('/').length === 2)} />
          {Object.entries((d.clusters ?? {}) as Record<string, Json>).map(([cname, c]) => (
            <section class="card cluster" key={cname} data-testid={`cluster-${cname}`}>
              <div class="cluster-head">
                <h2>cluster {cname}</h2>
                <Gateways gateways={gateways.filter((g) => String(g.name).startsWith(`${name}/${cname}/`))} />
                {c.sla ? <Badge tone="info">SLA {String((c.sla as Json).name ?? (c.sla as Json).reference ?? (c.sla as Json).type ?? '')}</Badge> : null}
              </div>
              {((c.services ?? []) as Json[]).map((s, i) => (
                <Service key={i} deployment={name} cluster={cname} s={s} reload={() => void load()} />
              ))}
            </section>
          ))}
        </>
      )}
    </div>
  );
}
