// bench.mjs — queue throughput and claim latency: daz vs graphile-worker vs pg-boss on one PostgreSQL.
//
// Run through tests/bench/queue/run, which starts a throwaway cluster, migrates it and exports
// PGHOST/PGPORT/PGUSER/PGDATABASE. Every phase is bounded by BENCH_PHASE_S seconds; a phase that
// runs out of time is reported as such, not hung on. Prints one JSON object per phase on stdout.
import { readFileSync, readdirSync } from 'node:fs';
import pg from 'pg';
import { run, makeWorkerUtils } from 'graphile-worker';
import { PgBoss } from 'pg-boss';

const JOBS = Number(process.env.BENCH_JOBS || 50000);
const WORKERS = Number(process.env.BENCH_WORKERS || 4);
const PHASE_S = Number(process.env.BENCH_PHASE_S || 300);
const FUTURE = Number(process.env.BENCH_FUTURE || 100000);
const DEAD = Number(process.env.BENCH_DEAD || 100000);
const SAMPLES = Number(process.env.BENCH_SAMPLES || 5000);
const ONLY = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',') : null;

const socketUrl = `postgres://${encodeURIComponent(process.env.PGUSER)}@/${encodeURIComponent(process.env.PGDATABASE)}` +
    `?host=${encodeURIComponent(process.env.PGHOST)}&port=${process.env.PGPORT}`;

const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function deadline(name) {
    const end = now() + PHASE_S * 1000;
    return () => {
        if (now() > end) throw new Error(`${name}: over the ${PHASE_S} s limit`);
    };
}

async function client() {
    const c = new pg.Client();
    await c.connect();
    return c;
}

// CPU time used so far by the whole cluster (postmaster, its live children, and the children it has
// reaped, which the kernel adds to its cutime/cstime) and by this process, in milliseconds. The
// difference over a drain, divided by its jobs, is the cost of a job in CPU: steadier than the
// wall clock when other work shares the machine.
const TICK_MS = 10;   // USER_HZ is 100 on Linux
let postmasterPid;
function statFields(pid) {
    const t = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return t.slice(t.lastIndexOf(')') + 2).split(' ');   // fields from 3 (state) on
}
async function cpuNow() {
    if (!postmasterPid) {
        const c = await client();
        const pid = (await c.query('SELECT pg_backend_pid() AS p')).rows[0].p;
        postmasterPid = Number(statFields(pid)[1]);
        await c.end();
    }
    let ticks = 0;
    const pm = statFields(postmasterPid);
    ticks += Number(pm[11]) + Number(pm[12]) + Number(pm[13]) + Number(pm[14]);
    for (const d of readdirSync('/proc')) {
        if (!/^[0-9]+$/.test(d)) continue;
        let f;
        try { f = statFields(d); } catch { continue; }
        if (Number(f[1]) === postmasterPid) ticks += Number(f[11]) + Number(f[12]);
    }
    const u = process.cpuUsage();
    const c = await client();
    const w = (await c.query(`SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn AS wal, wal_sync FROM pg_stat_wal`)).rows[0];
    await c.end();
    return { server_ms: ticks * TICK_MS, client_ms: (u.user + u.system) / 1000, wal: Number(w.wal), syncs: Number(w.wal_sync) };
}
function cpuSince(c0, c1, jobs) {
    const server = c1.server_ms - c0.server_ms;
    const clientMs = c1.client_ms - c0.client_ms;
    return { cpu_server_ms: Math.round(server), cpu_client_ms: Math.round(clientMs),
             cpu_us_per_job: Math.round(((server + clientMs) * 1000) / jobs),
             wal_bytes_per_job: Math.round((c1.wal - c0.wal) / jobs), wal_syncs_per_job: +((c1.syncs - c0.syncs) / jobs).toFixed(3) };
}

function report(o) {
    console.log(JSON.stringify(round ? { ...o, round } : o));
}

