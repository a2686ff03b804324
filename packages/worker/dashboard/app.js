// The operator's live page: every session from GET /dashboard/events (Server-Sent Events, the
// worker pushes each change), actions through the same /api/* routes programs use, signed in by
// the HttpOnly cookie (never the key). preact + htm, served by the worker: no build step.
import { html, render, useEffect, useState } from './preact-htm.js';

/** What each status means to an operator, its colour class, and its order of urgency in the counts. */
const STATUSES = {
  failed: { label: 'Failed', tone: 'bad', hint: 'Gave up reconnecting. A person must act: reconnect, or pair it again.' },
  disconnected: { label: 'Disconnected', tone: 'off', hint: 'Not running. Reconnect starts it again from its saved login.' },
  qr_scanning: { label: 'Waiting for QR scan', tone: 'info', hint: 'Scan the QR with the phone: WhatsApp › Linked devices › Link a device.' },
  reconnecting: { label: 'Reconnecting', tone: 'warn', hint: 'Lost; the worker is bringing it back by itself.' },
  initializing: { label: 'Starting', tone: 'warn', hint: 'Chromium is opening WhatsApp Web.' },
  authenticated: { label: 'Logging in', tone: 'warn', hint: 'Paired; waiting for WhatsApp Web to be ready.' },
  connected: { label: 'Connected', tone: 'ok', hint: 'Messages flow.' },
};
const ID_PATTERN = '[A-Za-z0-9_\\-]{1,100}';

