// Administration: the server (/info with its components, /health, the effective configuration) and the gateway
// marshaller — the HAProxy template (view, edit, save, reset to the bundled one) and the configuration it rendered.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, YAML, call, getText, serverHealth, serverInfo } from '../api';
import type { Json } from '../kinds';
import { setQuery, useLocation } from '../router';
import { Editor } from '../components/Editor';
import { Badge, ErrorBox, message, notify, timeAgo, useInterval } from '../components/common';
import type { Info } from '../app';

const UI_VERSION = __UI_VERSION__;

const info = () => serverInfo<Info>();

function Server() {
  const [i, setI] = useState<Info & Json>();
  const [health, setHealth] = useState<Json>();
  const [config, setConfig] = useState<string>();
  const [error, setError] = useState<string>();
  useInterval(async () => {
    try {
      setI((await info()) as Info & Json);
      setHealth(await serverHealth<Json>());
      setError(undefined);
    } catch (e) {
      setError(message(e));
    }
  }, 5000);
  useEffect(() => {
    getText('/config', YAML).then(setConfig, (e) => setConfig(`# ${message(e)}`));
  }, []);
  return (
    <>
      <ErrorBox error={error} />
      <div class="grid2">
        <section class="card" data-testid="server-info">
          <h2>Server</h2>
          {i && (
            <dl class="facts">
              <dt>message</dt>
              <dd>{String(i.message ?? '')}</dd>
              <dt>version</dt>
              <dd>{i.version}</dd>
              <dt>UI version</dt>
              <dd>{UI_VERSION}</dd>
              <dt>namespace</dt>
              <dd>{i.namespace}</dd>
              <dt>running since</dt>
              <dd>
                {i.running_since ? `${new Date(i.running_since).toLocaleString()} (${timeAgo(i.running_since)})` : ''}
              </dd>
              <dt>id</dt>
              <dd class="mono small">{String(i.uuid ?? '')}</dd>
              <dt>health</dt>
              <dd>
                {health ? (
                  <Badge tone={health.healthy ? 'ok' : 'bad'}>{health.healthy ? 'healthy' : `failing: ${JSON.stringify(health.failing)}`}</Badge>
                ) : (
                  '…'
                )}
              </dd>
            </dl>
          )}
        </section>
        <section class="card">
          <h2>Components</h2>
          <table class="mini">
            <tbody>
              {(i?.components ?? []).map((c) => (
                <tr key={c.name}>
                  <td>
                    <b>{c.name.replace(/_/g, ' ')}</b>
                  </td>
                  <td>
                    <Badge tone={c.ok ? 'ok' : 'bad'}>{c.ok ? 'ok' : 'failing'}</Badge>
                  </td>
                  <td class="small mono">
                    {Object.entries(c.details ?? {})
                      .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
                      .join(' · ')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
      <section class="card">
        <h2>Configuration</h2>
        <p class="muted small">The effective settings (GET /api/v1/config); tokens are redacted.</p>
        {config !== undefined && <Editor value={config} readOnly height="40vh" label="configuration" />}
      </section>
    </>
  );
}

function Vga({ marshallers }: { marshallers: string[] }) {
  const [marshaller, setMarshaller] = useState(marshallers[0]);
  const [template, setTemplate] = useState<string>();
  const [draft, setDraft] = useState('');
  const [rendered, setRendered] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const path = `/vga/${marshaller}`;

  const load = async () => {
    try {
      const t = await getText(`${path}/template`, 'text/plain');
      setTemplate(t);
      setDraft(t);
      setError(undefined);
    } catch (e) {
      setError(message(e));
    }
  };
  const loadRendered = async () => {
    try {
      setRendered(await getText(`${path}/configuration`, 'text/plain'));
    } catch (e) {
      setRendered(e instanceof ApiError && e.status === 404 ? '# Nothing rendered yet: no gateway has been deployed.\n' : `# ${message(e)}\n`);
    }
  };
  useEffect(() => {
    void load();
  }, [marshaller]);
  useInterval(() => void loadRendered(), 5000, [marshaller]);

  const save = async () => {
    setBusy(true);
    try {
      await call('PUT', `${path}/template`, { body: draft, contentType: 'text/plain', accept: 'text/plain' });
      notify('ok', 'Template saved: HAProxy accepted it, the gateways are rendered with it');
      await load();
      void loadRendered();
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };
  const reset = async () => {
    setBusy(true);
    try {
      await call('DELETE', `${path}/template`, { accept: 'text/plain' });
      notify('ok', 'Template reset to the bundled one');
      await load();
      void loadRendered();
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <div class="toolbar">
        <label>
          marshaller{' '}
          <select value={marshaller} onChange={(e) => setMarshaller((e.target as HTMLSelectElement).value)}>
            {marshallers.map((m) => (
              <option key={m} value={m}>
                {m.replace('/', ' / ')}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBox error={error} />
      <div class="grid2">
        <section class="card">
          <div class="toolbar">
            <h2>Template</h2>
            <span class="spacer" />
            <button onClick={() => setDraft(template ?? '')} disabled={busy || draft === template}>
              Cancel
            </button>
            <button onClick={reset} disabled={busy}>
              Reset to bundled
            </button>
            <button class="primary" onClick={save} disabled={busy || draft === template}>
              Save
            </button>
          </div>
          <p class="muted small">Checked with <code>haproxy -c</code> before it is stored.</p>
          {template !== undefined && <Editor value={draft} onChange={setDraft} lang="text" height="62vh" label="HAProxy template" />}
        </section>
        <section class="card">
          <div class="toolbar">
            <h2>Rendered configuration</h2>
            <span class="spacer" />
            <button onClick={() => void loadRendered()}>Refresh</button>
          </div>
          <p class="muted small">What the gateway loop last wrote to the key-value store for the agents.</p>
          {rendered !== undefined && <Editor value={rendered} readOnly lang="text" height="62vh" label="rendered HAProxy configuration" />}
        </section>
      </div>
    </>
  );
}

export function Admin() {
  const { query } = useLocation();
  const tab = query.get('tab') ?? 'server';
  const [marshallers, setMarshallers] = useState<string[]>();
  useEffect(() => {
    info().then(
      (i) => {
        const g = i.components?.find((c) => c.name === 'gateway_driver');
        const kind = String(g?.details?.kind ?? 'haproxy');
        const version = String(g?.details?.version ?? '2.6');
        setMarshallers([`${kind}/${version}`]);
      },
      () => setMarshallers(['haproxy/2.6']),
    );
  }, []);
  return (
    <div class="page">
      <header class="page-head">
        <div>
          <h1>Admin</h1>
          <p class="muted">The server, its components and configuration; the gateway agents' HAProxy template and output.</p>
        </div>
      </header>
      <nav class="tabs">
        <button class={tab === 'server' ? 'on' : ''} onClick={() => setQuery('tab', null)}>
          Server
        </button>
        <button class={tab === 'vga' ? 'on' : ''} onClick={() => setQuery('tab', 'vga')}>
          Gateway agent (HAProxy)
        </button>
      </nav>
      {tab === 'server' && <Server />}
      {tab === 'vga' && marshallers && <Vga marshallers={marshallers} />}
    </div>
  );
}
