#!/usr/bin/env node
// cli.mjs — run the fake CyTube server as a process; prints one JSON line {"event":"listening",...} when ready.
//
// node tests/fake-cytube/cli.mjs --port N [--host 127.0.0.1] [--demo] [--tls-cert F --tls-key F]
//      [--control-port N] [--config options.json] [--account NAME:PASSWORD[:RANK]]...
//      [--ping-interval MS] [--ping-timeout MS]
// The control API listens on loopback (--control-port, default any free port). SIGINT/SIGTERM stop it.

import { parseArgs } from 'node:util';
import fs from 'node:fs';
import { startFakeCytube } from './server.mjs';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    demo: { type: 'boolean', default: false },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'control-port': { type: 'string', default: '0' },
    config: { type: 'string' },
    account: { type: 'string', multiple: true, default: [] },
    'ping-interval': { type: 'string' },
    'ping-timeout': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(fs.readFileSync(new URL(import.meta.url)).toString().split('\n').slice(1, 8).join('\n') + '\n');
  process.exit(0);
}

const options = values.config ? JSON.parse(fs.readFileSync(values.config, 'utf8')) : {};
options.port = Number(values.port);
options.host = values.host;
options.controlPort = Number(values['control-port']);
if (values.demo) options.demo = true;
if (values['tls-cert'] || values['tls-key']) {
  if (!values['tls-cert'] || !values['tls-key']) {
    process.stderr.write('fake-cytube: --tls-cert and --tls-key go together\n');
    process.exit(2);
  }
  options.tls = { cert: values['tls-cert'], key: values['tls-key'] };
}
if (values['ping-interval']) options.pingInterval = Number(values['ping-interval']);
if (values['ping-timeout']) options.pingTimeout = Number(values['ping-timeout']);
options.accounts = { ...(options.accounts ?? {}) };
for (const a of values.account) {
  const [name, password, rank] = a.split(':');
  if (!name || password === undefined) {
    process.stderr.write(`fake-cytube: bad --account "${a}" (want NAME:PASSWORD[:RANK])\n`);
    process.exit(2);
  }
  options.accounts[name] = { password, rank: rank === undefined ? 1 : Number(rank) };
}

let srv;
try {
  srv = await startFakeCytube(options);
} catch (e) {
  process.stderr.write(`fake-cytube: ${e.message}\n`);
  process.exit(1);
}
process.stdout.write(JSON.stringify({ event: 'listening', port: srv.port, url: srv.url, controlUrl: srv.controlUrl, demo: !!options.demo }) + '\n');

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await srv.close();
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
