// summary.mjs — turn one queue benchmark result file (JSON lines) into the markdown of docs/benchmarks.md.
import { readFileSync } from 'node:fs';

const rows = readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const by = Object.fromEntries(rows.map((r) => [r.phase, r]));
const m = by.machine || {};
const fmt = (n) => (n == null ? 'n/a' : Number(n).toLocaleString('en-US'));
const ratio = (a, b) => (a && b && a.jobs_s && b.jobs_s ? (a.jobs_s / b.jobs_s).toFixed(2) + '×' : 'n/a');

const lines = [];
lines.push(`Machine: ${m.nproc} cores, ${m.cpu}; PostgreSQL ${m.postgres} (fsync ${m.fsync}, shared_buffers ${m.shared_buffers}); ` +
           `Node ${m.node}; graphile-worker ${m.graphile_worker}; pg-boss ${m.pg_boss}.`);
lines.push('');
lines.push('| run | batch | jobs | workers | enqueue jobs/s | process time | process jobs/s | vs graphile default | vs graphile localQueue | vs pg-boss same batch |');
lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
const gd = by['graphile-default'];
const gl = by['graphile-localqueue'];
for (const name of ['daz-batch100', 'daz-single', 'graphile-default', 'graphile-localqueue', 'pgboss-batch100', 'pgboss-single']) {
    const r = by[name];
    if (!r) continue;
    if (r.error) {
        lines.push(`| ${name} | | | | | error: ${r.error} | | | | |`);
        continue;
    }
    const boss = name.startsWith('daz') ? by[r.batch === 100 ? 'pgboss-batch100' : 'pgboss-single'] : null;
    lines.push(`| ${name} | ${r.batch ?? (name === 'graphile-localqueue' ? '100 (localQueue)' : '1')} | ${fmt(r.jobs)} | ${r.workers} | ` +
               `${fmt(r.enqueue_jobs_s)} | ${(r.ms / 1000).toFixed(2)} s | **${fmt(r.jobs_s)}** | ${ratio(r, gd)} | ` +
               `${ratio(r, gl)} | ${boss ? ratio(r, boss) : ''} |`);
}
const l = by['daz-claim-latency'];
if (l && !l.error) {
    lines.push('');
    lines.push(`Claim latency (client round trip over the unix socket) with ${fmt(l.future)} jobs scheduled for later ` +
               `(at every priority) and ${fmt(l.dead)} dead letters present:`);
    lines.push('');
    lines.push('| claim | samples | p50 | p99 | max |');
    lines.push('|---|---:|---:|---:|---:|');
    for (const [k, label] of [['claim1', 'daz.claim(.., 1)'], ['claim100', 'daz.claim(.., 100)'], ['claim1_rooms', 'daz.claim(.., 1, rooms)']]) {
        const x = l[k];
        if (x) lines.push(`| ${label} | ${x.samples} | ${x.p50_ms} ms | ${x.p99_ms} ms | ${x.max_ms} ms |`);
    }
    lines.push('');
    lines.push('Plan of the priority-3 probe (all 25,000 priority-3 jobs are in the future): `' + l.plan_priority3 + '`');
} else if (l) {
    lines.push(`claim latency: error: ${l.error}`);
}
console.log(lines.join('\n'));
