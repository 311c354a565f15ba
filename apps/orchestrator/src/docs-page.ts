import { escapeHtml } from './dashboard/html.js';

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  responses?: Record<string, { description?: string }>;
}

/** A plain, dependency-free page over the OpenAPI document: every route, what it does, what it answers. */
export function renderDocsPage(document: { info: { title: string; description?: string }; paths?: object }): string {
  const rows = Object.entries((document.paths ?? {}) as Record<string, Record<string, Operation>>).flatMap(
    ([path, methods]) =>
      Object.entries(methods).map(
        ([method, op]) => `<section class="op">
  <h3><code class="m-${escapeHtml(method)}">${escapeHtml(method.toUpperCase())}</code> <code>${escapeHtml(path)}</code></h3>
  <p>${escapeHtml(op.summary ?? '')}</p>${op.description === undefined ? '' : `\n  <p class="d">${escapeHtml(op.description)}</p>`}
  <ul>${Object.entries(op.responses ?? {})
    .map(([status, r]) => `<li><b>${escapeHtml(status)}</b> ${escapeHtml(r.description ?? '')}</li>`)
    .join('')}</ul>
</section>`,
      ),
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(document.info.title)}</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
.op{border-top:1px solid #ddd;padding:.4rem 0}h3{margin:.4rem 0;font-size:1rem}code{font-size:.95rem}
.m-get{color:#06c}.m-post{color:#080}.m-delete{color:#b00}.m-put{color:#a60}.d{color:#555}ul{margin:.2rem 0}</style>
</head><body>
<h1>${escapeHtml(document.info.title)}</h1>
<p>${escapeHtml(document.info.description ?? '')}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Errors: <code>application/problem+json</code> with <code>code</code>, <code>hint</code>.</p>
${rows.join('\n')}
</body></html>`;
}
