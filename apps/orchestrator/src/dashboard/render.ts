import type { FailureRecord } from '../labs.js';
import type { LabBody, PoolStatusBody } from '../schemas.js';
import { escapeHtml as e, formatDuration } from './html.js';

export interface DashboardData {
  pools: PoolStatusBody[];
  /** Labs in claimed or releasing state. */
  labs: LabBody[];
  failures: FailureRecord[];
  /** Whether /admin/queues (bull-board) is mounted. */
  queueBoard: boolean;
  now: number;
}

/** The operator dashboard as one server-rendered page (no script; it refreshes itself every 10 s). */
export function renderDashboard(data: DashboardData): string {
  const pools = data.pools.map((pool) => {
    const { ready, provisioning, claimed, releasing, failed } = pool.counts;
    const live = ready + provisioning + claimed;
    const health = ready >= pool.min ? 'ok' : ready + provisioning >= pool.min ? 'filling' : 'short';
    return `<tr data-pool="${e(pool.name)}" class="${health}">
  <td><b>${e(pool.name)}</b><br><small>k8s ${e(pool.kubernetesVersion)} · ${e(pool.workers)} worker(s) · ${e(pool.size)}</small></td>
  <td class="n" data-col="ready">${ready} <small>/ min ${pool.min}${pool.target === null || pool.target === pool.min ? '' : ` · target ${pool.target}`}</small>${pool.heldBy === null || pool.heldBy === 'max' ? '' : `<br><span class="held" data-held="${e(pool.heldBy)}">held by ${e(pool.heldBy)}</span>`}${pool.lastFailure === null ? '' : `<br><span class="failure" data-failure="${e(pool.lastFailure.lab)}" title="${e(new Date(pool.lastFailure.at).toISOString())}">last failure: ${e(pool.lastFailure.reason)}</span>`}</td>
  <td class="n" data-col="provisioning">${provisioning} <small>/ ≤${pool.maxConcurrentProvisions} at once</small></td>
  <td class="n" data-col="claimed">${claimed}</td>
  <td class="n" data-col="capacity">${live} <small>/ max ${pool.max}</small><div class="bar"><span style="width:${Math.min(100, Math.round((live / pool.max) * 100))}%"></span></div></td>
  <td class="n">${releasing}</td>
  <td class="n">${failed}</td>
  <td class="n" data-col="waiting">${pool.waiting}</td>
</tr>`;
  });
  const labs = data.labs.map(
    (lab) => `<tr data-lab="${e(lab.id)}">
  <td><code>${e(lab.id)}</code></td><td>${e(lab.learner ?? '')}</td><td>${e(lab.scenario ?? '')}</td>
  <td>${e(lab.pool)}</td><td class="state-${e(lab.state)}">${e(lab.state)}${lab.attention === null ? '' : ` <span class="attention" title="${e(lab.attention)}">needs attention</span>`}${lab.idle === null ? '' : ` <span class="idle" title="warned ${e(lab.idle.warnedAt)}">idle, goes at ${e(lab.idle.releaseAt.slice(11, 16))} UTC</span>`}${lab.ended === null ? '' : `<br><small class="ended" data-ended="${e(lab.ended.reason)}">${e(lab.ended.message)}</small>`}</td>
  <td class="n">${lab.secondsLeft === null ? '' : e(formatDuration(lab.secondsLeft))}</td>
  <td class="n">${lab.hintsRevealed}/${lab.hintsTotal}</td>
  <td>${lab.state === 'claimed' ? `<a class="watch" href="/admin/labs/${e(lab.id)}/terminal" title="the learner's browser terminal, read-only">watch</a>` : ''}</td>
</tr>`,
  );
  const failures = data.failures.map(
    (f) => `<tr><td>${e(new Date(f.at).toISOString().replace('T', ' ').slice(0, 19))}</td><td>${e(f.pool)}</td>
  <td><code>${e(f.lab)}</code></td><td>${e(f.learner ?? '')}</td><td class="reason">${e(f.reason)}</td></tr>`,
  );
  const empty = (columns: number, text: string) => `<tr><td colspan="${columns}" class="empty">${e(text)}</td></tr>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>breakfix · operator dashboard</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d1d1f;background:#fafafa}
h1{font-size:1.3rem;margin:0 0 .2rem}h2{font-size:1.05rem;margin:1.6rem 0 .4rem}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0001}
th,td{padding:.35rem .6rem;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f0f0f3;font-weight:600}td.n{text-align:right;white-space:nowrap}small{color:#777}
tr.ok td:first-child{border-left:4px solid #2a9d55}tr.filling td:first-child{border-left:4px solid #e0a400}
tr.short td:first-child{border-left:4px solid #d33}.bar{height:4px;background:#eee;margin-top:3px}
.bar span{display:block;height:4px;background:#4a6cf7}.empty{color:#888;text-align:center}
.state-releasing{color:#a60}.held{color:#a60;font-size:11px}.failure{color:#a11;font-size:11px;white-space:normal}.attention{color:#fff;background:#a11;border-radius:3px;padding:0 4px;font-size:11px}.reason{color:#a11;font-family:ui-monospace,monospace;font-size:12px}
nav a{margin-right:1rem}
</style></head><body>
<h1>breakfix operator dashboard</h1>
<nav><small>as of ${e(new Date(data.now).toISOString())}</small> ${data.queueBoard ? '<a href="/admin/queues">BullMQ queues →</a>' : ''}<a href="/docs">API docs</a></nav>
<h2>Pools</h2>
<table id="pools"><thead><tr><th>pool</th><th>ready</th><th>provisioning</th><th>claimed</th><th title="ready + booting + claimed, against the pool's max">live</th><th>releasing</th><th>failed</th><th>waiting</th></tr></thead>
<tbody>${pools.join('') || empty(8, 'no pools configured')}</tbody></table>
<h2>Active labs (${data.labs.length})</h2>
<table id="labs"><thead><tr><th>lab</th><th>learner</th><th>scenario</th><th>pool</th><th>state</th><th>time left</th><th>hints</th><th>terminal</th></tr></thead>
<tbody>${labs.join('') || empty(8, 'no lab is claimed')}</tbody></table>
<h2>Recent failures</h2>
<table id="failures"><thead><tr><th>when (UTC)</th><th>pool</th><th>lab</th><th>learner</th><th>reason</th></tr></thead>
<tbody>${failures.join('') || empty(5, 'nothing failed recently')}</tbody></table>
</body></html>`;
}
