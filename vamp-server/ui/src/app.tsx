// The shell: the navigation, sign-in when the API asks for a token, and the page for the current path.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, clearToken, onAuthRequired, serverInfo, storedToken } from './api';
import { KINDS, kindInfo } from './kinds';
import { Link, useLocation } from './router';
import { Toasts } from './components/common';
import { SignIn } from './pages/SignIn';
import { Overview } from './pages/Overview';
import { ArtifactList } from './pages/ArtifactList';
import { ArtifactPage } from './pages/ArtifactPage';
import { DeploymentView } from './pages/DeploymentView';
import { GatewayView } from './pages/GatewayView';
import { WorkflowView } from './pages/WorkflowView';
import { Events } from './pages/Events';
import { Admin } from './pages/Admin';

export interface Info {
  version?: string;
  namespace?: string;
  running_since?: string;
  components?: { name: string; ok: boolean; details?: Record<string, unknown> }[];
}

const OPERATE = ['deployments', 'gateways', 'workflows'];

function Page({ path }: { path: string }) {
  const parts = path.split('/').filter(Boolean);
  const [first, ...rest] = parts;
  const name = rest.join('/');
  if (!first) return <Overview />;
  if (first === 'events') return <Events />;
  if (first === 'admin') return <Admin />;
  if (first === 'new' && rest[0] && kindInfo(rest[0])) return <ArtifactPage kind={kindInfo(rest[0])!} key={`new-${rest[0]}`} />;
  const kind = kindInfo(first);
  if (!kind) return <div class="page"><h1>Not found</h1><p>There is no page at {path}.</p></div>;
  if (!name) return <ArtifactList kind={kind} key={kind.plural} />;
  if (kind.plural === 'deployments') return <DeploymentView name={name} key={name} />;
  if (kind.plural === 'gateways') return <GatewayView name={name} key={name} />;
  if (kind.plural === 'workflows') return <WorkflowView name={name} key={name} />;
  return <ArtifactPage kind={kind} name={name} key={`${kind.plural}/${name}`} />;
}

export function App() {
  const { path } = useLocation();
  const [auth, setAuth] = useState<{ needed: boolean; message?: string }>({ needed: false });
  const [info, setInfo] = useState<Info | null>(null);

  useEffect(() => onAuthRequired((message) => setAuth({ needed: true, message })), []);
  useEffect(() => {
    if (auth.needed) return;
    serverInfo<Info>().then(setInfo, (e) => {
      if (!(e instanceof ApiError && e.status === 401)) setInfo({});
    });
  }, [auth.needed]);

  if (auth.needed) return <SignIn message={auth.message} onSignedIn={() => setAuth({ needed: false })} />;

  const section = path.split('/').filter(Boolean)[0] ?? '';
  const active = (p: string) => (section === p || (p === 'new' && section === 'new') ? 'active' : '');
  return (
    <div class="shell">
      <nav class="sidebar" aria-label="main">
        <Link href="/" class="brand">
          <img src="/favicon.svg" alt="" width="26" height="26" />
          <span>Vamp</span>
        </Link>
        <div class="nav-group">Operate</div>
        <Link href="/" class={section === '' ? 'active' : ''}>Overview</Link>
        {OPERATE.map((p) => (
          <Link key={p} href={`/${p}`} class={active(p)}>
            {kindInfo(p)!.title}
          </Link>
        ))}
        <Link href="/events" class={active('events')}>Events</Link>
        <div class="nav-group">Artifacts</div>
        {KINDS.filter((k) => !OPERATE.includes(k.plural)).map((k) => (
          <Link key={k.plural} href={`/${k.plural}`} class={active(k.plural)}>
            {k.title}
          </Link>
        ))}
        <div class="nav-group">System</div>
        <Link href="/admin" class={active('admin')}>Admin</Link>
        <div class="nav-foot">
          <div>namespace <b>{info?.namespace ?? '…'}</b></div>
          <div>server {info?.version ?? '…'}</div>
          {storedToken() && (
            <button
              class="link"
              onClick={() => {
                clearToken();
                setAuth({ needed: true, message: 'Signed out.' });
              }}
            >
              sign out
            </button>
          )}
        </div>
      </nav>
      <main>
        <Page path={path} />
      </main>
      <Toasts />
    </div>
  );
}