function pct(sorted, p) {
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// Before a timed drain: vacuum the whole database, so that the dead rows an earlier phase left
// (of any system) are not cleaned up by autovacuum inside this phase's window and charged to it,
// then checkpoint, so every phase starts from the same state of WAL and dirty buffers.
async function settle(c) {
    await c.query('VACUUM ANALYZE');
    await c.query('CHECKPOINT');
}

// ---------------------------------------------------------------- daz
async function dazReset(c) {
    await c.query(`TRUNCATE daz.jobs, daz.job_results, daz.dead_letters`);
    await c.query(`INSERT INTO daz.queues (name, comment) VALUES ('bench', 'benchmark queue') ON CONFLICT DO NOTHING`);
}

async function dazEnqueue(c, n, extra = {}) {
    const t0 = now();
    for (let done = 0; done < n; done += 1000) {
        const batch = [];
        for (let i = done; i < Math.min(n, done + 1000); i++) batch.push({ queue: 'bench', kind: 'noop', payload: { i }, ...extra });
        await c.query('SELECT daz.enqueue_many($1::jsonb)', [JSON.stringify(batch)]);
    }
    return now() - t0;
}

// settings: the bench queue's policy for this run (the defaults unless a phase says otherwise):
// retention of results in daz.job_results.
async function dazDrain(name, batch, settings = {}) {
    const admin = await client();
    await dazReset(admin);
    const retention = settings.retention ?? '1 day';
    await admin.query('UPDATE daz.queues SET retention = $1::interval WHERE name = $2', [retention, 'bench']);
    const enqueueMs = await dazEnqueue(admin, JOBS);
    await settle(admin);
    // Each worker claims on one connection and acknowledges on another without waiting for the
    // acknowledgement before its next claim: the way graphile-worker's runner works (it does not
    // await completeJob before fetching the next job), so both pipeline the same way.
    const clients = await Promise.all(Array.from({ length: WORKERS }, client));
    const ackers = await Promise.all(Array.from({ length: WORKERS }, client));
    const check = deadline(name);
    let handled = 0;
    const c0 = await cpuNow();
    const t0 = now();
    await Promise.all(clients.map(async (c, w) => {
        let acks = Promise.resolve();   // this worker's acknowledgements, one after another
        let pending = 0;
        for (;;) {
            check();
            // Named (prepared) statements, as graphile-worker uses by default.
            const r = await c.query({ name: 'claim', text: 'SELECT id FROM daz.claim($1, $2, $3)',
                                      values: ['bench', `w${w}`, batch] });
            if (r.rows.length === 0) break;
            // the no-op handler
            handled += r.rows.length;
            const ids = r.rows.map((x) => x.id);
            pending++;
            acks = acks.then(() => ackers[w].query({ name: 'complete', text: 'SELECT daz.complete($1::bigint[])',
                                                     values: [ids] })).finally(() => pending--);
            if (pending > 64) await acks;
        }
        await acks;
    }));
    const ms = now() - t0;
    const cpu = cpuSince(c0, await cpuNow(), JOBS);
    const left = (await admin.query(`SELECT count(*)::int AS n FROM daz.jobs`)).rows[0].n;
    const done = (await admin.query(`SELECT count(*)::int AS n FROM daz.job_results WHERE queue = 'bench'`)).rows[0].n;
    await Promise.all([...clients, ...ackers].map((c) => c.end()));
    await admin.query(`UPDATE daz.queues SET retention = DEFAULT WHERE name = 'bench'`);
    await admin.end();
    report({ phase: name, jobs: JOBS, workers: WORKERS, batch, retention, handled, completed: done, left,
             enqueue_ms: Math.round(enqueueMs), enqueue_jobs_s: Math.round(JOBS / (enqueueMs / 1000)),
             ms: Math.round(ms), jobs_s: Math.round(JOBS / (ms / 1000)), ...cpu });
}

async function dazLatency() {
    const c = await client();
    await dazReset(c);
    // 100k jobs scheduled for later, spread over all priorities (the highest above the runnable ones),
    // 100k dead letters, and enough runnable jobs for every sample.
    await c.query(`INSERT INTO daz.jobs (queue, kind, room, priority, run_at, max_attempts)
                   SELECT 'bench', 'future', 'room' || g % 8, (3 - g % 4)::smallint,
                          now() + interval '1 hour' + g * interval '10 ms', 5
                     FROM generate_series(1, $1::int) g`, [FUTURE]);
    await c.query(`INSERT INTO daz.dead_letters (id, queue, kind, room, payload, priority, run_at, attempts,
                                                 max_attempts, created_at, last_error, errors, reason)
                   SELECT -g, 'bench', 'noop', 'room1', '{}', 0, now(), 5, 5, now(), 'room offline', '[]', 'exhausted'
                     FROM generate_series(1, $1::int) g`, [DEAD]);
    await dazEnqueue(c, SAMPLES * 2, { room: 'room1' });
    await settle(c);
    const out = {};
    for (const [label, limit, rooms] of [['claim1', 1, null], ['claim100', 100, null], ['claim1_rooms', 1, ['room1', 'room2']]]) {
        const lat = [];
        const srv = [];
        const check = deadline('daz-latency');
        const n = label === 'claim100' ? Math.floor(SAMPLES / 100) : Math.floor(SAMPLES / 2);
        for (let i = 0; i < n; i++) {
            check();
            const t0 = now();
            // The aggregate is computed after the claim returned: its clock_timestamp() minus the
            // statement start is the server-side time of the claim (no commit, no network).
            const r = await c.query(`SELECT array_agg(id) AS ids,
                                            extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000 AS ms
                                       FROM daz.claim($1, $2, $3, $4)`, ['bench', 'lat', limit, rooms]);
            lat.push(now() - t0);
            srv.push(Number(r.rows[0].ms));
            if (!r.rows[0].ids) throw new Error('latency: ran out of runnable jobs');
            await c.query('SELECT daz.complete($1::bigint[])', [r.rows[0].ids]);
        }
        lat.sort((a, b) => a - b);
        srv.sort((a, b) => a - b);
        out[label] = { samples: n, p50_ms: +pct(lat, 50).toFixed(3), p99_ms: +pct(lat, 99).toFixed(3),
                       max_ms: +lat[lat.length - 1].toFixed(3),
                       server_p50_ms: +pct(srv, 50).toFixed(3), server_p99_ms: +pct(srv, 99).toFixed(3) };
    }
    // Reference: the round trip of a trivial one-row UPDATE and its commit on the same cluster,
    // i.e. what a commit (WAL flush) costs on this disk at this moment.
    await c.query('CREATE TABLE IF NOT EXISTS public.bench_ref (id int PRIMARY KEY, n int)');
    await c.query('INSERT INTO public.bench_ref VALUES (1, 0) ON CONFLICT DO NOTHING');
    const ref = [];
    for (let i = 0; i < Math.floor(SAMPLES / 2); i++) {
        const t0 = now();
        await c.query('UPDATE public.bench_ref SET n = n + 1 WHERE id = 1');
        ref.push(now() - t0);
    }
    ref.sort((a, b) => a - b);
    out.update_commit = { samples: ref.length, p50_ms: +pct(ref, 50).toFixed(3), p99_ms: +pct(ref, 99).toFixed(3),
                          max_ms: +ref[ref.length - 1].toFixed(3) };
    await c.query('DROP TABLE public.bench_ref');
    const plan = (await c.query(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
        SELECT j.id FROM daz.jobs j WHERE hashtext(j.queue) = hashtext('bench') AND j.queue = 'bench'
           AND j.state = 'ready' AND j.priority = 3 AND j.run_at <= now()
         ORDER BY j.run_at, j.id LIMIT 1 FOR UPDATE SKIP LOCKED`)).rows.map((r) => r['QUERY PLAN']);
    await c.query(`TRUNCATE daz.jobs, daz.job_results, daz.dead_letters`);
    await c.end();
    report({ phase: 'daz-claim-latency', future: FUTURE, dead: DEAD, ...out, plan_priority3: plan.join(' | ') });
}

// ---------------------------------------------------------------- graphile-worker
async function graphile(name, preset) {
    const utils = await makeWorkerUtils({ connectionString: socketUrl });
    await utils.migrate();
    const admin = await client();
    await admin.query('DELETE FROM graphile_worker._private_jobs');
    const t0e = now();
    for (let done = 0; done < JOBS; done += 1000) {
        const specs = [];
        for (let i = done; i < Math.min(JOBS, done + 1000); i++) specs.push({ identifier: 'noop', payload: { i } });
        await utils.addJobs(specs);
    }
    const enqueueMs = now() - t0e;
    await settle(admin);
    // The drain ends when the task has run JOBS times and the table is empty (the last completions
    // committed). Polling the table all along would take CPU from the runner on this 2-core box,
    // so it is polled only once the last job has been handed to the task.
    let handled = 0;
    let allHandled;
    const lastHandled = new Promise((resolve) => { allHandled = resolve; });
    const check = deadline(name);
    const c0 = await cpuNow();
    const t0 = now();
    const runner = await run({
        connectionString: socketUrl,
        concurrency: WORKERS,
        noHandleSignals: true,
        pollInterval: 1000,
        logger: new (await import('graphile-worker')).Logger(() => () => {}),
        taskList: { noop: async () => { if (++handled === JOBS) allHandled(); } },
        preset,
    });
    while (handled < JOBS) {
        check();
        await Promise.race([lastHandled, sleep(1000)]);
    }
    let left;
    for (;;) {
        left = (await admin.query('SELECT count(*)::int AS n FROM graphile_worker._private_jobs')).rows[0].n;
        if (left === 0) break;
        check();
        await sleep(2);
    }
    const ms = now() - t0;
    const cpu = cpuSince(c0, await cpuNow(), JOBS);
    await runner.stop();
    await utils.release();
    await admin.end();
    report({ phase: name, jobs: JOBS, workers: WORKERS, handled, left,
             enqueue_ms: Math.round(enqueueMs), enqueue_jobs_s: Math.round(JOBS / (enqueueMs / 1000)),
             ms: Math.round(ms), jobs_s: Math.round(JOBS / (ms / 1000)), ...cpu });
}

// ---------------------------------------------------------------- pg-boss
async function pgboss(name, batch) {
    const boss = new PgBoss({ host: process.env.PGHOST, port: Number(process.env.PGPORT), user: process.env.PGUSER,
                              database: process.env.PGDATABASE, max: 2 * WORKERS + 2, schedule: false, supervise: false });
    boss.on('error', (e) => console.error(`pg-boss: ${e.message}`));
    await boss.start();
    const q = 'bench';
    await boss.deleteQueue(q).catch(() => {});
    await boss.createQueue(q);
    const t0e = now();
    for (let done = 0; done < JOBS; done += 1000) {
        const jobs = [];
        for (let i = done; i < Math.min(JOBS, done + 1000); i++) jobs.push({ data: { i } });
        await boss.insert(q, jobs);
    }
    const enqueueMs = now() - t0e;
    const admin = await client();
    await settle(admin);
    await admin.end();
    const check = deadline(name);
    let handled = 0;
    const c0 = await cpuNow();
    const t0 = now();
    await Promise.all(Array.from({ length: WORKERS }, async () => {
        const acks = [];
        for (;;) {
            check();
            const jobs = await boss.fetch(q, { batchSize: batch });
            if (!jobs || jobs.length === 0) break;
            handled += jobs.length;
            acks.push(boss.complete(q, jobs.map((j) => j.id)));   // not awaited before the next fetch
            if (acks.length > 64) await Promise.all(acks.splice(0));
        }
        await Promise.all(acks);
    }));
    const ms = now() - t0;
    const cpu = cpuSince(c0, await cpuNow(), JOBS);
    const stats = await boss.getQueueStats?.(q).catch(() => null);
    await boss.deleteQueue(q).catch(() => {});
    await boss.stop({ graceful: false, wait: true });
    report({ phase: name, jobs: JOBS, workers: WORKERS, batch, handled,
             left: stats ? stats.queuedCount ?? null : null,
             enqueue_ms: Math.round(enqueueMs), enqueue_jobs_s: Math.round(JOBS / (enqueueMs / 1000)),
             ms: Math.round(ms), jobs_s: Math.round(JOBS / (ms / 1000)), ...cpu });
}

// The single path is compared in rounds: each round runs daz and graphile-worker's default back to
// back, so the ratio within a round sees the same machine; the order alternates from round to round
// (daz first in odd rounds), so that whatever the second run of a pair inherits from the first
// (warm caches, autovacuum's timing, a neighbour's load) does not always favour the same system.
const ROUNDS = Number(process.env.BENCH_ROUNDS || 2);
const phases = [['daz-batch100', () => dazDrain('daz-batch100', 100)]];
for (let r = 1; r <= ROUNDS; r++) {
    const pair = [['daz-single', () => dazDrain('daz-single', 1), r],
                  ['graphile-default', () => graphile('graphile-default', undefined), r]];
    phases.push(...(r % 2 ? pair : pair.reverse()));
}
phases.push(
    ['daz-single-noresults', () => dazDrain('daz-single-noresults', 1, { retention: '0' })],
    ['graphile-localqueue', () => graphile('graphile-localqueue',
        { worker: { localQueue: { size: 100 }, completeJobBatchDelay: 0 } })],
    ['pgboss-batch100', () => pgboss('pgboss-batch100', 100)],
    ['pgboss-single', () => pgboss('pgboss-single', 1)],
    ['daz-claim-latency', () => dazLatency()],
);

let round;
for (const [name, fn, r] of phases) {
    if (ONLY && !ONLY.includes(name)) continue;
    round = r;
    try {
        await fn();
    } catch (e) {
        report({ phase: name, error: String(e && e.message || e) });
    }
}
process.exit(0);
