// dazd-ingest.test.mjs — dazd against the fake CyTube server and a scratch database: events of
// every type stored with their tags, history, several rooms, hostile frames, SIGTERM, --check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, chmod } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import path from 'node:path';
import {
    conninfo, fakeCytube, freePort, makeConfig, metricSum, parseMetrics, psql, runDazd,
    scratchDb, startDazd, tempDir, waitFor,
} from './lib/dazd.mjs';

const BOT = 'DazBot';

/** One fake server, one scratch database, one dazd joined to `channels`. */
async function setup(t, { channels = ['lobby'], fakeOpts = {}, cfg = {} } = {}) {
    const db = await scratchDb(t);
    const dir = await tempDir(t);
    const fake = await fakeCytube(t, { accounts: { [BOT]: 'secret' }, ...fakeOpts });
    const httpPort = await freePort();
    const config = makeConfig({
        conninfo: conninfo(db),
        httpPort,
        spoolDir: path.join(dir, 'spool'),
        rooms: channels.map((channel) => ({ channel, site: fake.url, username: BOT, password: 'secret' })),
        ...cfg,
    });
    const dazd = await startDazd(t, dir, config);
    const sql = (q) => psql(db, q);
    const joined = (room) =>
        waitFor(async () => Number(await sql(`SELECT count(*) FROM daz.events WHERE room = '${room}' AND type = 'login'`)) > 0,
            10000, `${room} joined and stored`);
    for (const ch of channels) await joined(ch);
    return { db, dir, fake, dazd, sql, config, httpPort };
}

/** Tags of the newest stored event of a type in a room (without the room tag). */
async function tagsOf(sql, room, type, where = 'true') {
    const t = await waitFor(() => sql(
        `SELECT array_to_string(tags, ',') FROM daz.events WHERE room = '${room}' AND type = '${type}' AND ${where} ORDER BY id DESC LIMIT 1`),
        10000, `a stored ${type}`);
    return t.split(',').filter((x) => !x.startsWith('room:')).sort();
}

test('dazd joins a room and stores every event type with the documented tags', async (t) => {
    const { fake, sql, dazd } = await setup(t);
    fake.say('lobby', 'Alice', 'hello <b>world</b>');
    fake.say('lobby', 'Alice', '!ping');
    fake.say('lobby', 'Alice', '/me waves');
    fake.pm('lobby', 'Alice', BOT, 'psst');
    fake.setRank('lobby', 'Alice', 2);
    fake.removeUser('lobby', 'Alice');
    fake.queueMedia('lobby', { type: 'tw', id: 'abc' });
    fake.emitTo('lobby', BOT, 'chatMsg', { username: BOT, msg: 'my own line', meta: {}, time: Date.now() });
    fake.emitTo('lobby', BOT, 'changeMedia', { id: 'x', title: 'X', seconds: 8, duration: '00:08', type: 'tw', meta: {}, currentTime: -3, paused: true });
    fake.emitTo('lobby', BOT, 'mediaUpdate', { currentTime: 5, paused: false });
    fake.emitTo('lobby', BOT, 'setAFK', { name: 'Bob', afk: true });
    fake.emitTo('lobby', BOT, 'cooldown', 100);
    fake.emitTo('lobby', BOT, 'errorMsg', { msg: 'PM failed: x' });
    fake.emitTo('lobby', BOT, 'announcement', { id: 1, title: 'T', text: 'hello', from: 'admin' });
    fake.sendBadFrame('lobby', BOT, 'unknownEvent');

    const expect = {
        chatMsg: ['chat', 'user-message'],
        pm: ['chat', 'private'],
        addUser: ['presence', 'user'],
        userLeave: ['presence', 'user'],
        setUserRank: ['presence', 'user'],
        setAFK: ['presence', 'user'],
        userlist: ['presence', 'user'],
        queue: ['media', 'queue'],
        playlist: ['media', 'queue'],
        changeMedia: ['change', 'media'],
        cooldown: ['connection', 'system'],
        errorMsg: ['connection', 'system'],
        announcement: ['connection', 'system'],
        'dazd:connected': ['connection', 'system'],
        someFutureEvent: ['unknown'],
    };
    for (const [type, tags] of Object.entries(expect)) {
        const where = type === 'chatMsg' ? `payload->>'msg' LIKE 'hello%'` : 'true';
        assert.deepEqual(await tagsOf(sql, 'lobby', type, where), tags, `tags of ${type}`);
    }
    assert.deepEqual(await tagsOf(sql, 'lobby', 'chatMsg', `payload->>'msg' = '!ping'`), ['chat', 'command', 'user-message']);
    assert.deepEqual(await tagsOf(sql, 'lobby', 'chatMsg', `payload->>'msg' = 'waves'`), ['action', 'chat', 'user-message']);
    assert.deepEqual(await tagsOf(sql, 'lobby', 'chatMsg', `payload->>'msg' = 'my own line'`), ['bot', 'chat', 'user-message']);
    // mediaUpdate is received but dropped by the database's default log rule for tag "update".
    const m = parseMetrics((await dazd.http('/metrics')).text);
    assert.ok(metricSum(m, 'dazd_events_received_total', { type: 'mediaUpdate' }) >= 1, 'mediaUpdate received');
    // The row carries actor, CyTube's time and the payload as sent.
    const row = await sql(`SELECT actor, server_time IS NOT NULL, payload->>'msg' FROM daz.events WHERE type = 'chatMsg' AND payload->>'msg' LIKE 'hello%'`);
    assert.equal(row, 'Alice|t|hello &lt;b&gt;world&lt;/b&gt;');
    // Ids are UUIDv7 and received_at is dazd's clock.
    const v = await sql(`SELECT count(*) FROM daz.events WHERE substr(id::text, 15, 1) <> '7' OR abs(extract(epoch FROM now() - received_at)) > 60`);
    assert.equal(v, '0');
});

