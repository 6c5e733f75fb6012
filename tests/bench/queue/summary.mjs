// summary.mjs — turn one queue benchmark result file (JSON lines) into the markdown of docs/benchmarks.md.
import { readFileSync } from 'node:fs';

const rows = readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => JSON.parse(l));
// Phases run in rounds (the single path) appear once per round; `by` keeps the median round of each.
const all = {};
for (const r of rows) (all[r.phase] ??= []).push(r);
const median = (list) => {
    const ok = list.filter((r) => !r.error).sort((a, b) => a.jobs_s - b.jobs_s);
    return ok.length ? ok[Math.floor((ok.length - 1) / 2)] : list[0];
};
const by = Object.fromEntries(Object.entries(all).map(([k, list]) => [k, median(list)]));
const m = by.machine || {};
const fmt = (n) => (n == null ? 'n/a' : Number(n).toLocaleString('en-US'));
const cpu = (r) => (r.cpu_us_per_job == null ? 'n/a'
    : `${fmt(r.cpu_us_per_job)} µs (${fmt(Math.round((r.cpu_server_ms * 1000) / r.jobs))} + ${fmt(Math.round((r.cpu_client_ms * 1000) / r.jobs))})`);
const wal = (r) => (r.wal_bytes_per_job == null ? 'n/a' : `${fmt(r.wal_bytes_per_job)} B, ${r.wal_syncs_per_job}`);
const middle = (xs) => {
    const v = [...xs].sort((a, b) => a - b);
    return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
// CPU ratio: graphile-worker's CPU per job over daz's (above 1: daz needs less CPU per job).
const cpuRatio = (a, b) => (a?.cpu_us_per_job && b?.cpu_us_per_job ? (b.cpu_us_per_job / a.cpu_us_per_job).toFixed(2) + '×' : 'n/a');
const ratio = (a, b) => (a && b && a.jobs_s && b.jobs_s ? (a.jobs_s / b.jobs_s).toFixed(2) + '×' : 'n/a');

const lines = [];
lines.push(`Machine: ${m.nproc} cores, ${m.cpu}; PostgreSQL ${m.postgres} (fsync ${m.fsync}, shared_buffers ${m.shared_buffers}); ` +
           `Node ${m.node}; graphile-worker ${m.graphile_worker}; pg-boss ${m.pg_boss}.`);
lines.push('');
lines.push('| run | batch | jobs | workers | enqueue jobs/s | process time | process jobs/s | vs graphile default | vs graphile localQueue | vs pg-boss same batch | CPU per job (server + driver) | WAL per job, fsyncs per job |');
lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
const gd = by['graphile-default'];
const gl = by['graphile-localqueue'];
const gdRound = (r) => (all['graphile-default'] || []).find((g) => g.round === r && !g.error) || gd;
for (const name of ['daz-batch100', 'daz-single', 'daz-single-noresults', 'graphile-default',
                    'graphile-localqueue', 'pgboss-batch100', 'pgboss-single']) {
    for (const r of all[name] || []) {
        const label = r.round ? `${name} (round ${r.round})` : name;
        if (r.error) {
            lines.push(`| ${label} | | | | | error: ${r.error} | | | | | | |`);
            continue;
        }
        const boss = name.startsWith('daz') ? by[r.batch === 100 ? 'pgboss-batch100' : 'pgboss-single'] : null;
        lines.push(`| ${label} | ${r.batch ?? (name === 'graphile-localqueue' ? '100 (localQueue)' : '1')} | ${fmt(r.jobs)} | ${r.workers} | ` +
                   `${fmt(r.enqueue_jobs_s)} | ${(r.ms / 1000).toFixed(2)} s | **${fmt(r.jobs_s)}** | ${ratio(r, r.round ? gdRound(r.round) : gd)} | ` +
                   `${r.batch === 1 || name === 'graphile-default' ? '' : ratio(r, gl)} | ${boss ? ratio(r, boss) : ''} | ${cpu(r)} | ${wal(r)} |`);
    }
}
if ((all['daz-single'] || []).length > 1) {
    const singles = all['daz-single'].filter((r) => !r.error && gdRound(r.round)?.jobs_s);
    const perRound = singles.map((r) => r.jobs_s / gdRound(r.round).jobs_s);
    const cpuPerRound = singles.filter((r) => r.cpu_us_per_job && gdRound(r.round).cpu_us_per_job)
        .map((r) => gdRound(r.round).cpu_us_per_job / r.cpu_us_per_job);
    lines.push('');
    lines.push(`Single path, ${all['daz-single'].length} rounds (daz first in odd rounds, graphile-worker first in even ones): ` +
               `median daz ${fmt(by['daz-single'].jobs_s)} jobs/s, graphile-worker default ${fmt(gd?.jobs_s)}; ` +
               `ratio within each round ${singles.map((r) => ratio(r, gdRound(r.round))).join(', ')}, ` +
               `median **${perRound.length ? middle(perRound).toFixed(2) + '×' : 'n/a'}**; by CPU per job (graphile-worker's / daz's) ` +
               `${singles.map((r) => cpuRatio(r, gdRound(r.round))).join(', ')}, median ${cpuPerRound.length ? middle(cpuPerRound).toFixed(2) + '×' : 'n/a'}.`);
}
const l = by['daz-claim-latency'];
if (l && !l.error) {
    lines.push('');
    lines.push(`Claim latency with ${fmt(l.future)} jobs scheduled for later ` +
               `(at every priority) and ${fmt(l.dead)} dead letters present. Round trip: from the client over ` +
               `the unix socket, including the commit (an fsync). In server: inside the statement, no commit, no network.`);
    lines.push('');
    lines.push('| claim | samples | round trip p50 | round trip p99 | round trip max | in server p50 | in server p99 |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|');
    for (const [k, label] of [['claim1', 'daz.claim(.., 1)'], ['claim100', 'daz.claim(.., 100)'], ['claim1_rooms', 'daz.claim(.., 1, rooms)']]) {
        const x = l[k];
        if (x) lines.push(`| ${label} | ${x.samples} | ${x.p50_ms} ms | ${x.p99_ms} ms | ${x.max_ms} ms | ` +
                          `${x.server_p50_ms} ms | ${x.server_p99_ms} ms |`);
    }
    if (l.update_commit) {
        const u = l.update_commit;
        lines.push(`| reference: one-row UPDATE + commit | ${u.samples} | ${u.p50_ms} ms | ${u.p99_ms} ms | ${u.max_ms} ms | | |`);
    }
    lines.push('');
    lines.push('Plan of the priority-3 probe (every priority-3 job is in the future): `' + l.plan_priority3 + '`');
} else if (l) {
    lines.push(`claim latency: error: ${l.error}`);
}
console.log(lines.join('\n'));
