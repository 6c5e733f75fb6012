// dazd-connection.test.mjs — dazd's CyTube connection under faults: dead peer, kick,
// partitionChange, failed login, TLS verification, SIGHUP reload, health endpoints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { makeTestCerts } from '../fake-cytube/certs.mjs';
import {
    conninfo, fakeCytube, freePort, makeConfig, metricSum, parseMetrics, psql, scratchDb,
    startDazd, tempDir, waitFor,
} from './lib/dazd.mjs';

const BOT = 'DazBot';

async function base(t, fakeOpts = {}) {
    const db = await scratchDb(t);
    const dir = await tempDir(t);
    const fake = await fakeCytube(t, { accounts: { [BOT]: 'secret' }, ...fakeOpts });
    const httpPort = await freePort();
    const sql = (q) => psql(db, q);
    const count = async (where) => Number(await sql(`SELECT count(*) FROM daz.events WHERE ${where}`));
    const room = (channel, extra = {}) => ({ channel, site: fake.url, username: BOT, password: 'secret', ...extra });
    const config = (rooms) => makeConfig({ conninfo: conninfo(db), httpPort, spoolDir: path.join(dir, 'spool'), rooms });
    return { db, dir, fake, sql, count, room, config };
}

test('a peer that stops answering is declared dead after pingInterval + pingTimeout and the room reconnects', async (t) => {
    const b = await base(t, { pingInterval: 300, pingTimeout: 300 });
    const dazd = await startDazd(t, b.dir, b.config([b.room('lobby')]));
    await waitFor(() => b.count(`type = 'login'`), 10000, 'joined');
    const t0 = Date.now();
    b.fake.freeze('lobby', BOT);
    const line = await dazd.waitLog(/\[lobby\] dead peer: no packet for \d+ ms/, 5000);
    const ms = Number(/no packet for (\d+) ms/.exec(line)[1]);
    assert.ok(ms >= 600 && ms < 3000, `declared dead after ${ms} ms`);
    assert.ok(Date.now() - t0 < 5000);
    await waitFor(async () => (await b.count(`type = 'dazd:connected'`)) === 2, 10000, 'reconnected');
    assert.match(await b.sql(`SELECT payload->>'reason' FROM daz.events WHERE type = 'dazd:disconnected'`), /dead peer/);
});

test('a kick is logged with its reason and backs off longer before rejoining', async (t) => {
    const b = await base(t);
    const dazd = await startDazd(t, b.dir, b.config([b.room('lobby')]));
    await waitFor(() => b.count(`type = 'login'`), 10000, 'joined');
    b.fake.kick('lobby', BOT, 'go away');
    await dazd.waitLog(/\[lobby\] kicked: go away/);
    const line = await dazd.waitLog(/\[lobby\] .*reconnecting in \d+ ms/);
    const delay = Number(/reconnecting in (\d+) ms/.exec(line)[1]);
    assert.ok(delay >= 30000, `kick backoff ${delay} ms`);
    assert.match(line, /kicked: go away/);
    await waitFor(() => b.count(`type = 'kick'`), 5000, 'kick stored');
    const r = await dazd.http('/readyz');
    assert.equal(r.status, 503);
    assert.match(r.text, /room lobby: backoff/);
    const m = parseMetrics((await dazd.http('/metrics')).text);
    assert.equal(metricSum(m, 'dazd_room_kicks_total', { room: 'lobby' }), 1);
    assert.equal(metricSum(m, 'dazd_room_state', { room: 'lobby', state: 'backoff' }), 1);
    // The room's row in daz.rooms says so too (written through daz.room_state).
    await waitFor(async () => /^backoff\|kicked: go away$/.test(await b.sql(`SELECT state, last_error FROM daz.rooms WHERE room = 'lobby'`)),
        5000, 'daz.rooms row in backoff with the kick reason');
});

test('partitionChange moves the room to the new server at once', async (t) => {
    const b = await base(t);
    const other = await fakeCytube(t, { accounts: { [BOT]: 'secret' } });
    const dazd = await startDazd(t, b.dir, b.config([b.room('lobby')]));
    await waitFor(() => b.count(`type = 'login'`), 10000, 'joined');
    const t0 = Date.now();
    b.fake.partitionChange('lobby', { servers: [other.socketConfigEntry()] });
    await other.waitForFrame('*', 'login', 5000);
    assert.ok(Date.now() - t0 < 2000, `moved in ${Date.now() - t0} ms`);
    await dazd.waitLog(/partitionChange: reconnecting to .* at once/);
    await waitFor(async () => (await b.count(`type = 'login'`)) === 2, 5000, 'joined on the new server');
    other.say('lobby', 'Alice', 'on the other side');
    await waitFor(() => b.count(`payload->>'msg' = 'on the other side'`), 5000, 'event from the new server');
});

test('a failed login is logged with CyTube\'s reason and retried with backoff, not hammered', async (t) => {
    const b = await base(t);
    const dazd = await startDazd(t, b.dir, b.config([b.room('lobby', { password: 'wrong' })]));
    await dazd.waitLog(/\[lobby\] login as DazBot failed: Invalid username\/password combination; retrying in \d+ ms/);
    const first = await b.fake.waitForFrame('*', 'login', 5000);
    const second = await b.fake.waitForFrame('*', (f) => f.event === 'login' && f.seq > first.seq, 8000);
    assert.ok(second.t - first.t >= 1900, `second login after ${second.t - first.t} ms`);
    assert.ok(!dazd.logs.some((l) => /wrong/.test(l)), 'password never logged');
    const r = await dazd.http('/readyz');
    assert.equal(r.status, 503);
    assert.match(await b.sql(`SELECT payload->>'error' FROM daz.events WHERE type = 'login' LIMIT 1`), /Invalid/);
});

