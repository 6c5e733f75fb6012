// demo.mjs — demo mode of the fake CyTube server: channel "demo" with chatting scripted users and media playing.

const LINES = [
  'hi everyone!',
  'good evening :)',
  'this track is nice',
  'anyone else watching from the couch?',
  'brb, getting tea',
  'back',
  'lol',
  'what is next on the playlist?',
  'I love this part',
  'the picture looks great tonight',
  'hello bot, are you awake?',
  'have a nice day all',
  'nice pick!',
  'see https://example.com/schedule for the schedule',
];

const DEMO_MEDIA = [
  { type: 'yt', id: 'demoAurora01', title: 'Northern lights time-lapse', seconds: 95 },
  { type: 'yt', id: 'demoLofi0002', title: 'Lo-fi beats for quiet evenings', seconds: 140 },
  { type: 'yt', id: 'demoTrain003', title: 'Night train cab ride (excerpt)', seconds: 75 },
  { type: 'yt', id: 'demoOcean004', title: 'Ocean waves, one take', seconds: 110 },
];

/**
 * Start the demo: scripted users `users` in channel `channel` say a random line every
 * 3-6 s (one of them at a time), and a short playlist plays in a loop. Returns {stop()}.
 */
export function startDemo(srv, { channel = 'demo', users = ['Ada', 'Ben', 'Cleo'], minGapMs = 3000, maxGapMs = 6000 } = {}) {
  for (const m of DEMO_MEDIA) srv.opts.media[`${m.type}:${m.id}`] = { title: m.title, seconds: m.seconds };
  srv.channel(channel, { motd: 'Welcome to the Daz demo channel' });
  for (const u of users) srv.addUser(channel, u, { rank: 1 });
  for (const m of DEMO_MEDIA) srv.queueMedia(channel, m, { by: users[0] });
  let timer = null;
  let stopped = false;
  const next = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      const who = users[Math.floor(Math.random() * users.length)];
      const line = LINES[Math.floor(Math.random() * LINES.length)];
      try {
        if (srv.channel(channel).find(who)?.scripted) srv.say(channel, who, line);
      } catch {
        /* a user removed through the control API simply stays quiet */
      }
      next();
    }, minGapMs + Math.random() * (maxGapMs - minGapMs));
  };
  next();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** GET /demo: say something as a user and watch the channel's chat (polls the control API). */
export const DEMO_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Daz demo: fake CyTube</title>
<style>
 body { font: 15px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 52em; color: #222; }
 #chat { border: 1px solid #bbb; height: 26em; overflow-y: auto; padding: .5em; background: #fafafa; }
 .line { margin: .1em 0; } .t { color: #888; font-size: 85%; } .n { font-weight: 600; } .pm { color: #6a3d9a; }
 .action { font-style: italic; } form { margin-top: .7em; display: flex; gap: .5em; } #msg { flex: 1; }
 #media, #users { color: #444; margin: .4em 0; }
</style></head><body>
<h1>Daz demo channel</h1>
<div id="media">Now playing: …</div>
<div id="users">Users: …</div>
<div id="chat"></div>
<form id="f"><input id="name" value="Visitor" size="10" title="your name">
<input id="msg" placeholder="say something, e.g. !help" autofocus><button>Say</button></form>
<p>Messages are sent as a scripted user of the fake server; the bot sees them like any CyTube chat.</p>
<script>
const ch = 'demo';
let since = 0;
const box = document.getElementById('chat');
function text(html) {
  const t = document.createElement('textarea');
  t.innerHTML = html.replace(/<[^>]*>/g, '');
  return t.value;
}
function add(l) {
  const d = document.createElement('div');
  d.className = 'line' + (l.type === 'pm' ? ' pm' : '') + (l.meta && l.meta.action ? ' action' : '');
  const t = document.createElement('span'); t.className = 't'; t.textContent = new Date(l.time).toLocaleTimeString() + ' ';
  const n = document.createElement('span'); n.className = 'n';
  n.textContent = l.type === 'pm' ? l.username + ' → ' + l.to + ': ' : l.username + ': ';
  const m = document.createElement('span'); m.textContent = text(l.msg);
  d.append(t, n, m);
  box.append(d);
  box.scrollTop = box.scrollHeight;
}
async function poll() {
  try {
    const r = await fetch('/control/' + ch + '/chat?since=' + since);
    const j = await r.json();
    for (const l of j.lines) { add(l); since = l.seq; }
  } catch (e) {}
  setTimeout(poll, 1000);
}
async function state() {
  try {
    const s = await (await fetch('/control/' + ch + '/state')).json();
    const cur = s.current && s.playlist.find((i) => i.uid === s.current.uid);
    document.getElementById('media').textContent = 'Now playing: ' +
      (cur ? cur.media.title + ' (' + Math.max(0, Math.floor(s.current.currentTime)) + ' / ' + cur.media.seconds + ' s)' : 'nothing');
    document.getElementById('users').textContent = 'Users: ' + s.users.map((u) => u.name).join(', ');
  } catch (e) {}
  setTimeout(state, 2000);
}
document.getElementById('f').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const msg = document.getElementById('msg');
  if (!msg.value.trim()) return;
  const r = await fetch('/control/' + ch + '/say', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: document.getElementById('name').value, msg: msg.value }) });
  if (!r.ok) alert((await r.json()).error);
  msg.value = '';
});
poll(); state();
</script></body></html>
`;
