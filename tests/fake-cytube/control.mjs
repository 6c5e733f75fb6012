// control.mjs — HTTP control API of the fake CyTube server (loopback only) and the demo page.
//
// Every endpoint maps onto a FakeCytube method; docs/fake-cytube.md lists them with examples.

import http from 'node:http';
import { DEMO_PAGE } from './demo.mjs';

const MAX_BODY = 4 * 1048576;

function send(res, status, obj) {
  const text = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > MAX_BODY) throw new Error('request body too large');
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return {};
  const v = JSON.parse(text);
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('body must be a JSON object');
  return v;
}

/** Who a socket action targets: {sid} if given, else the user name, else every client of the channel. */
function who(b) {
  if (b.sid) return { sid: b.sid };
  return b.name ?? null;
}

/** POST /control/<channel>/<action> handlers: (srv, channel, body) -> result object. */
const ACTIONS = {
  say: (s, ch, b) => s.say(ch, b.name, b.msg),
  pm: (s, ch, b) => s.pm(ch, b.from, b.to, b.msg),
  addUser: (s, ch, b) => void s.addUser(ch, b.name, { rank: b.rank ?? 0, afk: !!b.afk }),
  removeUser: (s, ch, b) => s.removeUser(ch, b.name),
  rank: (s, ch, b) => s.setRank(ch, b.name, b.rank),
  opts: (s, ch, b) => s.setChannelOpts(ch, b.opts ?? {}),
  permissions: (s, ch, b) => s.setPermissions(ch, b.permissions ?? {}),
  socketconfig: (s, ch, b) => s.setSocketConfig(ch, b.servers ?? null),
  kick: (s, ch, b) => s.kick(ch, who(b), b.reason ?? '', { by: b.by ?? null }),
  drop: (s, ch, b) => s.drop(ch, who(b), { rst: !!b.rst }),
  closeSocket: (s, ch, b) => s.closeSocket(ch, who(b)),
  freeze: (s, ch, b) => s.freeze(ch, who(b)),
  stopPings: (s, ch, b) => s.freeze(ch, who(b)),
  partitionChange: (s, ch, b) => ({ sent: s.partitionChange(ch, { servers: b.servers ?? null, who: who(b), disconnect: b.disconnect !== false }) }),
  raw: (s, ch, b) => {
    const data = b.base64 !== undefined ? Buffer.from(b.base64, 'base64') : String(b.data ?? '');
    s.sendRaw(ch, who(b), data);
    return { bytes: Buffer.byteLength(data) };
  },
  badFrame: (s, ch, b) => {
    const sent = s.sendBadFrame(ch, who(b), b.kind, { size: b.size, depth: b.depth });
    return { bytes: Buffer.byteLength(sent) };
  },
  emit: (s, ch, b) => s.emitTo(ch, who(b), b.event, ...(Array.isArray(b.args) ? b.args : [])),
  flood: async (s, ch, b) => {
    const p = s.flood(ch, { rate: b.rate, seconds: b.seconds, name: b.name, kind: b.kind, to: b.to, prefix: b.prefix });
    if (b.wait === false) return { started: true, total: Math.floor(b.rate * b.seconds) };
    return await p;
  },
  changeMedia: (s, ch, b) => ({ item: s.changeMedia(ch, b.media, { temp: !!b.temp, by: b.by ?? '' }) }),
  queue: (s, ch, b) => ({ item: s.queueMedia(ch, b.media, { pos: b.pos ?? 'end', temp: !!b.temp, by: b.by ?? '' }) }),
  playNext: (s, ch) => s.playNext(ch),
  jumpTo: (s, ch, b) => s.jumpTo(ch, b.uid),
  deleteMedia: (s, ch, b) => s.deleteMedia(ch, b.uid),
  waitForFrame: async (s, ch, b) => {
    const pred = (f) =>
      (!b.event || f.event === b.event) && (!b.contains || f.frame.includes(b.contains)) && (!b.user || f.user === b.user);
    return { frame: await s.waitForFrame(ch, pred, Math.min(Number(b.timeoutMs ?? 5000), 60000), { since: Number(b.since ?? 0) }) };
  },
  clearFrames: (s) => s.clearFrames(),
};

async function route(srv, req, res) {
  const url = new URL(req.url, 'http://x');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const q = url.searchParams;
  if (req.method === 'GET' && url.pathname === '/demo') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(DEMO_PAGE);
    return;
  }
  if (parts[0] !== 'control') return send(res, 404, { error: 'not found' });
  if (req.method === 'GET' && parts.length === 2 && parts[1] === 'info') {
    return send(res, 200, { url: srv.url, port: srv.port, controlUrl: srv.controlUrl, channels: [...srv.channels.keys()] });
  }
  if (req.method === 'GET' && parts.length === 2 && parts[1] === 'connections') {
    return send(res, 200, { connections: srv.connections(q.get('channel') ?? '*') });
  }
  if (req.method === 'POST' && parts.length === 2 && parts[1] === 'accounts') {
    const b = await readJson(req);
    srv.registerAccount(b.name, b.password, { rank: b.rank ?? 1 });
    return send(res, 200, { ok: true });
  }
  if (parts.length !== 3) return send(res, 404, { error: 'not found' });
  const [, ch, action] = parts;
  if (req.method === 'GET') {
    if (action === 'frames') {
      const frames = srv.getFrames(ch, {
        since: Number(q.get('since') ?? 0),
        sid: q.get('sid'),
        event: q.get('event'),
      });
      return send(res, 200, { now: performance.timeOrigin + performance.now(), frames });
    }
    if (action === 'state') return send(res, 200, srv.state(ch));
    if (action === 'chat') return send(res, 200, { lines: srv.chatLog(ch, Number(q.get('since') ?? 0)) });
    return send(res, 404, { error: 'not found' });
  }
  if (req.method !== 'POST') return send(res, 405, { error: 'method not allowed' });
  const fn = ACTIONS[action];
  if (!fn) return send(res, 404, { error: `unknown action "${action}"` });
  const body = await readJson(req);
  const result = await fn(srv, ch, body);
  return send(res, 200, { ok: true, ...(result && typeof result === 'object' ? result : {}) });
}

/** Start the control HTTP server; resolves {url, port, close()}. */
export async function startControlServer(srv, { port = 0, host = '127.0.0.1' } = {}) {
  const server = http.createServer((req, res) => {
    route(srv, req, res).catch((e) => {
      const status = /timed out/.test(e.message) ? 408 : 400;
      if (!res.headersSent) send(res, status, { error: e.message });
      else res.end();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const addr = server.address();
  const h = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${h}:${addr.port}`,
    port: addr.port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