/** `fetch` on the worker's API; the cookie goes along, the browser adds the Origin the worker checks. */
async function api(method, url, body) {
  const response = await fetch(url, {
    method,
    credentials: 'same-origin',
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new Error(data?.error?.message ?? `The worker answered ${response.status}`);
  return data;
}

/** A short stable tag of the QR text: the image's URL changes when the QR does, so the browser fetches the new one. */
function tag(text) {
  let hash = 5381;
  for (let i = 0; i < text.length; i++) hash = ((hash * 33) ^ text.charCodeAt(i)) >>> 0;
  return hash.toString(36);
}

function ago(iso, now) {
  if (!iso) return '—';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

const percent = (share) => (typeof share === 'number' ? `${(share * 100).toFixed(1)} %` : '—');
const shown = (value) => (value === null || value === undefined || value === '' ? '—' : String(value));

/** The live stream: the sessions list as the worker last sent it, and the stream's own state. */
function useSessions() {
  const [sessions, setSessions] = useState(null);
  const [stream, setStream] = useState({ state: 'connecting', opens: 0 });
  useEffect(() => {
    const source = new EventSource('/dashboard/events');
    source.addEventListener('sessions', (event) => setSessions(JSON.parse(event.data).sessions));
    source.onopen = () => setStream((s) => ({ state: 'live', opens: s.opens + 1 }));
    // EventSource retries by itself; CLOSED means the worker refused it (the sign-in ended).
    source.onerror = () => setStream((s) => ({ ...s, state: source.readyState === EventSource.CLOSED ? 'ended' : 'lost' }));
    return () => source.close();
  }, []);
  return { sessions, stream };
}

/** A clock for "12 s ago": local, the server is not asked. */
function useNow() {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

function StreamState({ stream }) {
  const text = {
    connecting: 'Connecting…',
    live: 'Live: changes show as they happen',
    lost: 'Connection to the worker lost: retrying…',
    ended: 'Your sign-in has ended: reload the page to sign in again',
  }[stream.state];
  return html`<p class=${`stream stream-${stream.state}`} role="status" data-opens=${stream.opens}>${text}</p>`;
}

function Counts({ sessions }) {
  const count = (...statuses) => sessions.filter((s) => statuses.includes(s.status)).length;
  const items = [
    ['Sessions', sessions.length, 'all'],
    ['Connected', count('connected'), 'ok'],
    ['Need a person', count('failed', 'disconnected', 'qr_scanning'), 'bad'],
    ['Recovering', count('reconnecting', 'initializing', 'authenticated'), 'warn'],
  ];
  return html`<ul class="counts" aria-label="Session counts">
    ${items.map(([label, value, tone]) => html`<li class=${`count count-${tone}${tone !== 'all' && value > 0 ? ' count-active' : ''}`}><strong>${value}</strong> ${label}</li>`)}
  </ul>`;
}

function StartForm({ onNotice }) {
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    if (busy) return;
    const form = event.currentTarget;
    const body = { session_id: form.elements.session_id.value.trim(), workspace_id: form.elements.workspace_id.value.trim() };
    setBusy(true);
    try {
      await api('POST', '/api/sessions', body);
      onNotice(`Session ${body.session_id} started.`);
      form.reset();
    } catch (error) {
      onNotice(`Could not start ${body.session_id}: ${error.message}`, true);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="start" onSubmit=${submit} aria-labelledby="start-title">
    <h2 id="start-title">Start a session</h2>
    <div class="field"><label for="start-session">Session id</label><input id="start-session" name="session_id" required pattern=${ID_PATTERN} autocomplete="off" /></div>
    <div class="field"><label for="start-workspace">Workspace id</label><input id="start-workspace" name="workspace_id" required pattern=${ID_PATTERN} autocomplete="off" /></div>
    <button type="submit" aria-disabled=${busy ? 'true' : 'false'}>${busy ? 'Starting…' : 'Start session'}</button>
  </form>`;
}

/** `ABCDEFGH` as the phone shows it, `ABCD-EFGH`. */
const grouped = (code) => (code.length === 8 ? `${code.slice(0, 4)}-${code.slice(4)}` : code);

/**
 * Pairing without a camera: the operator gives the phone's number, the worker asks WhatsApp Web
 * for a code (POST /api/sessions/:id/pairing-code), and the code is shown to type on the phone.
 * WhatsApp refreshes it every 3 minutes: the stream's `pairing_code` is the current one.
 */
function PairingCode({ session }) {
  const [busy, setBusy] = useState(false);
  const [answered, setAnswered] = useState(null);
  const [error, setError] = useState(null);
  const id = session.session_id;
  const code = session.pairing_code ?? answered;
  const submit = async (event) => {
    event.preventDefault();
    if (busy) return;
    // Spaces and dashes as people write numbers are dropped; the worker checks the rest (400 with why).
    const phone = event.currentTarget.elements.phone_number.value.replace(/[\s().-]/g, '');
    // The shared phone pattern (packages/shared/src/phone.ts), said in words before the worker says it in a regex.
    if (!/^\+?\d{5,32}$/.test(phone)) {
      setError('Enter the phone number in digits, country code first (e.g. 6281234567890 for Indonesia).');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      setAnswered((await api('POST', `/api/sessions/${id}/pairing-code`, { phone_number: phone })).code);
    } catch (failure) {
      setError(`No code: ${failure.message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="pairing" aria-labelledby=${`pairing-title-${id}`}>
    <h4 id=${`pairing-title-${id}`}>Or pair by phone number</h4>
    <form class="pairing-form" onSubmit=${submit}>
      <div class="field">
        <label for=${`pairing-phone-${id}`}>Phone number, country code first</label>
        <input id=${`pairing-phone-${id}`} name="phone_number" type="tel" inputmode="tel" required minlength="5" maxlength="40" placeholder="6281234567890" autocomplete="off" />
      </div>
      <button type="submit" aria-disabled=${busy ? 'true' : 'false'}>${busy ? 'Asking WhatsApp…' : code ? 'Get a new code' : 'Get pairing code'}</button>
    </form>
    ${error ? html`<p class="pairing-error" role="alert">${error}</p>` : null}
    <div aria-live="polite">
      ${code
        ? html`<p class="pairing-code"><span class="visually-hidden">Pairing code: </span><strong>${grouped(code)}</strong></p>
            <p class="pairing-how">On that phone: WhatsApp › Linked devices › Link a device › <em>Link with phone number instead</em>, then type this code. It changes every 3 minutes; this page shows the current one.</p>`
        : null}
    </div>
  </section>`;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const STOPS_ON_PURPOSE = new Set(['STOPPED', 'LOGGED_OUT']);

/**
 * The last 24 h as segments, replaying the history as the worker's uptime does (`uptime.ts`):
 * `up` connected, `down` meant to run and not connected, `worker` meant to run while the worker
 * was down, `idle` not meant to run (never started, or stopped on purpose).
 */
function segments(events, now) {
  const start = now - DAY_MS;
  let state = { workerUp: true, status: null, meant: false };
  const kind = () => (!state.meant ? 'idle' : !state.workerUp ? 'worker' : state.status === 'connected' ? 'up' : 'down');
  const out = [];
  let cursor = start;
  const add = (until) => {
    if (until <= cursor) return;
    const last = out[out.length - 1];
    if (last && last.kind === kind()) last.to = until;
    else out.push({ kind: kind(), from: cursor, to: until });
    cursor = until;
  };
  for (const event of events) {
    const t = Date.parse(event.at);
    if (!(t <= now)) continue;
    add(t);
    if (event.to === null) {
      if (event.reason === 'WORKER_STARTED') state = { ...state, workerUp: true, status: null };
      if (event.reason === 'WORKER_STOPPED') state = { ...state, workerUp: false, status: null };
    } else {
      state = { workerUp: true, status: event.to, meant: !(event.to === 'disconnected' && STOPS_ON_PURPOSE.has(event.reason)) };
    }
  }
  add(now);
  return out;
}

const SEGMENT_LABELS = { up: 'connected', down: 'not connected', worker: 'worker down', idle: 'not meant to run' };
const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/** One line of the timeline: a status change, or the worker starting or stopping. */
function describe(event) {
  if (event.to === null) return event.reason === 'WORKER_STARTED' ? 'Worker started' : event.reason === 'WORKER_STOPPED' ? 'Worker stopped' : shown(event.reason);
  const to = STATUSES[event.to]?.label ?? event.to;
  return event.from === null ? `Registered: ${to}` : `${STATUSES[event.from]?.label ?? event.from} → ${to}`;
}

/**
 * The session's history (GET /api/sessions/:id/events), fetched when the operator opens it and
 * again whenever the session's status changes while open: a 24 h uptime bar (SVG rectangles, so
 * the page's CSP needs no inline style) and the entries, newest first.
 */
function Timeline({ session, now }) {
  const [open, setOpen] = useState(false);
  const [events, setEvents] = useState(null);
  const [error, setError] = useState(null);
  const id = session.session_id;
  useEffect(() => {
    if (!open) return undefined;
    let current = true;
    api('GET', `/api/sessions/${id}/events`).then(
      (data) => current && (setEvents(data.events), setError(null)),
      (failure) => current && setError(failure.message),
    );
    return () => {
      current = false;
    };
  }, [open, id, session.status, session.updated_at]);
  const parts = events ? segments(events, now) : [];
  const span = DAY_MS / 1000;
  return html`<details class="timeline" onToggle=${(e) => setOpen(e.currentTarget.open)}>
    <summary>History and uptime</summary>
    ${error ? html`<p class="notice-error">${error}</p>` : null}
    ${open && events === null && !error ? html`<p class="loading">Loading the history…</p>` : null}
    ${events
      ? html`<figure class="uptime-bar">
            <svg viewBox=${`0 0 ${span} 10`} preserveAspectRatio="none" role="img" aria-label=${`Last 24 hours: uptime ${percent(session.uptime_24h)}`}>
              ${parts.map((p) => html`<rect class=${`seg seg-${p.kind}`} x=${(p.from - (now - DAY_MS)) / 1000} y="0" width=${(p.to - p.from) / 1000} height="10"><title>${`${SEGMENT_LABELS[p.kind]} ${clock(p.from)}–${clock(p.to)}`}</title></rect>`)}
            </svg>
            <figcaption><span class="ends"><span>24 h ago</span><span>now</span></span><span class="legend"><span><i class="key seg-up"></i>connected</span> <span><i class="key seg-down"></i>not connected</span> <span><i class="key seg-worker"></i>worker down</span> <span><i class="key seg-idle"></i>not meant to run</span></span></figcaption>
          </figure>
          ${events.length === 0
            ? html`<p class="empty">No history yet.</p>`
            : html`<ol class="events" aria-label=${`History of ${id}, newest first`}>
                ${[...events].reverse().slice(0, 50).map(
                  (event) => html`<li class="event" data-to=${event.to ?? ''} data-reason=${event.reason ?? ''}>
                    <time datetime=${event.at} title=${event.at}>${new Date(event.at).toLocaleString()}</time>
                    <span class="what">${describe(event)}</span>${event.to !== null && event.reason ? html` <code>${event.reason}</code>` : null}
                  </li>`,
                )}
              </ol>`}`
      : null}
  </details>`;
}

// Buttons at work are aria-disabled, not disabled: a disabled button drops the keyboard focus to
// the page, and the operator would have to tab back to the card.
function SessionCard({ session, now, onNotice }) {
  const [busy, setBusy] = useState(null);
  const meaning = STATUSES[session.status] ?? { label: session.status, tone: 'off', hint: '' };
  const id = session.session_id;
  const act = async (name, method, url, done) => {
    if (busy !== null) return;
    setBusy(name);
    try {
      await api(method, url);
      onNotice(done);
    } catch (error) {
      onNotice(`${id}: ${error.message}`, true);
    } finally {
      setBusy(null);
    }
  };
  const reconnect = () => act('reconnect', 'POST', `/api/sessions/${id}/reconnect`, `Reconnecting ${id}.`);
  const stop = () => act('stop', 'DELETE', `/api/sessions/${id}`, `${id} stopped; its login is kept.`);
  const logOut = () => {
    if (busy !== null) return;
    if (!window.confirm(`Log out ${id}${session.phone_number ? ` (${session.phone_number})` : ''}? Its login is deleted: the phone must scan a QR again.`)) return;
    act('logout', 'DELETE', `/api/sessions/${id}?logout=true`, `${id} logged out.`);
  };
  const facts = [
    ['Phone', shown(session.phone_number)],
    ['Workspace', session.workspace_id],
    ['Reason', shown(session.reason)],
    ['Reconnect attempts', shown(session.reconnect_attempts)],
    ['Status since', ago(session.updated_at, now), session.updated_at],
    ['Last seen alive', ago(session.last_seen_alive_at, now), session.last_seen_alive_at],
    ['Uptime 24 h', percent(session.uptime_24h)],
    ['Uptime 7 d', percent(session.uptime_7d)],
    ['Last message', ago(session.last_message_at, now), session.last_message_at],
    ['Messages 24 h', shown(session.messages_24h)],
  ];
  return html`<li class=${`session tone-${meaning.tone}`} data-session=${id} data-status=${session.status} aria-labelledby=${`title-${id}`}>
    <header>
      <h3 id=${`title-${id}`}>${id}</h3>
      <p class="badge"><span class="dot" aria-hidden="true"></span><span class="status-label">${meaning.label}</span> <code>${session.status}</code></p>
    </header>
    <p class="hint">${meaning.hint}</p>
    ${session.status === 'qr_scanning' && session.qr
      ? html`<figure class="qr">
          <img src=${`/api/sessions/${id}/qr?format=png&v=${tag(session.qr)}`} width="240" height="240" alt=${`QR code to pair session ${id}`} />
          <figcaption>Scan with the phone to pair ${id}</figcaption>
        </figure>
        <${PairingCode} session=${session} />`
      : null}
    <dl class="facts">
      ${facts.map(([name, value, title]) => html`<div><dt>${name}</dt><dd title=${title ?? undefined}>${value}</dd></div>`)}
    </dl>
    <div class="actions">
      <button type="button" class=${session.status === 'failed' || session.status === 'disconnected' ? 'reconnect primary' : 'reconnect'} onClick=${reconnect} aria-disabled=${busy !== null ? 'true' : 'false'}>${busy === 'reconnect' ? 'Reconnecting…' : 'Reconnect'}</button>
      <button type="button" onClick=${stop} aria-disabled=${busy !== null ? 'true' : 'false'}>${busy === 'stop' ? 'Stopping…' : 'Stop'}</button>
      <button type="button" class="danger" onClick=${logOut} aria-disabled=${busy !== null ? 'true' : 'false'}>${busy === 'logout' ? 'Logging out…' : 'Log out…'}</button>
    </div>
    <${Timeline} session=${session} now=${now} />
  </li>`;
}

function App() {
  const { sessions, stream } = useSessions();
  const now = useNow();
  const [notice, setNotice] = useState(null);
  const onNotice = (text, error = false) => setNotice({ text, error });
  // The tab's title says it too: an operator with the page in a background tab sees trouble.
  const trouble = sessions ? sessions.filter((s) => s.status === 'failed' || s.status === 'disconnected' || s.status === 'qr_scanning').length : 0;
  useEffect(() => {
    document.title = `${trouble > 0 ? `(${trouble} need a person) ` : ''}WhatsApp sessions · wa-worker`;
  }, [trouble]);
  const sorted = sessions ? [...sessions].sort((a, b) => a.workspace_id.localeCompare(b.workspace_id) || a.session_id.localeCompare(b.session_id)) : [];
  return html`
    <header class="top">
      <h1>WhatsApp sessions</h1>
      <${StreamState} stream=${stream} />
      <form method="post" action="/dashboard/sign-out" class="sign-out"><button type="submit">Sign out</button></form>
    </header>
    <main class=${stream.state === 'live' ? '' : 'stale'}>
      ${sessions === null ? html`<p class="loading">Loading the sessions…</p>` : html`<${Counts} sessions=${sessions} />`}
      <p class=${`notice${notice?.error ? ' notice-error' : ''}`} role="status" aria-live="polite">${notice?.text ?? ''}</p>
      ${sessions !== null && sessions.length === 0 ? html`<p class="empty">This worker runs no session. Start one below.</p>` : null}
      <ul class="sessions" aria-label="Sessions">
        ${sorted.map((session) => html`<${SessionCard} key=${session.session_id} session=${session} now=${now} onNotice=${onNotice} />`)}
      </ul>
      <${StartForm} onNotice=${onNotice} />
    </main>`;
}

const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);