test('history before the first userlist is tagged history and not stored twice after a reconnect', async (t) => {
    const history = [1, 2, 3].map((i) => ({ username: 'Old', msg: `old line ${i}`, time: Date.now() - 60000 + i }));
    const { fake, sql, dazd } = await setup(t, { fakeOpts: { channels: { lobby: { history } } } });
    await waitFor(async () => (await sql(`SELECT count(*) FROM daz.events WHERE tags @> '{history}'`)) === '3', 5000, '3 history rows');
    fake.drop('lobby', BOT);
    await dazd.waitLog(/\[lobby\] connection closed/);
    await waitFor(async () => (await sql(`SELECT count(*) FROM daz.events WHERE type = 'dazd:connected'`)) === '2', 10000, 'second connect');
    await waitFor(async () => (await sql(`SELECT count(*) FROM daz.events WHERE type = 'login'`)) === '2', 10000, 'second login stored');
    fake.say('lobby', 'Alice', 'after reconnect');
    await waitFor(async () => (await sql(`SELECT count(*) FROM daz.events WHERE payload->>'msg' = 'after reconnect'`)) === '1', 5000, 'new line');
    assert.equal(await sql(`SELECT count(*) FROM daz.events WHERE type = 'chatMsg' AND payload->>'msg' LIKE 'old line%'`), '3');
    assert.equal(await sql(`SELECT count(*) FROM daz.events WHERE payload->>'msg' LIKE 'old line%' AND NOT tags @> '{history}'`), '0');
    assert.equal(await sql(`SELECT count(*) FROM daz.events WHERE payload->>'msg' = 'after reconnect' AND tags @> '{history}'`), '0');
    assert.equal(await sql(`SELECT count(*) FROM daz.events WHERE type = 'dazd:disconnected'`), '1');
});

test('a reconnect in the middle of an item continues its play in daz.media_plays', async (t) => {
    // CyTube (and the fake) send changeMedia with the position reached to every socket that joins.
    const { fake, sql, dazd } = await setup(t, { fakeOpts: { mediaLeadInMs: 100, mediaTickMs: 200 } });
    fake.changeMedia('lobby', { type: 'tw', id: 'long', duration: 3600 });
    await waitFor(async () => (await sql(`SELECT count(*) FROM daz.media_plays WHERE media_id = 'long'`)) === '1', 5000, 'the play');
    await fake.waitFor(() => fake.state('lobby').current?.currentTime > 0.5, 5000, 'playback under way');
    fake.drop('lobby', BOT);
    await dazd.waitLog(/\[lobby\] connection closed/);
    await waitFor(async () => (await sql(`SELECT count(*) FROM daz.events WHERE type = 'changeMedia'
                                           AND (payload->>'currentTime')::numeric > 0`)) === '1', 10000, 'the changeMedia of the rejoin');
    assert.equal(await sql(`SELECT count(*) || ' ' || count(*) FILTER (WHERE ended_at IS NULL) FROM daz.media_plays`), '1 1');
    assert.equal(await sql(`SELECT count(*) FROM daz.events WHERE type = 'changeMedia'`), '2');
});

