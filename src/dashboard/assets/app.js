// Baton's dashboard: Preact + htm (no build step) and uPlot, all served by the control plane itself.
import { html, render, useEffect, useRef, useState } from './vendor/preact-htm.js';
import uPlot from './vendor/uplot.js';

const CSRF_HEADER = 'x-baton-csrf';
let csrf = '';

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: {
      ...(method !== 'GET' ? { [CSRF_HEADER]: csrf } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text.split('\n').filter(Boolean).pop()) : {};
  } catch {
    json = { text };
  }
  if (!res.ok) {
    const err = new Error(json?.error?.message ?? `HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return json;
}

// ---- deploy progress, folded from the event stream ----

function stepLabel(s) {
  switch (s.op) {
    case 'start':
      return `start ${s.instances.length} instance(s) of revision ${s.revision}`;
    case 'split':
      return `send ${s.percent}% of requests to revision ${s.canary}`;
    case 'pause':
      return s.ms === undefined ? 'pause until promoted' : `pause ${s.ms / 1000}s`;
    case 'judge':
      return 'wait for the analysis verdict';
    case 'await-promotion':
      return 'wait for promotion';
    case 'hook':
      return `run hook ${s.hook}`;
    default:
      return s.instances ? `${s.op} ${s.instances.length} instance(s)` : s.op;
  }
}

function foldDeploy(prev, service, deployment, e) {
  let d =
    prev && prev.deployment === deployment
      ? { ...prev }
      : { deployment, service, steps: [], log: [], startedAt: Date.now() };
  switch (e.type) {
    case 'deployment':
      d = { ...d, kind: e.kind, toRevision: e.toRevision, fromRevision: e.fromRevision };
      break;
    case 'plan':
      d.steps = e.steps.map((s) => ({ label: stepLabel(s), state: 'pending' }));
      break;
    case 'step': {
      const steps = [...d.steps];
      while (steps.length < e.total) steps.push({ label: e.op, state: 'pending' });
      const state = e.phase === 'begin' ? 'running' : e.phase;
      steps[e.index - 1] = { label: e.phase === 'begin' ? e.message : steps[e.index - 1].label, state };
      d.steps = steps;
      if (e.phase !== 'begin') d.waiting = null;
      break;
    }
    case 'waiting':
      d.waiting = e.message;
      break;
    case 'analysis':
      d.analysis = e;
      break;
    case 'rollback':
      d.log = [...d.log, `rolling back: ${e.reason}`];
      break;
    case 'warning':
      d.log = [...d.log, `warning: ${e.message}`];
      break;
    case 'result':
      d.result = e;
      d.waiting = null;
      break;
  }
  d.log = d.log.slice(-5);
  return d;
}

function fromJournal({ deployment, journal }) {
  const steps = (deployment.plan ?? []).map((s) => ({ label: stepLabel(s), state: 'pending' }));
  for (const j of journal) {
    const i = j.step - 1;
    if (steps[i]) steps[i] = { ...steps[i], state: j.phase === 'begin' ? 'running' : j.phase };
  }
  return {
    deployment: deployment.id,
    service: deployment.service,
    kind: deployment.kind,
    toRevision: deployment.toRevision,
    fromRevision: deployment.fromRevision,
    steps,
    log: [],
    startedAt: Date.parse(deployment.startedAt),
  };
}

// ---- charts ----

const fmt = {
  rps: (v) => (v == null ? '–' : v.toFixed(1)),
  pct: (v) => (v == null ? '–' : `${(v * 100).toFixed(1)}%`),
  ms: (v) => (v == null ? '–' : `${v} ms`),
};
const COLORS = ['#2451b8', '#d9730d', '#7b3fb5', '#1a7f37'];

function Chart({ title, points, field, scale = 1 }) {
  const box = useRef(null);
  const plot = useRef(null);
  const revs = [...new Set(points.flatMap((p) => Object.keys(p.revisions)))].sort((a, b) => a - b);
  const key = revs.join(',');
  const data = [
    points.map((p) => p.t / 1000),
    ...revs.map((r) =>
      points.map((p) => {
        const v = p.revisions[r]?.[field];
        return v == null ? null : v * scale;
      }),
    ),
  ];
  useEffect(() => {
    const width = () => Math.max(200, box.current.clientWidth);
    plot.current?.destroy();
    plot.current = new uPlot(
      {
        width: width(),
        height: 150,
        title,
        series: [
          {},
          ...revs.map((r, i) => ({
            label: `rev ${r}`,
            stroke: COLORS[i % COLORS.length],
            width: 2,
            spanGaps: false,
          })),
        ],
        axes: [{}, { size: 50 }],
        scales: {
          y: { range: (_u, min, max) => [0, Math.max(max ?? 0, min ?? 0, field === 'errorRate' ? 1 : 1)] },
        },
        legend: { live: false },
      },
      data,
      box.current,
    );
    // The box's width comes from the layout, never from the chart (min-width: 0), so this cannot loop.
    const observer = new ResizeObserver(() => plot.current?.setSize({ width: width(), height: 150 }));
    observer.observe(box.current);
    return () => {
      observer.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [key]);
  useEffect(() => {
    plot.current?.setData(data);
  });
  return html`<div class="chart" ref=${box} data-chart=${field}></div>`;
}

// ---- the page ----

function SignIn({ onSignedIn, message }) {
  const [error, setError] = useState(message ?? '');
  const [busy, setBusy] = useState(false);
  const submit = async (ev) => {
    ev.preventDefault();
    const token = ev.target.token.value;
    setBusy(true);
    try {
      const s = await api('POST', '/ui/session', { token });
      onSignedIn(s);
    } catch (err) {
      setError(`Sign-in refused: ${err.message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="signin">
    <h2>Sign in to Baton</h2>
    <p class="muted">Paste an API token (<code>baton token create</code>, or the data dir's token).</p>
    <form onSubmit=${submit}>
      <input type="password" name="token" autocomplete="off" placeholder="API token" aria-label="API token" required />
      <button class="primary" type="submit" disabled=${busy}>Sign in</button>
    </form>
    ${error && html`<p class="error" role="alert" id="signin-error">${error}</p>`}
  </div>`;
}

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

function Service({ s, deploy, points, role, version }) {
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

function Dashboard({ session, onSignOut }) {
  const [services, setServices] = useState(null);
  const [samples, setSamples] = useState({});
  const [deploys, setDeploys] = useState({});
  const [live, setLive] = useState('connecting');
  const [error, setError] = useState('');
  const [version, setVersion] = useState(0);
  const refresh = useRef(null);

  const loadStatus = async () => {
    try {
      const { services } = await api('GET', '/v1/status');
      setServices(services);
      setError('');
      return services;
    } catch (err) {
      if (err.status === 401) onSignOut(err.message);
      else setError(err.message);
      return [];
    }
  };
  const soon = () => {
    clearTimeout(refresh.current);
    refresh.current = setTimeout(loadStatus, 200);
  };

  useEffect(() => {
    let closed = false;
    (async () => {
      const list = await loadStatus();
      for (const s of list) {
        api('GET', `/v1/services/${s.service}/samples`).then(
          (r) => setSamples((m) => ({ ...m, [s.service]: r.points })),
          () => {},
        );
        if (s.deploying)
          api('GET', `/v1/deployments/${s.deploying}`).then(
            (j) => setDeploys((m) => (m[s.service] ? m : { ...m, [s.service]: fromJournal(j) })),
            () => {},
          );
      }
    })();
    const es = new EventSource('/v1/events');
    es.onopen = () => setLive('live');
    es.onerror = () => !closed && setLive('reconnecting');
    es.addEventListener('deploy', (m) => {
      const { service, deployment, event } = JSON.parse(m.data);
      setDeploys((all) => ({ ...all, [service]: foldDeploy(all[service], service, deployment, event) }));
      if (event.type !== 'probe' && event.type !== 'instance') soon();
      if (event.type === 'result') setVersion((v) => v + 1);
    });
    es.addEventListener('sample', (m) => {
      const { service, point } = JSON.parse(m.data);
      const since = Date.now() - 15 * 60_000;
      setSamples((all) => ({
        ...all,
        [service]: [...(all[service] ?? []).filter((p) => p.t >= since), point],
      }));
      soon();
    });
    return () => {
      closed = true;
      es.close();
    };
  }, []);

  return html`<div>
    <header>
      <h1>Baton</h1>
      <span class="who">signed in as <b>${session.token.name}</b> (${session.token.role}, ${session.token.services.join(', ')}) · <span id="live">${live}</span></span>
      <button onClick=${() => api('DELETE', '/ui/session').finally(() => onSignOut(''))}>Sign out</button>
    </header>
    <main>
      ${error && html`<p class="error">${error}</p>`}
      ${services === null ? html`<p class="muted">Loading…</p>` : services.length === 0 ? html`<p class="muted">No services yet.</p>` : null}
      ${(services ?? []).map((s) => html`<${Service} key=${s.service} s=${s} deploy=${deploys[s.service]} points=${samples[s.service] ?? []} role=${session.token.role} version=${version} />`)}
    </main>
  </div>`;
}

function App() {
  const [session, setSession] = useState(undefined);
  const [message, setMessage] = useState('');
  useEffect(() => {
    api('GET', '/ui/session').then(
      (s) => {
        csrf = s.csrf;
        setSession(s);
      },
      () => setSession(null),
    );
  }, []);
  if (session === undefined) return html`<main><p class="muted">Loading…</p></main>`;
  if (!session)
    return html`<${SignIn} message=${message} onSignedIn=${(s) => {
      csrf = s.csrf;
      setSession(s);
    }} />`;
  return html`<${Dashboard} session=${session} onSignOut=${(why) => {
    csrf = '';
    setMessage(why ? `Signed out: ${why}` : '');
    setSession(null);
  }} />`;
}

const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);
