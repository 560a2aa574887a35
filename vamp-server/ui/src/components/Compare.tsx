// Two texts side by side with their differences marked (CodeMirror's merge view): an earlier revision on the
// left, the current text on the right.
import { MergeView } from '@codemirror/merge';
import { basicSetup } from 'codemirror';
import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { yaml } from '@codemirror/lang-yaml';
import { useEffect, useRef } from 'preact/hooks';

export function Compare({ left, right }: { left: string; right: string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const side = (doc: string) => ({
      doc,
      extensions: [basicSetup, yaml(), EditorState.readOnly.of(true), EditorView.editable.of(false)],
    });
    const view = new MergeView({ a: side(left), b: side(right), parent: host.current!, collapseUnchanged: { margin: 3 } });
    return () => view.destroy();
  }, [left, right]);
  return <div class="compare" ref={host} />;
}
