// The source of one artifact in YAML or JSON: edit, validate (the API's `validate_only`), save, revert, delete,
// and its revision history — the `archive` events every write publishes (tags `<kinds>:<name>` and
// `archive:create|update|delete`, value the request body), compared side by side with the current text.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { JSON_TYPE, YAML, call, encPath, getText, list } from '../api';
import type { KindInfo } from '../kinds';
import { namePath } from '../kinds';
import { navigate } from '../router';
import { Editor } from './Editor';
import { Compare } from './Compare';
import { Badge, message, notify, timeAgo } from './common';

type Format = 'yaml' | 'json';

interface Revision {
  id: string;
  tags: string[];
  value: unknown;
  timestamp: string;
}

function revisionText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return JSON.stringify(value, null, 2);
}

function action(r: Revision): string {
  return r.tags.find((t) => t.startsWith('archive:'))?.slice(8) ?? 'write';
}

/** The name a YAML or JSON document gives itself (for a new artifact), without parsing YAML fully. */
function nameOf(text: string, format: Format): string | undefined {
  if (format === 'json') {
    try {
      const v = JSON.parse(text);
      return typeof v?.name === 'string' ? v.name : undefined;
    } catch {
      return undefined;
    }
  }
  const m = /^name:\s*(?:"([^"]*)"|'([^']*)'|(.+?))\s*(?:#.*)?$/m.exec(text);
  return m ? (m[1] ?? m[2] ?? m[3]) : undefined;
}

interface Props {
  kind: KindInfo;
  /** Absent for a new artifact. */
  name?: string;
  /** Text a new artifact starts from (the kind's skeleton by default). */
  initial?: string;
  /** Extra buttons in the toolbar. */
  extra?: ComponentChildren;
  /** Called after a successful save with the saved artifact's name. */
  onSaved?: (name: string) => void;
  height?: string;
}

