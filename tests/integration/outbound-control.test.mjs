// outbound-control.test.mjs — daz_control (pause/resume, reload, shutdown), the SQL job worker, and
// emit jobs answered by the server (queue / queueFail).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { psql, scratchDb, fake, startDazd, joined, listening, until, jobState, onCleanup } from './lib/outbound.mjs';

const botLines = (srv, ch = 'lobby') => srv.chatLog(ch).filter((l) => l.username === 'DazBot').map((l) => l.msg);

test('daz_control pause stops a room\'s sending and resume sends what waited', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    const d = await startDazd(t, { db, srv, rooms: [{ channel: 'lobby' }] });
    await joined(srv, 'lobby');
    await listening(d);
    await psql(db, `NOTIFY daz_control, 'pause lobby'`);
    await until(() => /sending paused by daz_control/.test(d.log()), { label: 'paused' });
    const id = await psql(db, `SELECT daz.say('lobby', 'held back')`);
    // two poll intervals (poll_ms 1000) and a notification: nothing may go out
    await new Promise((r) => setTimeout(r, 2500));
    assert.ok(!botLines(srv).includes('held back'), 'nothing sent while paused');
    await psql(db, `NOTIFY daz_control, 'resume lobby'`);
    await srv.waitFor(() => botLines(srv).includes('held back'), 5000, 'the held line after resume');
    await until(async () => (await jobState(db, id)) === 'done', { label: 'job done after resume' });
});

test('daz_control reload applies a new config like SIGHUP, shutdown exits like SIGTERM', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t, { lobby: {}, second: {} });
    const d = await startDazd(t, { db, srv, rooms: [{ channel: 'lobby' }] });
    await joined(srv, 'lobby');
    await listening(d);
    const cfg = JSON.parse(await readFile(d.file, 'utf8'));
    cfg.rooms.push({ ...cfg.rooms[0], channel: 'second' });
    await writeFile(d.file, JSON.stringify(cfg));
    await psql(db, `NOTIFY daz_control, 'reload'`);
    await joined(srv, 'second');
    const id = await psql(db, `SELECT daz.say('second', 'hello second')`);
    await until(async () => (await jobState(db, id)) === 'done', { label: 'said in the added room' });

    await psql(db, `NOTIFY daz_control, 'shutdown'`);
    const r = await d.exited;
    assert.equal(r.code, 0, 'exit code 0');
    assert.equal(await psql(db, `SELECT count(*) FROM daz.rooms WHERE holder IS NOT NULL`), '0', 'leases released');
});

test('a job on an in-database queue runs at once on its notification (daz.run_jobs)', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    await psql(db, `CREATE FUNCTION public.t_upper(p_job daz.jobs) RETURNS jsonb LANGUAGE sql
                    AS $$ SELECT jsonb_build_object('upper', upper(p_job.payload->>'text')) $$`);
    const d = await startDazd(t, { db, srv, rooms: [{ channel: 'lobby' }] });
    await joined(srv, 'lobby');
    await listening(d);
    // The fallback timer runs every second; woken by the notification, a job runs in a few ms.
    const took = [];
    let id;
    for (let k = 0; k < 5; k++) {
        const t0 = Date.now();
        id = await psql(db, `SELECT daz.enqueue('bot', 'shout', '{"text": "hey"}', NULL, 0, now(), NULL, NULL,
                                                 'public.t_upper(daz.jobs)'::regprocedure)`);
        await until(async () => (await jobState(db, id)) === 'done', { timeoutMs: 5000, intervalMs: 10, label: 'bot job done' });
        took.push(Date.now() - t0);
    }
    took.sort((a, b) => a - b);
    assert.ok(took[2] < 400, `median ${took[2]} ms: run on the notification, not the 1 s timer (${took})`);
    assert.deepEqual(JSON.parse(await psql(db, `SELECT result FROM daz.job_results WHERE id = ${id}`)), { upper: 'HEY' });
});

test('emit queue completes on the server\'s queue broadcast and fails on queueFail', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    await startDazd(t, { db, srv, rooms: [{ channel: 'lobby' }] });
    await joined(srv, 'lobby');
    const ok = await psql(db, `SELECT daz.emit('lobby', 'queue', '{"id": "somechannel", "type": "tw", "pos": "end", "duration": 60}')`);
    await until(async () => (await jobState(db, ok)) === 'done', { label: 'queue emit done' });
    assert.deepEqual(JSON.parse(await psql(db, `SELECT result FROM daz.job_results WHERE id = ${ok}`)), { sent: 1, confirmed: true });
    assert.equal(srv.state('lobby').playlist.length, 1, 'queued on the server');

    const bad = await psql(db, `SELECT daz.emit('lobby', 'queue', '{"id": "dQw4w9WgXcQ", "type": "yt", "pos": "end"}')`);
    await until(async () => /^queueFail: /.test(await psql(db, `SELECT coalesce(last_error, '') FROM daz.jobs WHERE id = ${bad}`)), {
        label: 'queue emit failed with queueFail',
    });
    const malformed = await psql(db, `SELECT daz.enqueue('cytube', 'chat', '{"txt": "typo"}', 'lobby')`);
    await until(async () => (await jobState(db, malformed)) === 'dead', { label: 'malformed payload dead at once' });
    assert.equal(await psql(db, `SELECT reason FROM daz.dead_letters WHERE id = ${malformed}`), 'fatal');
});

test('dazd needs no more than the daz_daemon role: leases, claims, acks and run_jobs', async (t) => {
    const db = await scratchDb(t);
    const role = `dazd_ob_${process.pid}`;
    await psql('postgres', `CREATE ROLE ${role} LOGIN IN ROLE daz_daemon`);
    onCleanup(t, () => psql('postgres', `DROP ROLE IF EXISTS ${role}`));
    const srv = await fake(t);
    const conninfo = `host=${process.env.PGHOST} port=${process.env.PGPORT} dbname=${db} user=${role}`;
    const d = await startDazd(t, { db, srv, rooms: [{ channel: 'lobby' }], extra: { database: { conninfo } } });
    await joined(srv, 'lobby');
    assert.equal(await psql(db, `SELECT holder IS NOT NULL FROM daz.rooms WHERE room = 'lobby'`), 't', 'lease taken');
    const id = await psql(db, `SELECT daz.say('lobby', 'as daz_daemon')`);
    await until(async () => (await jobState(db, id)) === 'done', { label: 'say completed' });
    await psql(db, `CREATE FUNCTION public.t_noop(p_job daz.jobs) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$`);
    await psql(db, `GRANT EXECUTE ON FUNCTION public.t_noop(daz.jobs) TO daz_daemon`);
    const bot = await psql(db, `SELECT daz.enqueue('bot', 'noop', '{}', NULL, 0, now(), NULL, NULL, 'public.t_noop(daz.jobs)'::regprocedure)`);
    await until(async () => (await jobState(db, bot)) === 'done', { label: 'bot job run' });
    assert.doesNotMatch(d.log(), /permission denied/);
});
