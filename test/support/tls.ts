// A throwaway PKI for tests, made with the real openssl: a CA, a server certificate it signs
// (for localhost and 127.0.0.1), and self-signed signing certificates (for registry tokens).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestPki {
  caFile: string;
  caKeyFile: string;
  certFile: string;
  keyFile: string;
}

function openssl(args: string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

// A self-signed certificate for 127.0.0.1, valid one day: `dir`/tls.key and `dir`/tls.crt.
export function makeSelfSignedCert(dir: string): { key: string; cert: string } {
  const args = ['-keyout', 'tls.key', '-out', 'tls.crt', '-days', '1', '-subj', '/CN=127.0.0.1'];
  openssl(['req', '-x509', ...ecKey, ...args, '-addext', 'subjectAltName=IP:127.0.0.1'], dir);
  return { key: join(dir, 'tls.key'), cert: join(dir, 'tls.crt') };
}

// Writes ca.pem/ca.key and server.pem/server.key into `dir`.
export function makeTestPki(
  dir: string,
  hosts: { dns: string[]; ip: string[] } = { dns: ['localhost'], ip: ['127.0.0.1'] },
): TestPki {
  openssl(
    [
      'req',
      '-x509',
      ...ecKey,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=buildfleet test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  openssl(
    ['req', ...ecKey, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=buildfleet test registry'],
    dir,
  );
  const san = [...hosts.dns.map((h) => `DNS:${h}`), ...hosts.ip.map((h) => `IP:${h}`)].join(',');
  writeFileSync(
    join(dir, 'server.ext'),
    [
      `subjectAltName=${san}`,
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '1',
      '-extfile',
      'server.ext',
    ],
    dir,
  );
  return {
    caFile: join(dir, 'ca.pem'),
    caKeyFile: join(dir, 'ca.key'),
    certFile: join(dir, 'server.pem'),
    keyFile: join(dir, 'server.key'),
  };
}

// A self-signed RSA certificate and key (RS256 token signing), `<name>.pem` and `<name>.key`.
export function makeSigningCert(dir: string, name: string): { certFile: string; keyFile: string } {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
    ],
    dir,
  );
  return { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) };
}

// A certificate's notAfter as unix seconds, according to openssl (not to Node).
export function opensslNotAfter(certFile: string): number {
  const line = execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-enddate'], { encoding: 'utf8' }).trim();
  return Math.floor(Date.parse(line.replace(/^notAfter=/, '')) / 1000);
}

// A server certificate from the same CA, for the same names, that expired in 2020 (only
// `openssl ca` can set past validity dates in OpenSSL 3.0). Needs makeTestPki(dir) first.
export function makeExpiredServerCert(dir: string): { certFile: string; keyFile: string } {
  writeFileSync(
    join(dir, 'ca.cnf'),
    [
      '[ ca ]',
      'default_ca = test_ca',
      '[ test_ca ]',
      'database = index.txt',
      'new_certs_dir = .',
      'serial = ca.srl',
      'default_md = sha256',
      'policy = any',
      'unique_subject = no',
      '[ any ]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'index.txt'), '');
  openssl(
    [
      'ca',
      '-batch',
      '-config',
      'ca.cnf',
      '-cert',
      'ca.pem',
      '-keyfile',
      'ca.key',
      '-in',
      'server.csr',
      '-out',
      'expired.pem',
      '-startdate',
      '20200101000000Z',
      '-enddate',
      '20200102000000Z',
      '-extfile',
      'server.ext',
      '-notext',
    ],
    dir,
  );
  return { certFile: join(dir, 'expired.pem'), keyFile: join(dir, 'server.key') };
}

// A client certificate (extendedKeyUsage clientAuth) signed by the CA of makeTestPki(dir):
// `<name>.pem` and `<name>.key`, for servers that require client certificates.
export function makeClientCert(dir: string, name: string): { certFile: string; keyFile: string } {
  openssl(['req', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
  writeFileSync(
    join(dir, `${name}.ext`),
    ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth', ''].join('\n'),
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
  return { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) };
}