test('TLS: the test CA is accepted with tls_ca_file and refused without it', async (t) => {
    const certDir = await tempDir(t, 'dazd-certs-');
    const certs = makeTestCerts(certDir);
    const b = await base(t, { tls: { cert: certs.cert, key: certs.key } });
    assert.match(b.fake.url, /^https:/);
    const dazd = await startDazd(t, b.dir, b.config([
        b.room('good', { tls_ca_file: certs.caCert }),
        b.room('bad'),
    ]));
    await waitFor(() => b.count(`room = 'good' AND type = 'login'`), 10000, 'joined over wss with the CA');
    await dazd.waitLog(/\[bad\] .*(certificate|verify|SSL|TLS)/i, 10000);
    assert.equal(await b.count(`room = 'bad'`), 0, 'nothing from the room without the CA');
    assert.ok(dazd.logs.some((l) => /\[good\] connecting to wss:/.test(l)));
});

test('SIGHUP adds a room; a reload that fails validation keeps the running config', async (t) => {
    const b = await base(t);
    const cfg = b.config([b.room('one')]);
    const dazd = await startDazd(t, b.dir, cfg);
    await waitFor(() => b.count(`room = 'one' AND type = 'login'`), 10000, 'one joined');
    await dazd.writeConfig({ ...cfg, rooms: [b.room('one'), b.room('two')] });
    dazd.proc.kill('SIGHUP');
    await waitFor(() => b.count(`room = 'two' AND type = 'login'`), 10000, 'two joined after SIGHUP');
    await dazd.writeConfig({ ...cfg, rooms: [b.room('one'), { ...b.room('three'), bogus: 1 }] });
    dazd.proc.kill('SIGHUP');
    await dazd.waitLog(/reload of .* failed, keeping the running config: rooms\[1\]\.bogus/);
    b.fake.say('two', 'Alice', 'still here');
    await waitFor(() => b.count(`room = 'two' AND payload->>'msg' = 'still here'`), 5000, 'room two kept');
    await dazd.writeConfig({ ...cfg, rooms: [b.room('two')] });
    dazd.proc.kill('SIGHUP');
    await dazd.waitLog(/\[one\] removed from the config/);
    await waitFor(() => b.count(`room = 'one' AND type = 'dazd:disconnected'`), 5000, 'one left');
    // A changed room reconnects; a disabled one is left.
    await dazd.writeConfig({ ...cfg, rooms: [b.room('two', { password: 'secret', tls_ca_file: undefined, enabled: false })] });
    dazd.proc.kill('SIGHUP');
    await dazd.waitLog(/\[two\] disabled in the config: leaving/);
    await waitFor(() => b.count(`room = 'two' AND type = 'dazd:disconnected'`), 5000, 'two left');
    await dazd.writeConfig({ ...cfg, rooms: [b.room('two')] });
    dazd.proc.kill('SIGHUP');
    await waitFor(async () => (await b.count(`room = 'two' AND type = 'login'`)) === 2, 10000, 'two joined again');
});

test('/healthz answers, /readyz is ready once the database is up and every room joined, /metrics counts', async (t) => {
    const b = await base(t);
    const dazd = await startDazd(t, b.dir, b.config([b.room('lobby')]));
    assert.equal((await waitFor(() => dazd.http('/healthz').catch(() => null), 5000, 'http up')).status, 200);
    await waitFor(async () => (await dazd.http('/readyz')).status === 200, 10000, 'ready');
    b.fake.say('lobby', 'Alice', 'count me');
    await waitFor(() => b.count(`payload->>'msg' = 'count me'`), 5000, 'stored');
    const text = (await dazd.http('/metrics')).text;
    assert.match(text, /# TYPE dazd_events_received_total counter/);
    assert.match(text, /# TYPE dazd_ingest_latency_seconds histogram/);
    const m = parseMetrics(text);
    assert.ok(metricSum(m, 'dazd_events_received_total', { room: 'lobby', type: 'chatMsg' }) >= 1);
    await waitFor(async () => metricSum(parseMetrics((await dazd.http('/metrics')).text), 'dazd_events_stored_total', { room: 'lobby', type: 'chatMsg' }) >= 1, 5000, 'stored counted');
    assert.equal(m['dazd_db_up'], 1);
    assert.equal(metricSum(m, 'dazd_room_state', { room: 'lobby', state: 'joined' }), 1);
    assert.ok(metricSum(m, 'dazd_ingest_batch_size_count') >= 1);
    assert.equal((await dazd.http('/nope')).status, 404);
});

test('/readyz waits for the first lease round: not ready while daz.heartbeat cannot answer', async (t) => {
    const b = await base(t);
    // Hold daz.workers so the first heartbeat (an upsert into it) waits.
    const locked = psql(b.db, `BEGIN; LOCK TABLE daz.workers IN EXCLUSIVE MODE; SELECT pg_sleep(2); COMMIT;`);
    await waitFor(async () => (await b.sql(`SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'workers' AND l.mode = 'ExclusiveLock' AND l.granted`)) === '1', 5000, 'lock held');
    const dazd = await startDazd(t, b.dir, b.config([b.room('lobby')]));
    const seen = await waitFor(async () => {
        const r = await dazd.http('/readyz').catch(() => null);
        return r && /database: up/.test(r.text) ? r : null;
    }, 5000, 'database up');
    assert.equal(seen.status, 503, `not ready before the first lease round:\n${seen.text}`);
    assert.match(seen.text, /leases: first round pending/);
    await locked;
    const ready = await waitFor(async () => {
        const r = await dazd.http('/readyz');
        return r.status === 200 ? r : null;
    }, 10000, 'ready');
    assert.match(ready.text, /leases: settled/);
    assert.match(ready.text, /room lobby: joined/);
});
