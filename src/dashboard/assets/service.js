// One service's card: state, split, instances, deploy and analysis, charts, actions, history.
import { api } from './api.js';
import { Chart, fmt } from './chart.js';
import { html, useEffect, useState } from './vendor/preact-htm.js';

function Split({ s }) {
  const weights = s.split?.weights ?? (s.current != null ? [{ revision: s.current, percent: 100 }] : []);
  if (!weights.length) return html`<p class="muted">no traffic</p>`;
  return html`<div class="split" data-split=${weights.map((w) => `${w.revision}:${w.percent}`).join(',')}>
    ${weights.filter((w) => w.percent > 0).map((w, i) => html`<div class=${`rev-${i % 4}`} style=${`width:${w.percent}%`}>rev ${w.revision} · ${w.percent}%</div>`)}
  </div>`;
}

function Instances({ s }) {
  return html`<div class="scroll"><table>
    <thead><tr><th>instance</th><th>rev</th><th>state</th><th>routed</th><th>health</th><th class="num">in flight</th></tr></thead>
    <tbody>${s.instances.map(
      (i) => html`<tr>
      <td>${i.id}</td><td>${i.revision}</td><td>${i.state}</td><td>${i.routed}</td>
      <td>${i.healthy == null ? '–' : i.healthy ? html`<span class="badge ok">healthy</span>` : html`<span class="badge bad">unhealthy</span>`}</td>
      <td class="num">${i.inFlight}</td></tr>`,
    )}</tbody>
  </table></div>`;
}

function sums(points, since, rev) {
  let requests = 0;
  let errors = 0;
  for (const p of points) {
    if (p.t < since) continue;
    const r = p.revisions[rev];
    if (r) {
      requests += r.requests;
      errors += r.errors;
    }
  }
  return { requests, errors };
}

function Analysis({ d, s, points }) {
  const canary = s.split?.canary ?? d.toRevision;
  const stable = s.split?.stable ?? d.fromRevision;
  const a = d.analysis;
  const live = { canary: sums(points, d.startedAt, canary), stable: sums(points, d.startedAt, stable) };
  const f = a?.figures;
  const row = (label, rev, fig, lv) => html`<tr data-rev=${label}>
    <td>${label} (rev ${rev})</td>
    <td class="num">${lv.requests}</td><td class="num">${lv.errors}</td>
    <td class="num">${fig ? fig.requests : '–'}</td><td class="num">${fig ? fmt.pct(fig.errorRate) : '–'}</td><td class="num">${fig ? fmt.ms(fig.p99Ms) : '–'}</td>
  </tr>`;
  return html`<section class="analysis">
    <h3>Canary analysis</h3>
    <p>Verdict so far: ${a ? html`<span class=${`verdict-${a.decision}`} id=${`verdict-${d.service}`}>${a.decision}</span> — ${a.reason}` : html`<span class="muted" id=${`verdict-${d.service}`}>none yet</span>`}</p>
    <div class="scroll"><table>
      <thead><tr><th></th><th class="num">requests (live)</th><th class="num">errors (live)</th><th class="num">judged requests</th><th class="num">error rate</th><th class="num">p99</th></tr></thead>
      <tbody>${row('canary', canary, f?.canary, live.canary)}${row('stable', stable, f?.stable, live.stable)}</tbody>
    </table></div>
  </section>`;
}

function Deploy({ d, s, points }) {
  const mark = { pending: '○', running: '▶', done: '✓', failed: '✗' };
  return html`<section class="deploy" data-deployment=${d.deployment}>
    <h3>${d.kind ?? 'deploy'} ${d.fromRevision ?? '–'} → ${d.toRevision ?? '?'} (${d.deployment})</h3>
    <ol class="steps">${d.steps.map((st, i) => html`<li class=${st.state} data-step=${i + 1} data-state=${st.state}><span class="mark">${mark[st.state] ?? ''}</span><span>${st.label}</span></li>`)}</ol>
    ${d.waiting && html`<p class="notice">${d.waiting}</p>`}
    ${d.log.map((l) => html`<p class="muted">${l}</p>`)}
    ${d.result && html`<p class=${d.result.ok ? 'result-ok' : 'result-bad'} id=${`result-${d.service}`}>${d.result.ok ? '✓' : '✗'} ${d.result.message}</p>`}
    ${(d.analysis || s.split) && html`<${Analysis} d=${d} s=${s} points=${points} />`}
  </section>`;
}

const ACTIONS = [
  {
    id: 'promote',
    label: 'Promote',
    when: (s) => s.deploying,
    call: (n) => ['POST', `/v1/services/${n}/promote`, {}],
  },
  {
    id: 'pause',
    label: 'Pause',
    when: (s) => s.deploying && !s.paused,
    call: (n) => ['POST', `/v1/services/${n}/pause`, {}],
  },
  {
    id: 'resume',
    label: 'Resume',
    when: (s) => s.deploying && s.paused,
    call: (n) => ['POST', `/v1/services/${n}/resume`, {}],
  },
  {
    id: 'abort',
    label: 'Abort',
    danger: true,
    when: (s) => s.deploying,
    call: (n) => ['POST', `/v1/services/${n}/abort`, { reason: 'aborted from the dashboard' }],
  },
  {
    id: 'rollback',
    label: 'Roll back',
    danger: true,
    when: (s) => s.current != null,
    call: (n) => ['POST', `/v1/services/${n}/rollback`, {}],
  },
  {
    id: 'maintenance-on',
    label: 'Maintenance on',
    danger: true,
    when: (s) => s.mode?.kind !== 'maintenance' && s.route,
    call: (n) => ['POST', `/v1/services/${n}/mode`, { maintenance: true }],
  },
  {
    id: 'maintenance-off',
    label: 'Maintenance off',
    when: (s) => s.mode?.kind === 'maintenance',
    call: (n) => ['POST', `/v1/services/${n}/mode`, { maintenance: false }],
  },
];

