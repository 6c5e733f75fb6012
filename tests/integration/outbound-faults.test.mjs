// outbound-faults.test.mjs — nothing lost, nothing twice: room down, dazd SIGKILLed mid-send, a job
// that keeps failing, a lost NOTIFY.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { psql, scratchDb, fake, startDazd, joined, until, holdClaims } from './lib/outbound.mjs';

const botLines = (srv, ch = 'lobby') => srv.chatLog(ch).filter((l) => l.username === 'DazBot').map((l) => l.msg);

async function allDone(db, ids, { timeoutMs = 30000, nudge = false } = {}) {
    await until(
        async () => {
            if (nudge) {
                // what pg_cron does every minute, and no waiting out the retry backoff
                await psql(db, `SELECT daz.rescue_expired()`);
                await psql(db, `UPDATE daz.jobs SET run_at = now() WHERE id IN (${ids}) AND state = 'ready' AND run_at > now()`);
            }
            return (await psql(db, `SELECT count(*) FROM daz.job_results WHERE id IN (${ids})`)) === String(ids.length);
        },
        { timeoutMs, intervalMs: 200, label: `jobs ${ids} completed` },
    );
}

test('jobs enqueued while the room is down are delivered after the reconnect, once each', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    await startDazd(t, { db, srv, rooms: [{ channel: 'lobby' }] });
    await joined(srv, 'lobby');
    srv.setSocketConfig('lobby', [{ url: 'http://127.0.0.1:9', secure: false }]); // nowhere to reconnect to
    srv.drop('lobby');
    await until(async () => (await psql(db, `SELECT state FROM daz.rooms WHERE room = 'lobby'`)) !== 'joined', { label: 'room down' });
    const ids = (await psql(db, `SELECT daz.say('lobby', 'while down ' || g) FROM generate_series(1, 5) g`)).split('\n');
    srv.setSocketConfig('lobby', null);
    await allDone(db, ids);
    assert.equal(await psql(db, `SELECT count(*) FROM daz.job_results WHERE id IN (${ids}) AND attempts = 1`), '5',
        'never claimed while the room was down');
    const lines = botLines(srv);
    for (let g = 1; g <= 5; g++) assert.equal(lines.filter((m) => m === `while down ${g}`).length, 1, `while down ${g} exactly once`);
});

test('dazd killed with SIGKILL mid-send: after restart the unconfirmed jobs are retried and confirmed', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    const rooms = [{ channel: 'lobby', pacing: { burst: 1, per_second: 1 } }];
    const a = await startDazd(t, { db, srv, rooms });
    await joined(srv, 'lobby');
    const ids = (await psql(db, `SELECT daz.say('lobby', 'kill ' || g) FROM generate_series(1, 5) g`)).split('\n');
    await srv.waitFor(() => botLines(srv).includes('kill 2'), 10000, 'kill 2 said');
    await a.stop('SIGKILL');
    assert.ok(Number(await psql(db, `SELECT count(*) FROM daz.jobs WHERE id IN (${ids}) AND state = 'running'`)) > 0,
        'jobs were held by the killed dazd');
    await startDazd(t, { db, srv, rooms });
    await allDone(db, ids, { nudge: true, timeoutMs: 40000 });
    assert.equal(await psql(db, `SELECT count(*) FROM daz.dead_letters`), '0', 'none dead-lettered');
    const lines = botLines(srv);
    for (let g = 1; g <= 5; g++) assert.ok(lines.includes(`kill ${g}`), `kill ${g} reached the channel`);
});

test('a job that keeps failing ends in daz.dead_letters with every attempt\'s error', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    await startDazd(t, { db, srv, rooms: [{ channel: 'lobby' }] });
    await joined(srv, 'lobby');
    const id = await psql(db, `SELECT daz.pm('lobby', 'Nobody', 'are you there?')`);
    await psql(db, `UPDATE daz.jobs SET max_attempts = 3 WHERE id = ${id}`);
    await until(
        async () => {
            await psql(db, `UPDATE daz.jobs SET run_at = now() WHERE id = ${id} AND state = 'ready' AND run_at > now()`);
            return (await psql(db, `SELECT count(*) FROM daz.dead_letters WHERE id = ${id}`)) === '1';
        },
        { timeoutMs: 30000, intervalMs: 200, label: `job ${id} dead-lettered` },
    );
    const errors = JSON.parse(await psql(db, `SELECT errors FROM daz.dead_letters WHERE id = ${id}`));
    assert.equal(errors.length, 3, 'one error per attempt');
    for (const e of errors) assert.match(e.error, /^errorMsg: PM failed/);
    assert.equal(await psql(db, `SELECT reason FROM daz.dead_letters WHERE id = ${id}`), 'exhausted');
});

