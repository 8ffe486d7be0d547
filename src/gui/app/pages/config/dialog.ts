/**
 * The confirm dialog (deletes) and the copy button (keys, snippets), shared by the Configuration
 * pages. The dialog is modal: focus starts on Cancel, Esc cancels, Tab stays inside.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { html } from '../../lib/html.ts';
import { ErrorBox } from '../../lib/ui.ts';

export function ConfirmDialog(props: { title: string; message: unknown; confirmLabel: string; onConfirm: () => Promise<void>; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const boxRef = useRef<HTMLDivElement>(null);
  // a layout effect: the Esc listener and the focus are in place before the dialog is painted (a
  // passive effect runs after, and an Esc pressed as soon as the dialog shows was lost)
  useLayoutEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    cancelRef.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') props.onClose();
      if (e.key === 'Tab' && boxRef.current) {
        const items = [...boxRef.current.querySelectorAll<HTMLElement>('button:not([disabled])')];
        const first = items[0];
        const last = items[items.length - 1];
        if (e.shiftKey && document.activeElement === first) (e.preventDefault(), last.focus());
        else if (!e.shiftKey && document.activeElement === last) (e.preventDefault(), first.focus());
      }
    };
    addEventListener('keydown', onKey);
    return () => {
      removeEventListener('keydown', onKey);
      opener?.focus?.();
    };
  }, []);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm();
      props.onClose();
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return html`<div class="modal-backdrop" onClick=${(e: Event) => e.target === e.currentTarget && props.onClose()}>
    <div class="modal" role="dialog" aria-modal="true" aria-labelledby="confirm-title" aria-describedby="confirm-text" ref=${boxRef}>
      <h2 id="confirm-title">${props.title}</h2>
      <p id="confirm-text">${props.message}</p>
      ${error && html`<${ErrorBox} error=${error} />`}
      <div class="actions">
        <button type="button" ref=${cancelRef} onClick=${props.onClose}>Cancel</button>
        <button type="button" class="danger" disabled=${busy} onClick=${confirm}>${props.confirmLabel}</button>
      </div>
    </div>
  </div>`;
}

/** Copies `text`; says so for a moment (and says when the browser refused). */
export function CopyButton(props: { text: string; label?: string }) {
  const [state, setState] = useState<'idle' | 'done' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const t = setTimeout(() => setState('idle'), 2000);
    return () => clearTimeout(t);
  }, [state]);
  const copy = () =>
    navigator.clipboard.writeText(props.text).then(
      () => setState('done'),
      () => setState('failed'),
    );
  return html`<button type="button" class="small copy" onClick=${copy} aria-live="polite">${state === 'done' ? 'Copied' : state === 'failed' ? 'Copy refused: select the text' : (props.label ?? 'Copy')}</button>`;
}

/** A block of code with its copy button. */
export function Snippet(props: { title: string; code: string }) {
  return html`<div class="snippet">
    <div class="snippet-head"><h3>${props.title}</h3><${CopyButton} text=${props.code} label=${`Copy ${props.title}`} /></div>
    <pre><code>${props.code}</code></pre>
  </div>`;
}
