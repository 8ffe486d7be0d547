/** Placeholder: being built. */
import { html } from '../lib/html.ts';
import { PageHeader } from '../lib/ui.ts';
import type { PageProps } from '../main.ts';

export function ConfigPage(_props: PageProps) {
  return html`<${PageHeader} title="config" />`;
}
