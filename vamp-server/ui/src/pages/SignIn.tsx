// The sign-in page, shown when the API answers 401: the token is checked against /api/v1/info and kept in
// sessionStorage (and localStorage with "remember me"). It is sent as `Authorization: Bearer <token>`.
import { useState } from 'preact/hooks';
import { ApiError, clearToken, getJson, storeToken } from '../api';

export function SignIn({ message, onSignedIn }: { message?: string; onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    storeToken(token.trim(), remember);
    try {
      await getJson('/info');
      onSignedIn();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        clearToken();
        setError('This token is not valid for this server.');
      } else {
        onSignedIn();
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="signin">
      <form onSubmit={submit} class="card">
        <div class="brand big">
          <img src="/favicon.svg" alt="" width="36" height="36" />
          <span>Vamp</span>
        </div>
        <p class="muted">{message === 'Signed out.' ? 'Signed out. ' : ''}This server needs an API token.</p>
        <label>
          API token
          <input
            type="password"
            name="token"
            autoComplete="current-password"
            value={token}
            onInput={(e) => setToken((e.target as HTMLInputElement).value)}
            autoFocus
            required
          />
        </label>
        <label class="check">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember((e.target as HTMLInputElement).checked)} />
          remember on this browser
        </label>
        {error && <div class="error-box" role="alert">{error}</div>}
        <button class="primary" type="submit" disabled={busy || !token.trim()}>
          Sign in
        </button>
        <p class="muted small">Admin tokens may change everything; read tokens only look.</p>
        <p class="muted small">
          Without configured tokens, <code>vamp serve</code> creates an admin token at first start in{' '}
          <code>&lt;data-dir&gt;/api-token</code> (<code>./vamp-data/api-token</code> by default).
        </p>
      </form>
    </div>
  );
}
