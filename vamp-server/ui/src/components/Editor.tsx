// A CodeMirror 6 editor for YAML, JSON or plain text (HAProxy templates), with highlighting, line numbers,
// search and bracket matching. The parent owns the text: `value` replaces the document when it differs from
// what the editor holds, and every edit is reported through `onChange`.
import { basicSetup } from 'codemirror';
import { Compartment, EditorState } from '@codemirror/state';
import { EditorView, keymap } from '@codemirror/view';
import { indentWithTab } from '@codemirror/commands';
import { yaml } from '@codemirror/lang-yaml';
import { json } from '@codemirror/lang-json';
import { useEffect, useLayoutEffect, useRef } from 'preact/hooks';

export type Language = 'yaml' | 'json' | 'text';

function language(l: Language) {
  return l === 'yaml' ? yaml() : l === 'json' ? json() : [];
}

interface Props {
  value: string;
  onChange?: (text: string) => void;
  lang?: Language;
  readOnly?: boolean;
  /** A CSS height, e.g. '60vh'. */
  height?: string;
  label?: string;
}

export function Editor({ value, onChange, lang = 'yaml', readOnly = false, height = '60vh', label }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const langSlot = useRef(new Compartment());
  const roSlot = useRef(new Compartment());
  const changed = useRef(onChange);
  changed.current = onChange;

  useEffect(() => {
    const v = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: value,
        extensions: [
          basicSetup,
          keymap.of([indentWithTab]),
          langSlot.current.of(language(lang)),
          roSlot.current.of([EditorState.readOnly.of(readOnly), EditorView.editable.of(!readOnly)]),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) changed.current?.(u.state.doc.toString());
          }),
          EditorView.contentAttributes.of({ 'aria-label': label ?? 'editor' }),
          EditorView.theme({ '&': { height }, '.cm-scroller': { overflow: 'auto' } }),
        ],
      }),
    });
    view.current = v;
    return () => v.destroy();
  }, []);

  // A layout effect runs at the commit that carries `value`, before any further input: a deferred effect could
  // push an older value back into the editor while newer edits are still on their way to the parent.
  useLayoutEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
    }
  }, [value]);

  useEffect(() => {
    view.current?.dispatch({ effects: langSlot.current.reconfigure(language(lang)) });
  }, [lang]);

  useEffect(() => {
    view.current?.dispatch({
      effects: roSlot.current.reconfigure([EditorState.readOnly.of(readOnly), EditorView.editable.of(!readOnly)]),
    });
  }, [readOnly]);

  return <div class={`editor${readOnly ? ' readonly' : ''}`} ref={host} />;
}