function Actions({ s, role }) {
  const [pending, setPending] = useState(null);
  const [outcome, setOutcome] = useState('');
  if (role === 'viewer') return html`<p class="muted">Read-only token: no actions.</p>`;
  const run = async (a) => {
    setPending(null);
    setOutcome(`${a.label}: sent…`);
    try {
      await api(...a.call(s.service));
      setOutcome(`${a.label}: done`);
    } catch (err) {
      setOutcome(`${a.label} refused: ${err.message}`);
    }
  };
  return html`<div>
    <div class="actions">${ACTIONS.filter((a) => a.when(s)).map((a) => html`<button class=${a.danger ? 'danger' : ''} data-action=${a.id} onClick=${() => setPending(a)}>${a.label}</button>`)}</div>
    ${
      pending &&
      html`<div class="confirm" role="alertdialog">
      <span>${pending.label} <b>${s.service}</b>?</span>
      <button class="primary" data-confirm=${pending.id} onClick=${() => run(pending)}>Yes, ${pending.label.toLowerCase()}</button>
      <button onClick=${() => setPending(null)}>Cancel</button>
    </div>`
    }
    ${outcome && html`<p class="muted" data-outcome>${outcome}</p>`}
  </div>`;
}

function HistoryAudit({ name, version }) {
  const [open, setOpen] = useState(false);
  const [data, setData] = useState(null);
  useEffect(() => {
    if (!open) return;
    Promise.all([
      api('GET', `/v1/services/${name}/history?limit=10`),
      api('GET', `/v1/audit?service=${name}&limit=15`),
    ])
      .then(([history, audit]) => setData({ history, audit }))
      .catch((err) => setData({ error: err.message }));
  }, [open, version]);
  return html`<details onToggle=${(e) => setOpen(e.target.open)}>
    <summary>History and audit</summary>
    ${data?.error && html`<p class="error">${data.error}</p>`}
    ${
      data?.history &&
      html`<div class="grid">
      <section><h3>Deployments</h3><div class="scroll"><table>
        <thead><tr><th>started</th><th>kind</th><th>rev</th><th>state</th><th>by</th></tr></thead>
        <tbody>${data.history.deployments.map((d) => html`<tr><td>${new Date(d.startedAt).toLocaleString()}</td><td>${d.kind}</td><td>${d.fromRevision ?? '–'} → ${d.toRevision}</td><td>${d.state}</td><td>${d.actor}</td></tr>`)}</tbody>
      </table></div></section>
      <section><h3>Audit</h3><div class="scroll"><table>
        <thead><tr><th>at</th><th>action</th><th>result</th><th>by</th></tr></thead>
        <tbody>${data.audit.events.map((e) => html`<tr><td>${new Date(e.at).toLocaleString()}</td><td>${e.action}</td><td>${e.result}</td><td>${e.actor}</td></tr>`)}</tbody>
      </table></div></section>
    </div>`
    }
  </details>`;
}

export function Service({ s, deploy, points, role, version }) {
  const latest = points.length ? points[points.length - 1].revisions : {};
  return html`<article class="service" id=${`service-${s.service}`} data-service=${s.service}>
    <h2>${s.service}
      <span class="badge ok" data-serving=${s.current ?? ''}>serving rev ${s.current ?? '–'}</span>
      ${s.deploying && html`<span class="badge warn">deploying</span>`}
      ${s.paused && html`<span class="badge warn">paused</span>`}
      ${s.waiting && html`<span class="badge warn">waiting for ${s.waiting}</span>`}
      ${s.mode?.kind === 'maintenance' && html`<span class="badge bad">maintenance</span>`}
      ${s.stopped && html`<span class="badge bad">stopped</span>`}
    </h2>
    <p class="muted">${s.listen ?? ''} · ${s.instances.length} instance(s) · ${Object.entries(latest)
      .map(([r, v]) => `rev ${r}: ${fmt.rps(v.rps)} req/s`)
      .join(' · ')}</p>
    <div class="grid">
      <section><h3>Traffic split</h3><${Split} s=${s} /></section>
      <section><h3>Instances</h3><${Instances} s=${s} /></section>
    </div>
    ${deploy && html`<div class="grid"><${Deploy} d=${deploy} s=${s} points=${points} /></div>`}
    <div class="grid">
      <${Chart} title="requests/s" points=${points} field="rps" />
      <${Chart} title="error rate %" points=${points} field="errorRate" scale=${100} />
      <${Chart} title="p99 latency (ms)" points=${points} field="p99Ms" />
    </div>
    <${Actions} s=${s} role=${role} />
    <${HistoryAudit} name=${s.service} version=${version} />
  </article>`;
}
