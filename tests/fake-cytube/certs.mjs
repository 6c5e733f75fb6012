// certs.mjs — test TLS material for the fake CyTube server: a throwaway CA and a server certificate, made with openssl.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Create in `dir` a test CA (ca.crt, ca.key) and a server certificate signed by it
 * (<name>.crt, <name>.key) whose subjectAltName lists `hosts` (IP addresses and DNS names).
 * Use hosts that do not include 127.0.0.1 to test host-name verification failures, or two
 * calls with different dirs to get a certificate from an untrusted CA.
 * Returns absolute paths {dir, caCert, caKey, cert, key}.
 */
export function makeTestCerts(dir, { hosts = ['127.0.0.1', '::1', 'localhost'], days = 2, name = 'server' } = {}) {
  fs.mkdirSync(dir, { recursive: true });
  const p = (f) => path.resolve(dir, f);
  const run = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  if (!fs.existsSync(p('ca.crt'))) {
    run('req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', String(days),
      '-subj', '/CN=Daz test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  }
  run('req', ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${hosts[0]}`);
  const san = hosts.map((h) => (/^[\d.]+$/.test(h) || h.includes(':') ? `IP:${h}` : `DNS:${h}`)).join(',');
  fs.writeFileSync(p(`${name}.ext`),
    `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`);
  run('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial',
    '-out', p(`${name}.crt`), '-days', String(days), '-extfile', p(`${name}.ext`));
  return { dir: path.resolve(dir), caCert: p('ca.crt'), caKey: p('ca.key'), cert: p(`${name}.crt`), key: p(`${name}.key`) };
}
