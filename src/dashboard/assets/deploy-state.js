// A deploy's progress as the page shows it, folded from the event stream's deploy events (pure: no DOM).
export function stepLabel(s) {
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

export function foldDeploy(prev, service, deployment, e) {
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
      // The judge's verdict is what let the canary go on; the watch's later readings (after the split
      // ended) are not a verdict on this canary.
      if (e.op === 'judge' && e.phase === 'done') d.judged = true;
      break;
    }
    case 'waiting':
      d.waiting = e.message;
      break;
    case 'analysis':
      if (!d.judged) d.analysis = e;
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

export function fromJournal({ deployment, journal }) {
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
