// outbound.mjs — helpers for the dazd outbound tests (on top of dazd.mjs): clean-ups that run
// last-in first-out (dazd stops before its database is dropped), the fake server with the bot's
// account, dazd with a generated config, job states, and polling on conditions.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startFakeCytube } from '../../fake-cytube/server.mjs';
import { psql as psqlRaw, root, dazdBin, waitFor } from './dazd.mjs';

export { root };
export const dazdPath = dazdBin;

/** Run SQL in db with psql; returns trimmed unaligned output (rows by newline, fields by |). */
export async function psql(db, sql) {
    return (await psqlRaw(db, sql)).trim();
}

/*
 * Clean-ups of a test run last-registered first (dazd stops before its database is dropped),
 * each even if another one failed.
 */
const stacks = new WeakMap();
export function onCleanup(t, fn) {
    let stack = stacks.get(t);
    if (!stack) {
        stack = [];
        stacks.set(t, stack);
        t.after(async () => {
            let first = null;
            while (stack.length) {
                try {
                    await stack.pop()();
                } catch (e) {
                    first ??= e;
                }
            }
            if (first) throw first;
        });
    }
    stack.push(fn);
}

/** A database copied from the migrated template ($PGDATABASE), dropped after the test. */
export async function scratchDb(t) {
    const template = process.env.PGDATABASE ?? 'daz';
    const db = `ob_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
    await psql('postgres', `CREATE DATABASE ${db} TEMPLATE ${template}`);
    onCleanup(t, () => psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`));
    return db;
}

/** waitFor (dazd.mjs) with named options: poll check() until it returns a truthy value. */
export function until(check, { timeoutMs = 10000, intervalMs = 50, label = 'a condition' } = {}) {
    return waitFor(check, timeoutMs, label, intervalMs);
}

/** The fake server with the given channels (all unregistered unless said), closed after the test. */
export async function fake(t, channels = { lobby: {} }, opts = {}) {
    const srv = await startFakeCytube({ channels, accounts: { DazBot: 'secret', ...(opts.accounts ?? {}) }, ...opts });
    onCleanup(t, () => srv.close());
    return srv;
}

/** Frames of one event the bot (user) sent in a channel. */
export function sent(srv, ch, event, user = 'DazBot') {
    return srv.getFrames(ch, { event }).filter((f) => f.user === user);
}

/**
 * Start dazd on db against the fake server. rooms: [{channel, name?, pacing?, username?}].
 * Returns {proc, log(), config, stop(sig), exited}. Stopped (SIGKILL if needed) after the test.
 */
export async function startDazd(t, { db, srv, rooms, worker = null, extra = {}, logLevel = 'debug' }) {
    const dir = await mkdtemp(path.join(tmpdir(), 'dazd-ob-'));
    const host = process.env.PGHOST ?? '/var/run/postgresql';
    const conninfo = `host=${host} port=${process.env.PGPORT ?? 5432} dbname=${db} user=${process.env.PGUSER ?? 'postgres'}`;
    const config = {
        database: { conninfo },
        http: { listen: 'off' },
        spool: { dir: path.join(dir, 'spool') },
        log: { level: logLevel },
        outbound: { poll_ms: 1000, confirm_ms: 2000 },
        lease_s: 5,
        ...(worker ? { worker: { name: worker } } : {}),
        ...extra,
        rooms: rooms.map((r) => ({ site: srv.url, username: 'DazBot', password: 'secret', ...r })),
    };
    const file = path.join(dir, 'dazd.json');
    await writeFile(file, JSON.stringify(config, null, 2));
    const proc = spawn(dazdPath, ['-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (b) => (out += b));
    proc.stderr.on('data', (b) => (out += b));
    const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
    let done = false;
    exited.then(() => (done = true));
    const d = {
        proc,
        config,
        file,
        exited,
        log: () => out,
        running: () => !done,
        async stop(sig = 'SIGTERM', timeoutMs = 10000) {
            if (done) return exited;
            proc.kill(sig);
            const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
            const r = await exited;
            clearTimeout(timer);
            return r;
        },
    };
    onCleanup(t, async () => {
        await d.stop('SIGKILL');
        if (process.env.DAZ_TEST_LOG) process.stderr.write(out);
        await rm(dir, { recursive: true, force: true });
    });
    return d;
}

/** Wait until the room is joined by the bot (the fake sees it logged in). */
export function joined(srv, ch, user = 'DazBot', timeoutMs = 10000) {
    return srv.waitFor(
        () => srv.state(ch)?.users?.some?.((u) => u.name === user),
        timeoutMs,
        `${user} in ${ch}`,
    );
}

/** Job state: 'ready'/'running' from daz.jobs, 'done' from daz.job_results, 'dead' from dead letters. */
export async function jobState(db, id) {
    return psql(
        db,
        `SELECT CASE WHEN EXISTS (SELECT 1 FROM daz.jobs WHERE id = ${id}) THEN (SELECT state FROM daz.jobs WHERE id = ${id})
                     WHEN EXISTS (SELECT 1 FROM daz.job_results WHERE id = ${id}) THEN 'done'
                     WHEN EXISTS (SELECT 1 FROM daz.dead_letters WHERE id = ${id}) THEN 'dead'
                     ELSE 'gone' END`,
    );
}

/** Wait until dazd LISTENs (a NOTIFY sent before that is lost, by PostgreSQL's design). */
export function listening(d, timeoutMs = 10000) {
    return until(() => /listening on daz_jobs and daz_control/.test(d.log()), { timeoutMs, label: 'dazd listening' });
}

/**
 * Hold daz.claim of cytube jobs in the database until release(): a trigger in db makes the claim's
 * UPDATE wait for an advisory lock that a psql session of the test holds. Lets a test have a
 * claim in flight at a moment of its choosing. Returns {release()}; released after the test too.
 */
export async function holdClaims(t, db, key = 7007) {
    await psql(
        db,
        `CREATE FUNCTION public.hold_claim() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_advisory_xact_lock_shared(${key}); RETURN NEW; END $$;
         CREATE TRIGGER hold_claim BEFORE UPDATE ON daz.jobs FOR EACH ROW
           WHEN (NEW.queue = 'cytube' AND NEW.state = 'running' AND OLD.state <> 'running')
           EXECUTE FUNCTION public.hold_claim()`,
    );
    const proc = spawn('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', db], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (b) => (out += b));
    proc.stderr.on('data', (b) => (out += b));
    const exited = new Promise((resolve) => proc.on('exit', resolve));
    proc.stdin.write(`SELECT pg_advisory_lock(${key});\nSELECT 'held';\n`);
    await until(() => out.includes('held'), { label: 'the advisory lock held' });
    let released = false;
    const release = async () => {
        if (released) return;
        released = true;
        proc.stdin.end(); // psql quits, its session ends, the lock goes
        await exited;
    };
    onCleanup(t, release);
    return { release };
}
