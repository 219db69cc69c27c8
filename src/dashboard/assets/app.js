// Baton's dashboard: Preact + htm (no build step) and uPlot, all served by the control plane itself.
import { api, setCsrf } from './api.js';
import { foldDeploy, fromJournal } from './deploy-state.js';
import { Service } from './service.js';
import { html, render, useEffect, useRef, useState } from './vendor/preact-htm.js';

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
    es.onerror = () => {
      if (closed) return;
      setLive('reconnecting');
      // The stream ends when the session or its token no longer holds: then sign out and say why.
      api('GET', '/ui/session').catch((err) => err.status === 401 && onSignOut(err.message));
    };
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
        setCsrf(s.csrf);
        setSession(s);
      },
      () => setSession(null),
    );
  }, []);
  if (session === undefined) return html`<main><p class="muted">Loading…</p></main>`;
  if (!session)
    return html`<${SignIn} message=${message} onSignedIn=${(s) => {
      setCsrf(s.csrf);
      setSession(s);
    }} />`;
  return html`<${Dashboard} session=${session} onSignOut=${(why) => {
    setCsrf('');
    setMessage(why ? `Signed out: ${why}` : '');
    setSession(null);
  }} />`;
}

const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);