test('three rooms at once each store their own events (JSON log lines name their room)', async (t) => {
    const rooms = ['r1', 'r2', 'r3'];
    const { fake, sql, dazd } = await setup(t, { channels: rooms, cfg: { log: { level: 'info', format: 'json' } } });
    for (const r of rooms) fake.say(r, 'Alice', `hi from ${r}`);
    for (const r of rooms)
        await waitFor(async () => (await sql(`SELECT count(*) FROM daz.events WHERE room = '${r}' AND payload->>'msg' = 'hi from ${r}'`)) === '1', 5000, r);
    assert.equal(await sql(`SELECT count(*) FROM daz.events WHERE payload->>'msg' LIKE 'hi from%' AND payload->>'msg' <> 'hi from ' || room`), '0');
    const lines = dazd.logs.map((l) => JSON.parse(l));
    for (const l of lines) assert.deepEqual(Object.keys(l), ['ts', 'level', 'scope', 'msg']);
    for (const r of rooms) assert.ok(lines.some((l) => l.scope === r && /joined/.test(l.msg)), `a line for ${r}`);
    assert.ok(!dazd.logs.some((l) => l.includes('secret')), 'no password in the log');
});

test('malformed, binary, deep and oversized frames are counted by reason and dazd stays up', async (t) => {
    const { fake, sql, dazd } = await setup(t);
    for (const kind of ['malformed', 'notjson', 'binary', 'nested', 'emptyEvent', 'badType', 'oversized'])
        fake.sendBadFrame('lobby', BOT, kind, { size: 1100000, depth: 10000 });
    fake.sendBadFrame('lobby', BOT, 'wrongTypes');
    // A large valid frame arrives in several reads and is reassembled whole.
    const big = 'b'.repeat(600000);
    fake.sendRaw('lobby', BOT, `42["chatMsg",{"username":"Alice","msg":"${big}","meta":{},"time":${Date.now()}}]`);
    fake.say('lobby', 'Alice', 'still alive');
    await waitFor(async () => (await sql(`SELECT count(*) FROM daz.events WHERE payload->>'msg' = 'still alive'`)) === '1', 5000, 'line after bad frames');
    assert.equal(await sql(`SELECT length(payload->>'msg') FROM daz.events WHERE payload->>'msg' LIKE 'bbbb%'`), '600000');
    const m = parseMetrics((await dazd.http('/metrics')).text);
    const rejected = metricSum(m, 'dazd_frames_rejected_total', { room: 'lobby' });
    assert.ok(rejected >= 7, `7 frames rejected, got ${rejected}`);
    for (const reason of ['json', 'binary', 'depth', 'oversize'])
        assert.ok(metricSum(m, 'dazd_frames_rejected_total', { reason }) >= 1, `a frame rejected for ${reason}`);
    assert.equal(dazd.proc.exitCode, null, 'dazd still running');
    const h = await dazd.http('/healthz');
    assert.equal(h.status, 200);
});

test('SIGTERM during a flood stores every event received and exits 0', async (t) => {
    const { fake, sql, dazd, dir } = await setup(t);
    const flood = fake.flood('lobby', { rate: 1000, seconds: 3, prefix: 'term' });
    await waitFor(async () => Number(await sql(`SELECT count(*) FROM daz.events WHERE payload->>'msg' LIKE 'term %'`)) > 300, 10000, 'flood under way');
    const { code } = await dazd.stop('SIGTERM');
    flood.stop();
    assert.equal(code, 0);
    assert.ok(dazd.logs.some((l) => /drained/.test(l)), 'drain logged');
    // What was received is stored: the numbers form one gap-free run from 1.
    const [n, max, distinct] = (await sql(
        `SELECT count(*), max(substr(payload->>'msg', 6)::int), count(DISTINCT payload->>'msg') FROM daz.events WHERE payload->>'msg' LIKE 'term %'`)).split('|').map(Number);
    assert.equal(n, max, 'no gap');
    assert.equal(distinct, n, 'no duplicate');
    assert.equal(await sql(`SELECT count(*) FROM daz.events WHERE type = 'dazd:disconnected'`), '1');
    void dir;
});