test('a lost NOTIFY costs latency, not work: the LISTEN connection killed, jobs still go out', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    const d = await startDazd(t, { db, srv, rooms: [{ channel: 'lobby' }] }); // poll_ms 1000
    await joined(srv, 'lobby');
    const pid = await until(() => psql(db, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'dazd listen'`), {
        label: 'the LISTEN backend',
    });
    await psql(db, `SELECT pg_terminate_backend(${pid})`);
    const t0 = Date.now();
    await psql(db, `SELECT daz.say('lobby', 'after the kill')`);
    await srv.waitFor(() => botLines(srv).includes('after the kill'), 5000, 'the line said after the kill');
    assert.ok(Date.now() - t0 < 3000, `sent within the poll interval (${Date.now() - t0} ms)`);
    // A job that becomes runnable later is never notified: only the poll finds it.
    await psql(db, `SELECT daz.enqueue('cytube', 'chat', '{"text": "due later"}', 'lobby', 0::smallint, now() + interval '1 second')`);
    await srv.waitFor(() => botLines(srv).includes('due later'), 5000, 'the delayed line');
    await until(() => (d.log().match(/listening on daz_jobs/g) ?? []).length >= 2, { label: 'LISTEN again after the reconnect' });
});

test('SIGTERM hands back what was not sent: retried by the next dazd, nothing left running', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    const rooms = [{ channel: 'lobby', pacing: { burst: 1, per_second: 0.5 } }];
    const a = await startDazd(t, { db, srv, rooms });
    await joined(srv, 'lobby');
    const ids = (await psql(db, `SELECT daz.say('lobby', 'term ' || g) FROM generate_series(1, 4) g`)).split('\n');
    await srv.waitFor(() => botLines(srv).includes('term 1'), 10000, 'term 1 said');
    const r = await a.stop('SIGTERM');
    assert.equal(r.code, 0, 'dazd exits 0');
    assert.equal(await psql(db, `SELECT count(*) FROM daz.jobs WHERE id IN (${ids}) AND state = 'running'`), '0',
        'no job left running (nothing waits for a lease to expire)');
    assert.equal(await psql(db, `SELECT count(*) FROM daz.rooms WHERE holder IS NOT NULL`), '0', 'lease released');
    await startDazd(t, { db, srv, rooms });
    await allDone(db, ids, { nudge: true });
    assert.equal(await psql(db, `SELECT count(*) FROM daz.dead_letters`), '0');
    const lines = botLines(srv);
    for (let g = 1; g <= 4; g++) assert.ok(lines.includes(`term ${g}`), `term ${g} reached the channel`);
});

test('SIGTERM while a claim is in flight: dazd waits for its answer and hands those jobs back', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    const rooms = [{ channel: 'lobby' }];
    const a = await startDazd(t, { db, srv, rooms });
    await joined(srv, 'lobby');
    const hold = await holdClaims(t, db);
    const ids = (await psql(db, `SELECT daz.say('lobby', 'late ' || g) FROM generate_series(1, 3) g`)).split('\n');
    await until(
        async () => (await psql(db, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                                       AND query LIKE '%daz.claim(%' AND wait_event = 'advisory'`)) === '1',
        { label: 'a claim waiting in the database' },
    );
    a.proc.kill('SIGTERM');
    await until(() => /state joined -> offline: shutting down/.test(a.log()), { label: 'the room closed for the drain' });
    // Everything else is drained now; only the claim is outstanding.
    const early = await Promise.race([a.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 1000))]);
    await hold.release();
    const r = await a.exited;
    await until(
        async () => (await psql(db, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                                       AND pid <> pg_backend_pid() AND query LIKE '%daz.claim(%' AND state = 'active'`)) === '0',
        { label: 'the claim finished in the database' },
    );
    assert.equal(r.code, 0, 'dazd exits 0');
    assert.equal(await psql(db, `SELECT count(*) FROM daz.jobs WHERE id IN (${ids}) AND state = 'running'`), '0',
        'no job left running');
    assert.equal(early, false, 'dazd did not exit while its claim was in flight');
    assert.equal(await psql(db, `SELECT count(*) FROM daz.jobs WHERE id IN (${ids}) AND state = 'ready'
                                   AND attempts = 1 AND last_error = 'dazd shutting down'`), '3',
        'the claimed jobs were handed back as "dazd shutting down"');
    await startDazd(t, { db, srv, rooms });
    await allDone(db, ids, { nudge: true });
    assert.equal(await psql(db, `SELECT count(*) FROM daz.dead_letters`), '0');
    for (let g = 1; g <= 3; g++) assert.ok(botLines(srv).includes(`late ${g}`), `late ${g} reached the channel`);
});

test('jobs held when the connection drops are failed retryably and delivered after the reconnect', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    await startDazd(t, { db, srv, rooms: [{ channel: 'lobby', pacing: { burst: 1, per_second: 0.5 } }] });
    await joined(srv, 'lobby');
    const ids = (await psql(db, `SELECT daz.say('lobby', 'held ' || g) FROM generate_series(1, 3) g`)).split('\n');
    await srv.waitFor(() => botLines(srv).includes('held 1'), 10000, 'held 1 said');
    srv.drop('lobby');
    await until(async () => Number(await psql(db, `SELECT count(*) FROM daz.jobs WHERE id IN (${ids}) AND last_error IN ('room offline', 'connection lost')`)) >= 2, {
        label: 'the held jobs failed with room offline',
    });
    await allDone(db, ids, { nudge: true });
    assert.equal(await psql(db, `SELECT count(*) FROM daz.dead_letters`), '0');
    for (let g = 1; g <= 3; g++) assert.ok(botLines(srv).includes(`held ${g}`), `held ${g} reached the channel`);
});
