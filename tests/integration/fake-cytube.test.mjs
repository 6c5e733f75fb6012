// fake-cytube.test.mjs — pins the fake CyTube server to the protocol notes and to real CyTube captures.
//
// Drives the server with socket.io-client and with a raw WebSocket client speaking Engine.IO by hand.
// The capture replays send the captured client frames in order and require the exact server frames
// of the capture back (after masking sids, times and masked IPs).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { io as sioConnect } from 'socket.io-client';
import { startFakeCytube } from '../fake-cytube/server.mjs';
import { makeTestCerts } from '../fake-cytube/certs.mjs';
import { FloodLimiter, processChatText } from '../fake-cytube/text.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const CAPTURES = process.env.DAZ_CYTUBE_CAPTURES ?? path.join(HERE, '../fake-cytube/captures');
const CLI = path.join(HERE, '../fake-cytube/cli.mjs');
const WAIT_MS = 4000; // bound on every wait for a condition

// ---- helpers -------------------------------------------------------------------------------------

/** Resolve with check()'s first truthy value, re-evaluated on each 'change' of emitter. */
function until(emitter, check, timeoutMs = WAIT_MS, label = 'condition') {
    return new Promise((resolve, reject) => {
        const test = () => {
            const v = check();
            if (v) {
                cleanup();
                resolve(v);
            }
        };
        const timer = setTimeout(() => {
            cleanup();
            reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}`));
        }, timeoutMs);
        const cleanup = () => {
            clearTimeout(timer);
            emitter.off('change', test);
        };
        emitter.on('change', test);
        test();
    });
}

/** Clients a test opened; closed before its server so nothing lingers. */
const openClients = new WeakMap();
function track(t, close) {
    if (!openClients.has(t)) {
        openClients.set(t, []);
        t.after(async () => {
            for (const c of openClients.get(t)) await c();
        });
    }
    openClients.get(t).unshift(close);
}

async function start(t, opts = {}) {
    const srv = await startFakeCytube({ port: 0, host: '127.0.0.1', ...opts });
    track(t, () => srv.close());
    return srv;
}

/** A WebSocket client that speaks Engine.IO v4 by hand and records every frame it receives. */
class RawClient extends EventEmitter {
    constructor(srv, { autoPong = true, ca = undefined } = {}) {
        super();
        this.frames = []; // {t, data, binary}
        this.closed = null;
        this.closedByUs = false;
        const base = srv.url.replace(/^http/, 'ws');
        this.ws = new WebSocket(`${base}/socket.io/?EIO=4&transport=websocket`, { ca });
        this.ws.on('message', (data, isBinary) => {
            const d = isBinary ? data : data.toString();
            this.frames.push({ t: performance.now(), data: d, binary: isBinary });
            if (autoPong && d === '2') this.ws.send('3');
            this.emit('change');
        });
        this.ws.on('close', (code) => {
            this.closed = { code };
            this.emit('change');
        });
        this.ws.on('error', (e) => {
            this.error = e;
            this.emit('change');
        });
    }

    send(s) {
        this.ws.send(s);
    }

    emitEvent(event, ...args) {
        this.ws.send('42' + JSON.stringify([event, ...args]));
    }

    texts() {
        return this.frames.filter((f) => !f.binary).map((f) => f.data);
    }

    /** Parsed socket.io events received so far. */
    events() {
        return this.texts()
            .filter((d) => d.startsWith('42'))
            .flatMap((d) => {
                try {
                    const a = JSON.parse(d.slice(2));
                    return [{ event: a[0], args: a.slice(1) }];
                } catch {
                    return []; // a malformed frame the test itself asked the server to send
                }
            });
    }

    until(check, label, timeoutMs = WAIT_MS) {
        return until(this, check, timeoutMs, label);
    }

    frame(pred, label) {
        return this.until(() => this.frames.find(pred), label);
    }

    event(name, pred = () => true) {
        return this.until(() => this.events().find((e) => e.event === name && pred(...e.args)), `event ${name}`);
    }

    waitClosed() {
        return this.until(() => this.closed, 'the connection to close');
    }

    close() {
        this.closedByUs = true;
        this.ws.terminate();
    }

    /** Handshake up to 40{...}. */
    async connect() {
        await this.frame((f) => f.data.startsWith?.('0{'), 'the open packet');
        this.send('40');
        await this.frame((f) => f.data.startsWith?.('40{'), 'the namespace connect');
        return this;
    }
}

async function raw(t, srv, opts) {
    const c = new RawClient(srv, opts);
    track(t, () => c.close());
    return c;
}

/** A raw client connected, joined to channel and logged in as guest name. */
async function rawGuest(t, srv, channel, name, opts) {
    const c = await raw(t, srv, opts);
    await c.connect();
    c.emitEvent('joinChannel', { name: channel });
    c.emitEvent('login', { name });
    await c.event('login');
    return c;
}

/** socket.io-client connection that records every event. */
async function sio(t, srv, { join = null, login = null, ca = undefined } = {}) {
    const socket = sioConnect(srv.url, { transports: ['websocket'], reconnection: false, forceNew: true, ca });
    const c = new EventEmitter();
    c.socket = socket;
    c.events = [];
    socket.onAny((event, ...args) => {
        c.events.push({ event, args });
        c.emit('change');
    });
    socket.on('disconnect', (reason) => {
        c.disconnected = reason;
        c.emit('change');
    });
    c.until = (check, label, ms = WAIT_MS) => until(c, check, ms, label);
    c.event = (name, pred = () => true) => c.until(() => c.events.find((e) => e.event === name && pred(...e.args)), `event ${name}`);
    c.count = (name, pred = () => true) => c.events.filter((e) => e.event === name && pred(...e.args)).length;
    track(t, () => socket.close());
    await until(c, () => socket.connected || c.events.length, WAIT_MS, 'socket.io connect');
    if (join) socket.emit('joinChannel', { name: join });
    if (login) socket.emit('login', login);
    if (login) await c.event('login');
    else if (join) await c.event('userlist');
    return c;
}

// ---- capture replays -----------------------------------------------------------------------------

function norm(frame) {
    return frame
        .replace(/^0\{"sid":"[^"]+"/, '0{"sid":"S"')
        .replace(/^40\{"sid":"[^"]+"\}$/, '40{"sid":"S"}')
        .replace(/"time":\d+/g, '"time":0')
        .replace(/"ip":"[^"]*"/g, '"ip":"IP"');
}

function readCapture(file) {
    return fs
        .readFileSync(path.join(CAPTURES, file), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
}

/**
  * Replay a capture against a fresh fake server: one raw client per captured client, the captured
  * client frames sent in order, each only after every server frame that precedes it in the capture
  * has arrived. A silence of >= 2 s of one client is kept (it matters to the flood limiter, §6).
  * Then each client must have received exactly the captured frames (minus `ignore`d events).
  */
async function replay(t, file, { serverOpts = {}, untilMs = Infinity, ignore = [] } = {}) {
    const srv = await start(t, serverOpts);
    // server pings and client pongs depend on the ping timer, not on the scenario
    const skip = (f, dir = 'in') => (dir === 'in' ? f === '2' : f === '3') || ignore.some((e) => f.startsWith(`42["${e}"`));
    const clients = new Map();
    const expected = new Map();
    const lastOut = new Map();
    const received = (name) => {
        const c = clients.get(name);
        const got = c.texts().filter((f) => !skip(f)).map(norm);
        if (c.closed && !c.closedByUs) got.push('CLOSE');
        return got;
    };
    const caughtUp = (only = null) =>
        Promise.all(
            [...clients.keys()].filter((name) => only === null || name === only).map((name) =>
                clients
                    .get(name)
                    .until(
                        () => received(name).length >= expected.get(name).length,
                        `${file}: ${name} to receive ${JSON.stringify(expected.get(name).slice(-3))}, got ${JSON.stringify(received(name).slice(-3))}`,
                    ),
            ),
        );
    for (const l of readCapture(file)) {
        if (l.t_ms > untilMs) break;
        if (!clients.has(l.client)) {
            await caughtUp();
            clients.set(l.client, await raw(t, srv));
            expected.set(l.client, []);
        }
        const c = clients.get(l.client);
        if (l.dir === 'in' && l.event === 'close') {
            if (l.initiated_by === 'client') {
                // frames of other clients logged just before may be caused by this close (userLeave)
                await caughtUp(l.client);
                c.close();
            } else expected.get(l.client).push('CLOSE');
        } else if (l.dir === 'in') {
            if (!skip(l.frame)) expected.get(l.client).push(norm(l.frame));
        } else if (!skip(l.frame, 'out')) {
            await caughtUp();
            const gap = l.t_ms - (lastOut.get(l.client) ?? l.t_ms);
            if (gap >= 2000) await delay(gap); // a protocol-relevant pause (flood limiter refill), not a sync
            lastOut.set(l.client, l.t_ms);
            c.send(l.frame);
        }
    }
    await caughtUp();
    for (const name of clients.keys()) {
        // a client that closed itself may have had later frames on the way (capture 03: Alice closed
        // 1 ms after Bob and never saw his userLeave); compare what the capture could see
        const got = clients.get(name).closedByUs ? received(name).slice(0, expected.get(name).length) : received(name);
        assert.deepEqual(got, expected.get(name), `${file}: frames of ${name}`);
    }
    return srv;
}

const BOTCHAN = {
    accounts: { TestBot: { password: 'botpass' }, PlainUser: { password: 'botpass' } },
    channels: { botchan: { registered: true, ranks: { TestBot: 2 } } },
};

test('capture 01: guest joins, escaping, link wrapping, /me, userLeave (login before burst when the channel loads)', async (t) => {
    await replay(t, '01-guest-join-unregistered.jsonl', { serverOpts: { channelLoadDelayMs: 30 } });
});

test('capture 02: password logins, history replayed before userlist, moderator burst with second userlist', async (t) => {
    await replay(t, '02-moderator-join-registered-history.jsonl', { serverOpts: BOTCHAN });
});

test('capture 03: PMs to both sides, lower-case recipient, greentext, errorMsg for absent/self/invalid', async (t) => {
    await replay(t, '03-pm.jsonl', { serverOpts: { channelLoadDelayMs: 30 } });
});

test('capture 04: flood limiter echoes 20, drops 10 with cooldown 100, refills after a pause', async (t) => {
    await replay(t, '04-flood-cooldown.jsonl');
});

test('capture 05: queue/moveMedia/setTemp/delete/playNext/jumpTo shapes and queueFail', async (t) => {
    await replay(t, '05-playlist.jsonl', {
        serverOpts: { ...BOTCHAN, channelLoadDelayMs: 30, mediaLeadInMs: 60000 },
        untilMs: 7754,
        ignore: ['mediaUpdate', 'usercount'],
    });
});

test('capture 06: /kick sends kick then 41, userLeave and a [server] whisper to the moderator', async (t) => {
    await replay(t, '06-kick.jsonl', { serverOpts: BOTCHAN, untilMs: 3321 });
});

test('capture 07: early 42 and client ping close; duplicate login kicks the older socket; second 40 closes', async (t) => {
    await replay(t, '07-protocol-violations.jsonl', { serverOpts: BOTCHAN });
});

test('capture 08: login failures leave a watcher, silent chat drop, guest retry on the same socket', async (t) => {
    await replay(t, '08-login-failures.jsonl', { serverOpts: BOTCHAN });
});

// ---- transport -----------------------------------------------------------------------------------

test('socketconfig: servers list, 404 with error for an invalid name, any valid name is 200', async (t) => {
    const srv = await start(t);
    const ok = await fetch(`${srv.url}/socketconfig/botchan.json`);
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(await ok.json(), { servers: [{ url: srv.url, secure: false }] });
    const bad = await fetch(`${srv.url}/socketconfig/bad.name.json`);
    assert.equal(bad.status, 404);
    assert.deepEqual(await bad.json(), { error: 'Channel "bad.name" does not exist.' });
    assert.equal((await fetch(`${srv.url}/socketconfig/never-seen.json`)).status, 200);
    srv.setSocketConfig('moved', [{ url: 'https://elsewhere:8443', secure: true }]);
    assert.deepEqual(await (await fetch(`${srv.url}/socketconfig/moved.json`)).json(), {
        servers: [{ url: 'https://elsewhere:8443', secure: true }],
    });
});

test('webPort: socketconfig on a separate web port names the socket.io port, as on CyTube', async (t) => {
    const srv = await start(t, { webPort: 0 });
    assert.notEqual(srv.siteUrl, srv.url);
    const body = await (await fetch(`${srv.siteUrl}/socketconfig/botchan.json`)).json();
    assert.deepEqual(body, { servers: [{ url: srv.url, secure: false }] });
    const c = await sio(t, { url: body.servers[0].url }, { join: 'botchan', login: { name: 'Follower' } });
    assert.equal(c.events.find((e) => e.event === 'login').args[0].success, true);
});

test('handshake: 0{sid,upgrades,pingInterval,pingTimeout,maxPayload}, 40 -> 40{sid}, then rank -1', async (t) => {
    const srv = await start(t);
    const c = await raw(t, srv);
    const open = await c.frame((f) => f.data.startsWith('0'), 'open');
    const o = JSON.parse(open.data.slice(1));
    assert.deepEqual(Object.keys(o), ['sid', 'upgrades', 'pingInterval', 'pingTimeout', 'maxPayload']);
    assert.deepEqual([o.upgrades, o.pingInterval, o.pingTimeout, o.maxPayload], [[], 25000, 120000, 1048576]);
    c.send('40');
    const con = await c.frame((f) => f.data.startsWith('40'), '40{');
    assert.match(con.data, /^40\{"sid":"[\w-]+"\}$/);
    await c.event('rank', (r) => r === -1);
});

test('pingInterval/pingTimeout are configurable; the server pings and a silent client is dropped', async (t) => {
    const srv = await start(t, { pingInterval: 100, pingTimeout: 150 });
    const c = await raw(t, srv, { autoPong: false });
    await c.connect();
    await c.frame((f) => f.data === '2', 'a ping');
    await c.waitClosed(); // no pong within pingTimeout: the server closes
});

test('a 42 before 40{ closes the connection without 40{', async (t) => {
    const srv = await start(t);
    const c = await raw(t, srv);
    await c.frame((f) => f.data.startsWith('0{'), 'open');
    c.send('40');
    c.send('42["joinChannel",{"name":"fixchan"}]');
    await c.waitClosed();
    assert.ok(!c.texts().some((d) => d.startsWith('40{')));
});

test('a client ping (2) in EIO=4 closes the connection', async (t) => {
    const srv = await start(t);
    const c = await raw(t, srv);
    await c.connect();
    c.send('2');
    await c.waitClosed();
    assert.equal(c.closed.code, 1005); // §2: server closes carry no code
});

test('kick: kick then 41, the WebSocket stays open and pinged; a 42 afterwards closes it', async (t) => {
    const srv = await start(t, { pingInterval: 150, pingTimeout: 1000 });
    const c = await rawGuest(t, srv, 'kickchan', 'Guest1');
    srv.kick('kickchan', 'Guest1', 'bye');
    await c.frame((f) => f.data === '41', '41');
    const texts = c.texts();
    assert.equal(texts[texts.indexOf('41') - 1], '42["kick",{"reason":"bye"}]');
    const n = c.frames.length;
    await c.until(() => c.frames.slice(n).some((f) => f.data === '2'), 'a ping after the kick');
    assert.equal(c.closed, null);
    c.emitEvent('chatMsg', { msg: 'still here?', meta: {} });
    await c.waitClosed();
});

test('duplicate login: the older socket gets kick "Duplicate login" and 41 and stays open (pinged)', async (t) => {
    const srv = await start(t, { ...BOTCHAN, pingInterval: 150, pingTimeout: 1000 });
    const first = await raw(t, srv);
    await first.connect();
    first.emitEvent('joinChannel', { name: 'botchan' });
    first.emitEvent('login', { name: 'TestBot', pw: 'botpass' });
    await first.event('setUserRank', (u) => u.name === 'TestBot');
    const second = await sio(t, srv, { join: 'botchan', login: { name: 'TestBot', pw: 'botpass' } });
    assert.equal(second.events.find((e) => e.event === 'login').args[0].success, true);
    await first.frame((f) => f.data === '41', '41 on the older socket');
    assert.ok(first.events().some((e) => e.event === 'kick' && e.args[0].reason === 'Duplicate login'));
    const n = first.frames.length;
    await first.until(() => first.frames.slice(n).some((f) => f.data === '2'), 'a ping after the kick');
    assert.equal(first.closed, null);
    assert.deepEqual(srv.state('botchan').users.map((u) => u.name), ['TestBot']);
});

test('privileged events without rank get the sender kicked (kick + 41)', async (t) => {
    const srv = await start(t);
    for (const ev of ['setOptions', 'setPermissions', 'setMotd', 'assignLeader', 'readChanLog', 'initACP']) {
        const c = await sio(t, srv, { join: 'privchan', login: { name: `G${ev}`.slice(0, 20) } });
        c.socket.emit(ev, {});
        await c.event('kick', (k) => /insufficient rank/.test(k.reason));
        await c.until(() => c.disconnected === 'io server disconnect', '41');
    }
});

test('refuseConnections: the next connect gets 44{"message":"Rate limit exceeded"}, the one after is accepted', async (t) => {
    const srv = await start(t);
    srv.refuseConnections(1);
    const c = await raw(t, srv);
    await c.frame((f) => f.data.startsWith('0{'), 'open');
    c.send('40');
    await c.frame((f) => f.data === '44{"message":"Rate limit exceeded"}', 'the 44');
    const d = await raw(t, srv);
    await d.connect();
});

test('password-protected channel: needPassword, a wrong channelPassword asks again, the right one joins', async (t) => {
    const srv = await start(t, { channels: { locked: { password: 'opensesame' } } });
    const c = await raw(t, srv);
    await c.connect();
    c.emitEvent('joinChannel', { name: 'locked' });
    await c.event('needPassword', (x) => x === true);
    c.emitEvent('channelPassword', 'wrong');
    await c.until(() => c.events().filter((e) => e.event === 'needPassword').length === 2, 'a second needPassword');
    assert.equal(c.events().filter((e) => e.event === 'userlist').length, 0);
    c.emitEvent('channelPassword', 'opensesame');
    await c.event('userlist');
});

// ---- channel behaviour ---------------------------------------------------------------------------

test('history: only the last 15 lines are replayed, between emoteList and drinkCount, before userlist', async (t) => {
    const srv = await start(t);
    for (let i = 1; i <= 17; i++) srv.say('hist', 'Chatty', `line ${i}`);
    const c = await raw(t, srv);
    await c.connect();
    c.emitEvent('joinChannel', { name: 'hist' });
    await c.event('userlist');
    const names = c.events().map((e) => e.event);
    const chats = c.events().filter((e) => e.event === 'chatMsg');
    assert.deepEqual(chats.map((e) => e.args[0].msg), Array.from({ length: 15 }, (_, i) => `line ${i + 3}`));
    assert.equal(names.indexOf('chatMsg'), names.indexOf('emoteList') + 1);
    assert.equal(names.lastIndexOf('chatMsg') + 1, names.indexOf('drinkCount'));
    assert.ok(names.indexOf('userlist') > names.lastIndexOf('chatMsg'));
});

test('chat processing: 320-character cut, control characters, escaping, links, /me, greentext', async () => {
    const long = processChatText('a'.repeat(400));
    assert.equal(long.msg.length, 320);
    assert.equal(processChatText('tab\there\u0001x').msg, 'tab here x');
    assert.equal(processChatText(`<b>&"'`).msg, `&lt;b&gt;&amp;"'`);
    assert.equal(
        processChatText('see https://example.com/x?a=1&b=2').msg,
        'see <a href="https://example.com/x?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">https://example.com/x?a=1&amp;b=2</a>',
    );
    assert.deepEqual(processChatText('/me waves'), { msg: 'waves', meta: { addClass: 'action', action: true }, command: 'me', args: null });
    assert.deepEqual(processChatText('>green').meta, { addClass: 'greentext' });
    assert.equal(processChatText('   '), null);
    // the cut counts UTF-16 code units, as CyTube's JavaScript does
    assert.equal(processChatText('é'.repeat(330)).msg.length, 320);
});

test('chat is echoed to the sender, cut to 320 and broadcast to other users', async (t) => {
    const srv = await start(t);
    const a = await sio(t, srv, { join: 'echo', login: { name: 'Alpha' } });
    const b = await sio(t, srv, { join: 'echo', login: { name: 'Beta' } });
    a.socket.emit('chatMsg', { msg: 'x'.repeat(500) + '\u0007', meta: {} });
    const mine = await a.event('chatMsg', (m) => m.username === 'Alpha');
    const theirs = await b.event('chatMsg', (m) => m.username === 'Alpha');
    assert.equal(mine.args[0].msg, 'x'.repeat(320));
    assert.deepEqual(theirs.args[0], mine.args[0]);
    assert.equal(typeof mine.args[0].time, 'number');
});

test('pm to an absent user -> errorMsg "PM failed: <lower-case> isn\'t connected to this channel."', async (t) => {
    const srv = await start(t);
    const a = await sio(t, srv, { join: 'pmchan', login: { name: 'Alpha' } });
    a.socket.emit('pm', { to: 'Nobody', msg: 'hi', meta: {} });
    await a.event('errorMsg', (e) => e.msg === "PM failed: nobody isn't connected to this channel.");
    srv.addUser('pmchan', 'Scripty');
    a.socket.emit('pm', { to: 'scripty', msg: 'hi <you>', meta: {} });
    const pm = await a.event('pm');
    assert.deepEqual({ ...pm.args[0], time: 0 }, { username: 'Alpha', msg: 'hi &lt;you&gt;', meta: {}, time: 0, to: 'Scripty' });
});

test('chat_antiflood: burst 4 then cooldown 1000 for users below rank 2; moderators keep 20', async (t) => {
    const srv = await start(t, BOTCHAN);
    srv.setChannelOpts('botchan', { chat_antiflood: true });
    const g = await sio(t, srv, { join: 'botchan', login: { name: 'Guesty' } });
    const m = await sio(t, srv, { join: 'botchan', login: { name: 'TestBot', pw: 'botpass' } });
    await m.event('setUserRank', (u) => u.name === 'TestBot' && u.rank === 2);
    for (let i = 1; i <= 6; i++) g.socket.emit('chatMsg', { msg: `g${i}`, meta: {} });
    for (let i = 1; i <= 6; i++) m.socket.emit('chatMsg', { msg: `m${i}`, meta: {} });
    await g.until(() => g.count('cooldown') === 2, '2 cooldowns');
    await m.until(() => m.count('chatMsg', (x) => x.username === 'TestBot') === 6, '6 moderator lines');
    assert.deepEqual(g.events.filter((e) => e.event === 'cooldown').map((e) => e.args[0]), [1000, 1000]);
    assert.equal(g.count('chatMsg', (x) => x.username === 'Guesty'), 4);
    assert.equal(m.count('cooldown'), 0);
    assert.equal(srv.state('botchan').opts.chat_antiflood_params.burst, 4);
});

test('flood limiter rules: /me costs two tokens, dropped lines do not count, 2 s of silence refills', () => {
    const p = { burst: 20, sustained: 10, cooldown: 2 };
    const l = new FloodLimiter();
    let passed = 0;
    for (let i = 0; i < 15; i++) if (l.take(p, 2, 1000)) passed++;
    assert.equal(passed, 10);
    assert.equal(l.take(p, 1, 1100), true); // 100 ms later one token is back
    assert.equal(l.take(p, 1, 1100), false);
    assert.equal(l.take(p, 20, 3200), true); // > 2 s of silence: a full burst again
    // a client pacing exactly at the sustained rate after its burst is never dropped
    const a = { burst: 4, sustained: 1, cooldown: 4 };
    const m = new FloodLimiter();
    const times = [86, 86, 86, 86, 1086, 2086, 3088, 4086, 5085.5, 6086];
    assert.deepEqual(times.map((t) => m.take(a, 1, t)), times.map(() => true));
    assert.equal(m.take(a, 1, 6500), false);
});

test('password login failure keeps a watcher that still receives chat but cannot speak', async (t) => {
    const srv = await start(t, BOTCHAN);
    const w = await sio(t, srv, { join: 'botchan', login: { name: 'TestBot', pw: 'nope' } });
    assert.deepEqual(w.events.find((e) => e.event === 'login').args[0], { success: false, error: 'Invalid username/password combination' });
    w.socket.emit('chatMsg', { msg: 'can I talk?', meta: {} });
    srv.say('botchan', 'Other', 'hello watcher');
    await w.event('chatMsg', (m) => m.msg === 'hello watcher');
    assert.equal(w.count('chatMsg', (m) => m.msg === 'can I talk?'), 0);
    const frame = await srv.waitForFrame('botchan', (f) => f.event === 'chatMsg');
    assert.equal(frame.args[0].msg, 'can I talk?'); // recorded even though CyTube dropped it
});

test('account registered through the control API logs in; setRank sends rank and setUserRank', async (t) => {
    const srv = await start(t, { channels: { reg: { registered: true } } });
    srv.registerAccount('NewBot', 's3cret');
    const c = await sio(t, srv, { join: 'reg', login: { name: 'NewBot', pw: 's3cret' } });
    assert.deepEqual(c.events.find((e) => e.event === 'login').args[0], { success: true, name: 'NewBot' });
    srv.setRank('reg', 'NewBot', 3);
    await c.event('rank', (r) => r === 3);
    await c.event('setUserRank', (u) => u.name === 'NewBot' && u.rank === 3);
});

test('moderation commands are run by the server, never shown as chat; a zero-width space in front makes them text', async (t) => {
    const srv = await start(t, { channels: { reg: { registered: true, ranks: { Mod: 2 } } }, accounts: { Mod: 'pw' } });
    const mod = await sio(t, srv, { join: 'reg', login: { name: 'Mod', pw: 'pw' } });
    await mod.event('rank', (r) => r === 2);
    const g = await sio(t, srv, { join: 'reg', login: { name: 'Gail' } });
    const chatTexts = (c) => c.events.filter((e) => e.event === 'chatMsg').map((e) => e.args[0].msg);

    // /rank and /poll are consumed even though their effects are not modelled
    mod.socket.emit('chatMsg', { msg: '/rank Gail 2', meta: {} });
    mod.socket.emit('chatMsg', { msg: '/poll lunch?,yes,no', meta: {} });
    // a mute: setUserMeta, then Gail's lines reach nobody
    mod.socket.emit('chatMsg', { msg: '/mute Gail', meta: {} });
    await g.event('setUserMeta', (u) => u.name === 'Gail' && u.meta.muted === true);
    g.socket.emit('chatMsg', { msg: 'muted line', meta: {} });
    mod.socket.emit('chatMsg', { msg: '/unmute Gail', meta: {} });
    await g.event('setUserMeta', (u) => u.name === 'Gail' && u.meta.muted === false);
    // a shadow mute: Gail and the moderators see her line, marked shadow
    mod.socket.emit('chatMsg', { msg: '/smute Gail', meta: {} });
    await mod.event('setUserMeta', (u) => u.name === 'Gail' && u.meta.smuted === true);
    g.socket.emit('chatMsg', { msg: 'shadow line', meta: {} });
    await mod.event('chatMsg', (m) => m.msg === 'shadow line' && m.meta.shadow === true);
    await g.event('chatMsg', (m) => m.msg === 'shadow line' && m.meta.shadow === true);
    mod.socket.emit('chatMsg', { msg: '/unmute Gail', meta: {} });
    await mod.event('setUserMeta', (u) => u.name === 'Gail' && u.meta.smuted === false);
    // the bot's defence: a zero-width space in front is plain text, nobody is kicked
    mod.socket.emit('chatMsg', { msg: '\u200b/kick Gail spam', meta: {} });
    await g.event('chatMsg', (m) => m.msg === '\u200b/kick Gail spam');
    assert.equal(g.count('kick'), 0);
    // a ban kicks, and the name cannot come back
    mod.socket.emit('chatMsg', { msg: '/ban Gail', meta: {} });
    await g.event('kick', (k) => k.reason === "You're banned!");
    await mod.event('userLeave', (u) => u.name === 'Gail');
    const again = await sio(t, srv, { join: 'reg' });
    again.socket.emit('login', { name: 'Gail' });
    await again.event('kick', (k) => k.reason === "You're banned!");
    assert.equal(again.count('login'), 0);
    const early = await sio(t, srv); // logged in before joining
    early.socket.emit('login', { name: 'Gail' });
    await early.event('login', (l) => l.success === true);
    early.socket.emit('joinChannel', { name: 'reg' });
    await early.event('kick', (k) => k.reason === "You're banned!");
    assert.equal(early.count('userlist'), 0);
    assert.equal(mod.count('addUser', (u) => u.name === 'Gail'), 1); // the banned rejoins were never announced

    for (const c of [mod, g]) {
        assert.ok(!chatTexts(c).some((m) => m.startsWith('/')), `no command was broadcast as chat: ${chatTexts(c)}`);
        assert.ok(!chatTexts(c).includes('muted line'));
    }
    assert.deepEqual(srv.state('reg').users.map((u) => u.name), ['Mod']);
});

test('guestLoginDelayMs: a second guest login from the same IP within the delay fails and leaves a watcher', async (t) => {
    const srv = await start(t, { guestLoginDelayMs: 1000 });
    await sio(t, srv, { join: 'gl', login: { name: 'First' } });
    const second = await sio(t, srv, { join: 'gl', login: { name: 'Second' } });
    assert.deepEqual(second.events.find((e) => e.event === 'login').args[0], {
        success: false,
        error: 'Guest logins are restricted to one per IP address per 1 seconds.',
    });
    second.socket.emit('chatMsg', { msg: 'can I talk?', meta: {} });
    await delay(1050);
    second.socket.emit('login', { name: 'Second' });
    await second.event('login', (l) => l.success === true);
    assert.deepEqual(srv.state('gl').users.map((u) => u.name), ['First', 'Second']);
    assert.ok(!srv.state('gl').history.some((h) => h.msg === 'can I talk?'), 'the watcher could not speak');
});

test('playback: -3 s lead-in, mediaUpdate ticks, auto-advance, temp item removed after playing', async (t) => {
    const srv = await start(t, { mediaLeadInMs: 20, mediaTickMs: 40, playbackSpeed: 50 });
    const c = await sio(t, srv, { join: 'play', login: { name: 'Viewer' } });
    srv.queueMedia('play', { type: 'tw', id: 'one', duration: 4 }, { temp: true });
    srv.queueMedia('play', { type: 'tw', id: 'two', duration: 4 });
    await c.event('changeMedia', (m) => m.id === 'two');
    const seq = c.events.map((e) => e.event).filter((e) => e !== 'usercount');
    const first = c.events.find((e) => e.event === 'changeMedia').args[0];
    assert.deepEqual(first, { id: 'one', title: 'Twitch.tv - one', seconds: 4, duration: '00:04', type: 'tw', meta: {}, currentTime: -3, paused: true });
    const i = seq.indexOf('mediaUpdate');
    assert.ok(i > seq.indexOf('changeMedia'));
    assert.deepEqual(c.events.find((e) => e.event === 'mediaUpdate').args[0], { currentTime: 0, paused: false });
    const tail = seq.slice(seq.lastIndexOf('delete'));
    assert.deepEqual(tail.slice(0, 5), ['delete', 'setPlaylistMeta', 'setCurrent', 'changeMedia', 'drinkCount']);
    assert.deepEqual(srv.state('play').playlist.map((it) => it.media.id), ['two']);
});

test('queue permissions: a guest in a registered channel gets queueFail; yt without key fails', async (t) => {
    const srv = await start(t, BOTCHAN);
    const g = await sio(t, srv, { join: 'botchan', login: { name: 'Guesty' } });
    g.socket.emit('queue', { id: 'x1', type: 'tw', pos: 'end', duration: 5 });
    const f = await g.event('queueFail');
    assert.equal(f.args[0].id, 'x1');
    const open = await sio(t, srv, { join: 'openchan', login: { name: 'Guest2' } });
    open.socket.emit('queue', { id: 'dQw4w9WgXcQ', type: 'yt', pos: 'end' });
    const y = await open.event('queueFail');
    assert.equal(y.args[0].link, 'https://youtu.be/dQw4w9WgXcQ');
    open.socket.emit('queue', { id: 'ok1', type: 'tw', pos: 'end', duration: 5 });
    const q = await open.event('queue');
    assert.deepEqual(q.args[0].after, 'prepend');
    assert.equal(q.args[0].item.queueby, 'Guest2');
});

// ---- TLS -----------------------------------------------------------------------------------------

test('TLS: a server certificate from the generated test CA verifies for 127.0.0.1; without the CA it fails', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-cytube-tls-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const certs = makeTestCerts(dir);
    const srv = await start(t, { tls: { cert: certs.cert, key: certs.key } });
    assert.match(srv.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = fs.readFileSync(certs.caCert);
    const body = await new Promise((resolve, reject) => {
        import('node:https').then(({ default: https }) =>
            https
                .get(`${srv.url}/socketconfig/tlschan.json`, { ca }, (res) => {
                    let s = '';
                    res.on('data', (d) => (s += d));
                    res.on('end', () => resolve(JSON.parse(s)));
                })
                .on('error', reject),
        );
    });
    assert.deepEqual(body, { servers: [{ url: srv.url, secure: true }] });
    const c = await sio(t, srv, { join: 'tlschan', login: { name: 'Secure' }, ca });
    assert.equal(c.events.find((e) => e.event === 'login').args[0].success, true);
    const untrusted = await raw(t, srv); // no CA: verification must fail
    await untrusted.until(() => untrusted.error, 'a TLS error');
    assert.match(untrusted.error.code, /SELF_SIGNED|UNABLE_TO|CERT/);
});

// ---- control actions -----------------------------------------------------------------------------

test('control: scripted users join, speak with CyTube processing, PM the client, and leave', async (t) => {
    const srv = await start(t);
    const c = await sio(t, srv, { join: 'ctl', login: { name: 'Bot' } });
    srv.addUser('ctl', 'Mod', { rank: 2 });
    await c.event('addUser', (u) => u.name === 'Mod' && u.rank === 2);
    srv.say('ctl', 'Mod', '/me <waves>');
    const said = await c.event('chatMsg', (m) => m.username === 'Mod');
    assert.deepEqual({ ...said.args[0], time: 0 }, { username: 'Mod', msg: '&lt;waves&gt;', meta: { addClass: 'action', action: true }, time: 0 });
    srv.pm('ctl', 'Mod', 'Bot', 'psst');
    await c.event('pm', (m) => m.username === 'Mod' && m.to === 'Bot' && m.msg === 'psst');
    srv.removeUser('ctl', 'Mod');
    await c.event('userLeave', (u) => u.name === 'Mod');
    assert.deepEqual(srv.state('ctl').users.map((u) => u.name), ['Bot']);
});

test('control: changeMedia, setChannelOpts and emitTo reach the client', async (t) => {
    const srv = await start(t, { mediaLeadInMs: 60000 });
    const c = await sio(t, srv, { join: 'ctl', login: { name: 'Bot' } });
    srv.changeMedia('ctl', { type: 'tw', id: 'first', duration: 30 });
    await c.event('changeMedia', (m) => m.id === 'first' && m.currentTime === -3);
    srv.changeMedia('ctl', { type: 'tw', id: 'second', duration: 30 });
    await c.event('changeMedia', (m) => m.id === 'second');
    assert.equal(srv.state('ctl').current.uid, 1);
    srv.setChannelOpts('ctl', { chat_antiflood: true });
    await c.event('channelOpts', (o) => o.chat_antiflood === true);
    srv.emitTo('ctl', 'Bot', 'announcement', { id: 1, title: 't', text: 'x', from: 'y' });
    await c.event('announcement');
});

test('control: kick by name reaches only that client', async (t) => {
    const srv = await start(t);
    const bot = await sio(t, srv, { join: 'ctl', login: { name: 'Bot' } });
    const other = await sio(t, srv, { join: 'ctl', login: { name: 'Other' } });
    srv.kick('ctl', 'Bot', 'go away');
    await bot.event('kick', (k) => k.reason === 'go away');
    await other.event('userLeave', (u) => u.name === 'Bot');
    await bot.until(() => bot.disconnected, 'the 41');
    assert.equal(other.count('kick'), 0);
});

test('control: drop closes the TCP connection without a close frame (1006)', async (t) => {
    const srv = await start(t);
    const c = await rawGuest(t, srv, 'ctl', 'Bot');
    srv.drop('ctl', 'Bot');
    await c.waitClosed();
    assert.equal(c.closed.code, 1006);
    await srv.waitFor(() => srv.state('ctl').users.length === 0, 2000, 'the user to leave');
});

test('control: freeze stops pings and all output; the connection stays open; the user stays', async (t) => {
    const srv = await start(t, { pingInterval: 60, pingTimeout: 100 });
    const c = await rawGuest(t, srv, 'ctl', 'Bot');
    await c.frame((f) => f.data === '2', 'a ping before the freeze');
    srv.freeze('ctl', 'Bot');
    const n = c.frames.length;
    c.emitEvent('chatMsg', { msg: 'anyone?', meta: {} });
    srv.say('ctl', 'Someone', 'talking to a dead peer');
    // Observe a bounded window of 10 ping intervals: nothing may arrive and nothing may close.
    await delay(600);
    assert.equal(c.frames.length, n);
    assert.equal(c.closed, null);
    assert.deepEqual(srv.state('ctl').users.map((u) => u.name).sort(), ['Bot', 'Someone']);
});

test('control: freeze with dropAfterMs drops the dead socket later and frees the guest name', async (t) => {
    const srv = await start(t);
    const c = await rawGuest(t, srv, 'ctl', 'Bot');
    srv.freeze('ctl', 'Bot', { dropAfterMs: 100 });
    await srv.waitFor(() => srv.state('ctl').users.length === 0, 2000, 'the frozen user to be dropped');
    const again = await sio(t, srv, { join: 'ctl', login: { name: 'Bot' } });
    assert.equal(again.events.find((e) => e.event === 'login').args[0].success, true);
});

test('control: partitionChange sends {servers} and then disconnects', async (t) => {
    const srv = await start(t);
    const c = await raw(t, srv);
    await c.connect();
    c.emitEvent('joinChannel', { name: 'ctl' });
    await c.event('userlist');
    const servers = [{ url: 'http://127.0.0.1:1', secure: false }];
    srv.partitionChange('ctl', { servers });
    const p = await c.event('partitionChange');
    assert.deepEqual(p.args[0], { servers });
    await c.waitClosed();
    assert.deepEqual(await (await fetch(`${srv.url}/socketconfig/ctl.json`)).json(), { servers });
});

test('control: raw frames reach the client byte for byte (malformed, binary, oversized, nested)', async (t) => {
    const srv = await start(t);
    const c = await raw(t, srv);
    await c.connect();
    c.emitEvent('joinChannel', { name: 'ctl' });
    await c.event('userlist');
    const malformed = srv.sendBadFrame('ctl', null, 'malformed');
    await c.frame((f) => f.data === malformed, 'the malformed frame');
    srv.sendBadFrame('ctl', null, 'binary');
    const bin = await c.frame((f) => f.binary, 'a binary frame');
    assert.deepEqual([...bin.data], [0x04, 0xff, 0x00, 0xfe, 0x42, 0x5b, 0x00]);
    srv.sendBadFrame('ctl', null, 'oversized');
    const big = await c.frame((f) => !f.binary && f.data.length > 1048576, 'the oversized frame');
    assert.equal(big.data.length, 2 * 1048576);
    srv.sendBadFrame('ctl', null, 'nested', { depth: 5000 });
    await c.frame((f) => !f.binary && f.data.startsWith('42["chatMsg",[[[[') && f.data.length === 5000 * 2 + 14, 'the nested frame');
    srv.sendRaw('ctl', null, '42["custom",1]');
    await c.event('custom', (x) => x === 1);
    assert.equal(c.closed, null);
});

test('control: flood delivers every numbered line exactly once, in order, at the asked rate', async (t) => {
    const srv = await start(t);
    const c = await sio(t, srv, { join: 'flood', login: { name: 'Bot' } });
    const t0 = performance.now();
    const res = await srv.flood('flood', { rate: 400, seconds: 1 });
    const elapsed = performance.now() - t0;
    assert.equal(res.sent, 400);
    assert.ok(elapsed >= 900 && elapsed < 5000, `took ${elapsed} ms`);
    await c.until(() => c.count('chatMsg', (m) => m.username === 'Flooder') === 400, '400 lines');
    const got = c.events.filter((e) => e.event === 'chatMsg' && e.args[0].username === 'Flooder').map((e) => e.args[0].msg);
    assert.deepEqual(got, Array.from({ length: 400 }, (_, i) => `flood ${String(i + 1).padStart(6, '0')}`));
    const pms = await srv.flood('flood', { rate: 200, seconds: 0.25, kind: 'pm', to: 'Bot', name: 'Whisperer' });
    await c.until(() => c.count('pm', (m) => m.username === 'Whisperer') === pms.sent, 'all PMs');
});

test('recording: every client frame per channel with increasing ms timestamps; waitForFrame awaits one', async (t) => {
    const srv = await start(t);
    const c = await rawGuest(t, srv, 'rec', 'Bot');
    const since = performance.timeOrigin + performance.now();
    const wait = srv.waitForFrame('rec', (f) => f.event === 'chatMsg' && f.args[0].msg === 'later', 2000, { since });
    c.emitEvent('chatMsg', { msg: 'later', meta: {} });
    const f = await wait;
    assert.ok(f.t >= since);
    const frames = srv.getFrames('rec');
    assert.deepEqual(frames.map((x) => x.frame).slice(0, 3), ['40', '42["joinChannel",{"name":"rec"}]', '42["login",{"name":"Bot"}]']);
    for (let i = 1; i < frames.length; i++) assert.ok(frames[i].t >= frames[i - 1].t);
    assert.equal(frames.at(-1).user, 'Bot');
    assert.deepEqual(srv.getFrames('other'), []);
    await assert.rejects(srv.waitForFrame('rec', 'neverSent', 50), /timed out/);
});

test('recording also covers clients that start with polling and upgrade (socket.io-client defaults)', async (t) => {
    const srv = await start(t);
    const socket = sioConnect(srv.url, { reconnection: false, forceNew: true });
    track(t, () => socket.close());
    socket.emit('joinChannel', { name: 'poll' });
    socket.emit('login', { name: 'Poller' });
    await srv.waitForFrame('poll', (f) => f.event === 'login');
    await srv.waitFor(() => socket.io.engine?.transport?.name === 'websocket', WAIT_MS, 'the upgrade');
    socket.emit('chatMsg', { msg: 'over websocket now', meta: {} });
    await srv.waitForFrame('poll', (f) => f.event === 'chatMsg' && f.args[0].msg === 'over websocket now');
    const ev = new EventEmitter();
    let custom = null;
    socket.once('custom', (x) => {
        custom = x;
        ev.emit('change');
    });
    srv.sendRaw('poll', 'Poller', '42["custom",2]');
    assert.equal(await until(ev, () => custom, WAIT_MS, 'the raw frame over the upgraded socket'), 2);
});

test('control HTTP API and CLI: listening line, say, frames, kick, raw frame, demo page', async (t) => {
    const child = spawn(process.execPath, [CLI, '--port', '0', '--control-port', '0', '--account', 'Bot:pw:1'], {
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => child.kill('SIGTERM'));
    const ev = new EventEmitter();
    let out = '';
    child.stdout.on('data', (d) => {
        out += d;
        ev.emit('change');
    });
    child.on('exit', () => ev.emit('change'));
    const line = await until(ev, () => out.includes('\n') && out.split('\n')[0], 5000, 'the listening line');
    const info = JSON.parse(line);
    assert.equal(info.event, 'listening');
    assert.match(info.controlUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    const srv = { url: `http://127.0.0.1:${info.port}` };
    const post = async (p, body) => {
        const r = await fetch(`${info.controlUrl}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        return { status: r.status, body: await r.json() };
    };
    const c = await sio(t, srv, { join: 'cli', login: { name: 'Bot', pw: 'pw' } });
    assert.equal((await post('/control/cli/say', { name: 'Alice', msg: '!help' })).status, 200);
    await c.event('chatMsg', (m) => m.username === 'Alice' && m.msg === '!help');
    c.socket.emit('chatMsg', { msg: 'Commands: help', meta: {} });
    const w = await post('/control/cli/waitForFrame', { event: 'chatMsg', contains: 'Commands', timeoutMs: 3000 });
    assert.equal(w.body.frame.args[0].msg, 'Commands: help');
    const frames = await (await fetch(`${info.controlUrl}/control/cli/frames?since=0`)).json();
    assert.ok(frames.frames.some((f) => f.event === 'login'));
    const chat = await (await fetch(`${info.controlUrl}/control/cli/chat?since=0`)).json();
    assert.deepEqual(chat.lines.map((l) => l.msg), ['!help', 'Commands: help']);
    await post('/control/cli/raw', { name: 'Bot', data: '42["custom",{"a":1}]' });
    await c.event('custom');
    assert.equal((await post('/control/cli/kick', { name: 'Bot', reason: 'bye' })).status, 200);
    await c.event('kick', (k) => k.reason === 'bye');
    assert.equal((await post('/control/cli/nonsense', {})).status, 404);
    assert.equal((await post('/control/cli/kick', { name: 'Nobody' })).status, 400);
    const page = await fetch(`${info.controlUrl}/demo`);
    assert.match(await page.text(), /<input id="msg"/);
    child.kill('SIGTERM');
    await until(ev, () => child.exitCode !== null, 5000, 'the CLI to exit');
    assert.equal(child.exitCode, 0);
});

test('demo mode: scripted users, a playing playlist, and a visitor line the bot can answer', async (t) => {
    const srv = await start(t, { demo: { minGapMs: 10, maxGapMs: 30 }, controlPort: 0 });
    const c = await sio(t, srv, { join: 'demo', login: { name: 'DazBot' } });
    const users = c.events.find((e) => e.event === 'userlist').args[0].map((u) => u.name);
    assert.deepEqual(users, ['Ada', 'Ben', 'Cleo']); // the guest login is answered after the burst
    assert.ok(c.events.some((e) => e.event === 'changeMedia'));
    await c.until(() => c.count('chatMsg', (m) => ['Ada', 'Ben', 'Cleo'].includes(m.username)) >= 2, 'demo chatter');
    const r = await fetch(`${srv.controlUrl}/control/demo/say`, { method: 'POST', body: JSON.stringify({ name: 'Visitor', msg: '!help' }) });
    assert.equal(r.status, 200);
    await c.event('chatMsg', (m) => m.username === 'Visitor' && m.msg === '!help');
});
