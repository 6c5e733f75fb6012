// outbound-control.test.mjs — daz_control (pause/resume, reload, shutdown), the SQL job worker, and
// emit jobs answered by the server (queue / queueFail).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { psql, scratchDb, fake, startDazd, joined, until, jobState } from './lib/outbound.mjs';

const botLines = (srv, ch = 'lobby') => srv.chatLog(ch).filter((l) => l.username === 'DazBot').map((l) => l.msg);

test('daz_control pause stops a room\'s sending and resume sends what waited', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    const d = await startDazd(t, { db, srv, rooms: [{ channel: 'lobby' }] });
    await joined(srv, 'lobby');
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
    await startDazd(t, { db, srv, rooms: [{ channel: 'lobby' }] });
    await joined(srv, 'lobby');
    const t0 = Date.now();
    const id = await psql(db, `SELECT daz.enqueue('bot', 'shout', '{"text": "hey"}', NULL, 0, now(), NULL, NULL,
                                                  'public.t_upper(daz.jobs)'::regprocedure)`);
    await until(async () => (await jobState(db, id)) === 'done', { timeoutMs: 5000, intervalMs: 20, label: 'bot job done' });
    assert.ok(Date.now() - t0 < 900, `run without waiting for the 1 s timer (${Date.now() - t0} ms)`);
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
