// One artifact of a static kind (breeds, blueprints, conditions, …) or a new one of any kind: its source editor
// with validation and revisions. Blueprints can also be deployed, merged into a deployment or removed from one.
import { useEffect, useState } from 'preact/hooks';
import { YAML, call, encPath, getText, listAll, serverInfo } from '../api';
import type { Json, KindInfo } from '../kinds';
import { namePath, skeletonFor } from '../kinds';
import { Link, navigate } from '../router';
import { SourceEditor } from '../components/SourceEditor';
import { message, notify, useLoad } from '../components/common';

function BlueprintActions({ name }: { name: string }) {
  const [target, setTarget] = useState(name);
  const [busy, setBusy] = useState(false);
  const deployments = useLoad(() => listAll<Json>('/deployments'), []);
  const names = (deployments.data ?? []).map((d) => String(d.name));
  const exists = names.includes(target);

  const deploy = async () => {
    setBusy(true);
    try {
      await call('PUT', `/deployments/${encPath(target)}`, { body: `name: ${JSON.stringify(name)}\n`, contentType: YAML });
      notify('ok', exists ? `Blueprint ${name} merged into ${target}` : `Deploying ${name} as ${target}`);
      navigate(`/deployments/${namePath(target)}`);
    } catch (e) {
      notify('error', message(e));
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setBusy(true);
    try {
      const body = await getText(`/blueprints/${encPath(name)}`, YAML);
      await call('DELETE', `/deployments/${encPath(target)}`, { body, contentType: YAML });
      notify('ok', `Removing the services of ${name} from ${target}`);
      navigate(`/deployments/${namePath(target)}`);
    } catch (e) {
      notify('error', message(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="card deploy-bar">
      <label>
        Deployment
        <input
          list="deployment-names"
          value={target}
          onInput={(e) => setTarget((e.target as HTMLInputElement).value)}
          aria-label="deployment name"
        />
        <datalist id="deployment-names">
          {names.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
      </label>
      <button class="primary" onClick={deploy} disabled={busy || !target.trim()}>
        {exists ? 'Merge into' : 'Deploy as'} {target || '…'}
      </button>
      {exists && (
        <button onClick={remove} disabled={busy}>
          Remove from {target}
        </button>
      )}
      <span class="muted small">Uses the saved blueprint; save your edits first.</span>
    </div>
  );
}

interface Info {
  components?: { name: string; details?: Record<string, unknown> }[];
}

export function ArtifactPage({ kind, name }: { kind: KindInfo; name?: string }) {
  const [initial, setInitial] = useState<string | undefined>(name === undefined ? undefined : '');
  useEffect(() => {
    if (name !== undefined) return;
    serverInfo<Info>().then(
      (i) => {
        const types = i.components?.find((c) => c.name === 'container_driver')?.details?.deployable_types;
        setInitial(skeletonFor(kind, Array.isArray(types) ? types.map(String) : undefined));
      },
      () => setInitial(kind.skeleton),
    );
  }, [kind.plural, name]);
  return (
    <div class="page">
      <header class="page-head">
        <div>
          <div class="crumbs">
            <Link href={`/${kind.plural}`}>{kind.title}</Link> /
          </div>
          <h1>{name ?? `New ${kind.singular}`}</h1>
        </div>
      </header>
      {kind.plural === 'blueprints' && name && <BlueprintActions name={name} />}
      {initial !== undefined && <SourceEditor kind={kind} name={name} initial={initial || undefined} key={`${kind.plural}/${name ?? ''}`} />}
      {name === undefined && (
        <p class="muted small">
          Write the {kind.singular} in YAML (or JSON). <b>Validate</b> asks the server (<code>?validate_only=true</code>) without storing
          anything; <b>Create</b> validates first, then stores it. Or open an existing one from the{' '}
          <Link href={`/${kind.plural}`}>list</Link> and start from its text.
        </p>
      )}
    </div>
  );
}