export function SourceEditor({ kind, name, initial, extra, onSaved, height = '62vh' }: Props) {
  const isNew = name === undefined;
  const [format, setFormat] = useState<Format>('yaml');
  const [stored, setStored] = useState<string>(isNew ? initial ?? kind.skeleton : '');
  const [text, setText] = useState<string>(stored);
  const [loadError, setLoadError] = useState<string | undefined>();
  const [result, setResult] = useState<{ ok: boolean; text: string } | undefined>();
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [showHistory, setShowHistory] = useState(false);
  const [revisions, setRevisions] = useState<Revision[] | undefined>();
  const [compare, setCompare] = useState<Revision | undefined>();
  const path = name === undefined ? `/${kind.plural}` : `/${kind.plural}/${encPath(name)}`;
  const dirty = text !== stored;

  const load = async (f: Format) => {
    if (isNew) return;
    try {
      const body = await getText(path, f === 'yaml' ? YAML : JSON_TYPE);
      const t = f === 'json' ? JSON.stringify(JSON.parse(body), null, 2) + '\n' : body;
      setStored(t);
      setText(t);
      setLoadError(undefined);
    } catch (e) {
      setLoadError(message(e));
    }
  };

  const loadRevisions = async () => {
    if (isNew) return;
    try {
      const page = await list<Revision>('/events', 1, 30, { tag: [`${kind.plural}:${name}`, 'archive'], type: 'archive' });
      setRevisions(page.items);
    } catch (e) {
      notify('error', `Revisions: ${message(e)}`);
    }
  };

  useEffect(() => {
    void load(format);
  }, [name, format]);
  useEffect(() => {
    if (showHistory) void loadRevisions();
  }, [showHistory, name]);

  const write = async (validateOnly: boolean): Promise<unknown> => {
    const method = isNew ? 'POST' : 'PUT';
    const r = await call(method, path, {
      body: text,
      contentType: format === 'yaml' ? YAML : JSON_TYPE,
      query: validateOnly ? { validate_only: 'true' } : undefined,
    });
    const body = await r.text();
    try {
      return JSON.parse(body);
    } catch {
      return body;
    }
  };

  const validate = async () => {
    setBusy(true);
    try {
      await write(true);
      setResult({ ok: true, text: 'Valid: the server accepts this.' });
      return true;
    } catch (e) {
      setResult({ ok: false, text: message(e) });
      return false;
    } finally {
      setBusy(false);
    }
  };

  const save = async () => {
    if (!(await validate())) return;
    setBusy(true);
    try {
      await write(false);
      const saved = name ?? nameOf(text, format);
      setResult({ ok: true, text: 'Saved.' });
      notify('ok', `${kind.singular} ${saved ?? ''} saved`);
      if (isNew) {
        if (saved) navigate(`/${kind.plural}/${namePath(saved)}`);
      } else {
        await load(format);
        if (showHistory) void loadRevisions();
      }
      if (saved) onSaved?.(saved);
    } catch (e) {
      setResult({ ok: false, text: message(e) });
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setBusy(true);
    try {
      await call('DELETE', path);
      notify('ok', `${kind.singular} ${name} deleted`);
      navigate(`/${kind.plural}`);
    } catch (e) {
      setResult({ ok: false, text: message(e) });
    } finally {
      setBusy(false);
      setConfirmDelete(false);
    }
  };

  if (loadError) {
    return (
      <div class="error-box" role="alert">
        {loadError}
      </div>
    );
  }

  return (
    <div class={`source ${showHistory ? 'with-history' : ''}`}>
      <div class="toolbar">
        <div class="segmented" role="group" aria-label="format">
          {(['yaml', 'json'] as Format[]).map((f) => (
            <button
              key={f}
              class={format === f ? 'on' : ''}
              disabled={dirty && format !== f}
              title={dirty && format !== f ? 'Save or revert your changes first' : ''}
              onClick={() => (isNew ? null : setFormat(f))}
            >
              {f.toUpperCase()}
            </button>
          ))}
        </div>
        <button onClick={validate} disabled={busy}>
          Validate
        </button>
        <button class="primary" onClick={save} disabled={busy || (!dirty && !isNew)}>
          {isNew ? 'Create' : 'Save'}
        </button>
        <button onClick={() => setText(stored)} disabled={busy || !dirty}>
          Revert
        </button>
        {extra}
        <span class="spacer" />
        {!isNew && (
          <button class={showHistory ? 'on' : ''} onClick={() => setShowHistory(!showHistory)}>
            Revisions
          </button>
        )}
        {!isNew &&
          (confirmDelete ? (
            <>
              <button class="danger" onClick={remove} disabled={busy}>
                Really delete {name}?
              </button>
              <button onClick={() => setConfirmDelete(false)}>Cancel</button>
            </>
          ) : (
            <button class="danger-outline" onClick={() => setConfirmDelete(true)} disabled={busy}>
              Delete
            </button>
          ))}
      </div>
      {result && (
        <div class={result.ok ? 'ok-box' : 'error-box'} role={result.ok ? 'status' : 'alert'} data-testid="editor-result">
          {result.text}
        </div>
      )}
      <div class="source-body">
        {compare ? (
          <div class="compare-panel">
            <div class="compare-head">
              <span>
                <b>{new Date(compare.timestamp).toLocaleString()}</b> ({action(compare)}) on the left, the editor on the right
              </span>
              <span class="spacer" />
              <button
                onClick={() => {
                  setText(revisionText(compare.value));
                  setCompare(undefined);
                }}
                disabled={!revisionText(compare.value)}
              >
                Load this revision into the editor
              </button>
              <button onClick={() => setCompare(undefined)}>Back to the editor</button>
            </div>
            <Compare left={revisionText(compare.value)} right={text} />
          </div>
        ) : (
          <Editor value={text} onChange={setText} lang={format} height={height} label={`${kind.singular} source`} />
        )}
        {showHistory && (
          <aside class="history" aria-label="revisions">
            <h3>Revisions</h3>
            <p class="muted small">From the archive events of every write (newest first, last 30).</p>
            {revisions === undefined ? (
              <p class="muted">loading…</p>
            ) : revisions.length === 0 ? (
              <p class="muted">No recorded writes.</p>
            ) : (
              <ol>
                {revisions.map((r, i) => (
                  <li key={r.id} class={compare?.id === r.id ? 'on' : ''}>
                    <button class="link" onClick={() => setCompare(compare?.id === r.id ? undefined : r)}>
                      <Badge tone={action(r) === 'delete' ? 'bad' : action(r) === 'create' ? 'ok' : 'info'}>{action(r)}</Badge>{' '}
                      {i === 0 ? 'latest · ' : ''}
                      {timeAgo(r.timestamp)}
                    </button>
                  </li>
                ))}
              </ol>
            )}
          </aside>
        )}
      </div>
    </div>
  );
}
