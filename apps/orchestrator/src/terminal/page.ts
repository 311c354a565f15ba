import { escapeHtml } from '../dashboard/html.js';

/** Where the page's scripts and styles come from (served by the orchestrator, never a CDN). */
export const ASSETS_PATH = '/terminal/assets';

/**
 * Headers for every terminal page: scripts only from this origin, no framing (a hidden frame must
 * not take keystrokes), and no Referer (a link's token never leaks to a site the learner opens).
 * xterm.js sets styles at runtime, hence `style-src 'unsafe-inline'`.
 */
export const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
} as const;

export interface TerminalPage {
  labId: string;
  /** `learner` types into the lab; `observer` only watches. */
  mode: 'learner' | 'observer';
  /** The WebSocket path. */
  socket: string;
  /** Who is shown in the title bar (the learner). */
  learner: string;
  /** Replaces the address bar's URL (drops a spent link's token from history). */
  canonicalPath?: string;
}

export function renderTerminalPage(page: TerminalPage): string {
  const title = page.mode === 'observer' ? `watching ${page.learner} · lab ${page.labId}` : `lab ${page.labId}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>breakfix · ${escapeHtml(title)}</title>
<link rel="stylesheet" href="${ASSETS_PATH}/xterm.css"><link rel="stylesheet" href="${ASSETS_PATH}/terminal.css">
</head>
<body data-lab="${escapeHtml(page.labId)}" data-mode="${page.mode}" data-socket="${escapeHtml(page.socket)}"${
    page.canonicalPath === undefined ? '' : ` data-canonical="${escapeHtml(page.canonicalPath)}"`
  }>
<header><strong>breakfix</strong> <span>${escapeHtml(title)}</span>${
    page.mode === 'observer' ? ' <em class="readonly">read-only</em>' : ''
  } <span id="status" role="status">connecting…</span></header>
<div id="watched" class="banner" hidden>An instructor is watching this terminal (read-only).</div>
<div id="notice" class="banner warn" hidden></div>
<div id="ended" class="banner ended" hidden></div>
<main id="terminal"></main>
<script type="module" src="${ASSETS_PATH}/terminal.js"></script>
</body></html>`;
}

/** An error the learner can act on: what happened, and what to do. */
export function renderTerminalError(error: { title: string; detail: string; action: string }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>breakfix · ${escapeHtml(error.title)}</title>
<link rel="stylesheet" href="${ASSETS_PATH}/terminal.css"></head>
<body class="error"><main><h1>${escapeHtml(error.title)}</h1>
<p id="detail">${escapeHtml(error.detail)}</p><p id="action">${escapeHtml(error.action)}</p></main></body></html>`;
}