test('the memory buffer is bounded in bytes: while daz.ingest waits, the overflow goes to the spool', async (t) => {
    const { fake, sql, db, httpPort } = await setup(t, {
        cfg: { ingest: { batch_max: 100, flush_ms: 20, buffer_max: 100000, buffer_max_bytes: 65536 } },
    });
    const metrics = async () => parseMetrics(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text());
    // Hold daz.events: the batch in flight waits, later events pile up in memory.
    const locked = psql(db, `BEGIN; LOCK TABLE daz.events IN EXCLUSIVE MODE; SELECT pg_sleep(1.5); COMMIT;`);
    await waitFor(async () => (await sql(`SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'events' AND l.mode = 'ExclusiveLock' AND l.granted`)) === '1', 5000, 'lock held');
    await fake.flood('lobby', { rate: 2000, seconds: 0.5, prefix: 'bytes' });
    const m = await waitFor(async () => {
        const x = await metrics();
        return metricSum(x, 'dazd_events_received_total', { type: 'chatMsg' }) >= 1000 ? x : null;
    }, 5000, 'flood received');
    assert.ok(m['dazd_ingest_buffer_bytes'] <= 65536 + 1024, `buffer bytes bounded (${m['dazd_ingest_buffer_bytes']})`);
    assert.ok(m['dazd_ingest_buffer_events'] < 500, `far below buffer_max (${m['dazd_ingest_buffer_events']} events)`);
    assert.ok(metricSum(m, 'dazd_spool_written_total') >= 400, `the rest was spooled (${metricSum(m, 'dazd_spool_written_total')})`);
    await locked;
    await waitFor(async () => (await sql(`SELECT count(DISTINCT payload->>'msg') FROM daz.events WHERE payload->>'msg' LIKE 'bytes %'`)) === '1000', 10000, 'every line stored');
    assert.equal(await sql(`SELECT count(*) FROM daz.events WHERE payload->>'msg' LIKE 'bytes %'`), '1000', 'once each');
});

test('a second SIGTERM exits at once while the first is still draining', async (t) => {
    const { fake, sql, dazd, db } = await setup(t);
    // Hold a lock that daz.ingest needs, so the drain cannot finish.
    const locker = spawn('psql', ['-X', '-q', '-d', db, '-c', 'BEGIN; LOCK TABLE daz.events IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);'], { stdio: 'ignore' });
    t.after(() => locker.kill('SIGKILL'));
    await waitFor(async () => (await sql(`SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'events' AND l.mode = 'AccessExclusiveLock' AND l.granted`)) !== '0', 5000, 'lock held');
    fake.say('lobby', 'Alice', 'stuck behind the lock');
    await waitFor(async () => metricSum(parseMetrics((await dazd.http('/metrics')).text), 'dazd_events_received_total', { type: 'chatMsg' }) >= 1,
        5000, 'the line received');
    dazd.proc.kill('SIGTERM');
    await dazd.waitLog(/SIGTERM: draining/);
    const t0 = Date.now();
    const { code } = await dazd.stop('SIGTERM', 5000);
    assert.equal(code, 1, 'immediate exit code');
    assert.ok(Date.now() - t0 < 2000, 'exited at once');
    assert.ok(dazd.logs.some((l) => /second SIGTERM: exiting at once/.test(l)));
});

test('dazd --check exits 0 for a good config and 2 with the key for a bad one', async (t) => {
    const dir = await tempDir(t);
    const good = path.join(dir, 'good.json');
    const bad = path.join(dir, 'bad.json');
    const cfg = makeConfig({ conninfo: 'dbname=x', spoolDir: dir, rooms: [{ channel: 'lobby', username: BOT, password: 'x' }] });
    await writeFile(good, JSON.stringify(cfg));
    await chmod(good, 0o600);
    let r = await runDazd(['-c', good, '--check']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /OK/);
    cfg.rooms[0].pasword = 'x';
    await writeFile(bad, JSON.stringify(cfg));
    r = await runDazd(['-c', bad, '--check']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /rooms\[0\]\.pasword/);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    delete cfg.rooms[0].pasword;
    cfg.ingest.batch_max = 'many';
    await writeFile(bad, JSON.stringify(cfg));
    r = await runDazd(['-c', bad, '--check']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /ingest\.batch_max/);
    r = await runDazd(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^dazd \d+\.\d+/);
    r = await runDazd(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--check/);
});
