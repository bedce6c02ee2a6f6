// Host profiles: stock and build-host layouts as a new user would install the agent on them,
// each with the decision it must get (issue 11). in-namespace.ts builds one inside a private
// mount namespace (tmpfs over /home, /var/lib and /srv, a passwd file bound over /etc/passwd),
// never touching the machine's own files; profiles.test.ts runs them and compares.

// A path is created with this owner and mode; `link` makes a symbolic link instead.
export interface Entry {
  path: string;
  kind: 'dir' | 'file' | 'link';
  uid?: number;
  gid?: number;
  mode?: number;
  // file: a fixture from test/fixtures/bolt (by name), 'sqlite' (a healthy SQLite cache) or '' (empty)
  content?: string;
  target?: string; // link
}

export interface Expected {
  decision: 'accept' | 'refuse';
  // Reason codes of /v1/preflight (check --json), in order; [] is "no reasons".
  reasons: string[];
  blobinfocache: 'ok' | 'warning' | 'critical' | 'unknown';
}

export interface Profile {
  name: string;
  what: string;
  passwd: string[]; // /etc/passwd lines
  nssOnly?: string[]; // passwd lines only NSS knows (libnss-extrausers), not /etc/passwd
  entries: Entry[];
  config?: string; // YAML for /etc/buildfleet-agent/config.yaml; absent: built-in defaults
  expect: Expected;
  // Then `cache quarantine --json`, and `check --json` again.
  quarantine?: { moved: string[]; untouched: string[]; after: Expected };
  oldNode?: boolean; // run by the system's old Node.js: one line, exit 2, nothing else
}

const centos7 = [
  'root:x:0:0:root:/root:/bin/bash',
  'bin:x:1:1:bin:/bin:/sbin/nologin',
  'daemon:x:2:2:daemon:/sbin:/sbin/nologin',
  'adm:x:3:4:adm:/var/adm:/sbin/nologin',
  'lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin',
  'sync:x:5:0:sync:/sbin:/bin/sync',
  'shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown',
  'halt:x:7:0:halt:/sbin:/sbin/halt',
  'mail:x:8:12:mail:/var/spool/mail:/sbin/nologin',
  'operator:x:11:0:operator:/root:/sbin/nologin',
  'games:x:12:100:games:/usr/games:/sbin/nologin',
  'ftp:x:14:50:FTP User:/var/ftp:/sbin/nologin',
  'nobody:x:99:99:Nobody:/:/sbin/nologin',
  'systemd-network:x:192:192:systemd Network Management:/:/sbin/nologin',
  'dbus:x:81:81:System message bus:/:/sbin/nologin',
  'polkitd:x:999:998:User for polkitd:/:/sbin/nologin',
  'sshd:x:74:74:Privilege-separated SSH:/var/empty/sshd:/sbin/nologin',
  'postfix:x:89:89::/var/spool/postfix:/sbin/nologin',
  'chrony:x:998:996::/var/lib/chrony:/sbin/nologin',
];

const rocky9 = [
  'root:x:0:0:Super User:/root:/bin/bash',
  'bin:x:1:1:bin:/bin:/usr/sbin/nologin',
  'daemon:x:2:2:daemon:/sbin:/usr/sbin/nologin',
  'adm:x:3:4:adm:/var/adm:/usr/sbin/nologin',
  'lp:x:4:7:lp:/var/spool/lpd:/usr/sbin/nologin',
  'sync:x:5:0:sync:/sbin:/bin/sync',
  'shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown',
  'halt:x:7:0:halt:/sbin:/sbin/halt',
  'mail:x:8:12:mail:/var/spool/mail:/usr/sbin/nologin',
  'operator:x:11:0:operator:/root:/usr/sbin/nologin',
  'games:x:12:100:games:/usr/games:/usr/sbin/nologin',
  'ftp:x:14:50:FTP User:/var/ftp:/usr/sbin/nologin',
  'nobody:x:65534:65534:Kernel Overflow User:/:/usr/sbin/nologin',
  'systemd-coredump:x:999:997:systemd Core Dumper:/:/usr/sbin/nologin',
  'dbus:x:81:81:System message bus:/:/usr/sbin/nologin',
  'tss:x:59:59:Account used for TPM access:/dev/null:/sbin/nologin',
  'sssd:x:998:996:User for sssd:/:/sbin/nologin',
  'chrony:x:997:995:chrony system user:/var/lib/chrony:/sbin/nologin',
  'sshd:x:74:74:Privilege-separated SSH:/usr/share/empty.sshd:/usr/sbin/nologin',
  'containers:x:996:994:User for housing the sub ID range for containers:/var/lib/containers:/sbin/nologin',
];

// What every build host has once skopeo is installed: the system storage directory.
const storage: Entry[] = [{ path: '/var/lib/containers', kind: 'dir', uid: 0, mode: 0o755 }];

const builders = [
  'jenkins:x:1001:1001:Jenkins:/var/lib/jenkins:/bin/bash',
  'gitlab-runner:x:1002:1002:GitLab Runner:/home/gitlab-runner:/bin/bash',
];

const userCache = (home: string, uid: number): Entry[] => [
  { path: home, kind: 'dir', uid, gid: uid, mode: 0o750 },
  { path: `${home}/.local`, kind: 'dir', uid, gid: uid, mode: 0o755 },
  { path: `${home}/.local/share`, kind: 'dir', uid, gid: uid, mode: 0o755 },
  { path: `${home}/.local/share/containers`, kind: 'dir', uid, gid: uid, mode: 0o700 },
  { path: `${home}/.local/share/containers/cache`, kind: 'dir', uid, gid: uid, mode: 0o700 },
];

// A cache file in a user's home, owned by the user with mode 0600, as skopeo writes it.
const userCacheFile = (home: string, uid: number, name: string, content: string): Entry => ({
  path: `${home}/.local/share/containers/cache/${name}`,
  kind: 'file',
  uid,
  gid: uid,
  mode: 0o600,
  content,
});

const healthyBolt = 'skopeo-1.9.3-healthy.boltdb';
const corruptBolt = 'skopeo-1.9.3-bucket-root-is-freelist.boltdb';
const accepted: Expected = { decision: 'accept', reasons: [], blobinfocache: 'ok' };

export const profiles: Profile[] = [
  {
    name: 'centos7-stock',
    what: "CentOS 7's stock passwd (bin:/bin, daemon:/sbin, ... with /bin -> usr/bin), no caches",
    passwd: centos7,
    entries: storage,
    expect: accepted,
  },
  {
    name: 'rocky9-stock',
    what: 'Rocky 8/9 passwd (containers:/var/lib/containers, tss:/dev/null), no caches',
    passwd: rocky9,
    entries: storage,
    expect: accepted,
  },
  {
    name: 'builders-healthy',
    what: 'jenkins at /var/lib/jenkins (healthy bolt) and gitlab-runner in /home (healthy bolt, an orphan SQLite)',
    passwd: [...centos7, ...builders],
    entries: [
      ...storage,
      ...userCache('/var/lib/jenkins', 1001),
      userCacheFile('/var/lib/jenkins', 1001, 'blob-info-cache-v1.boltdb', healthyBolt),
      ...userCache('/home/gitlab-runner', 1002),
      userCacheFile('/home/gitlab-runner', 1002, 'blob-info-cache-v1.boltdb', healthyBolt),
      userCacheFile('/home/gitlab-runner', 1002, 'blob-info-cache-v1.sqlite', 'sqlite'),
    ],
    expect: accepted,
  },
  {
    name: 'builders-corrupt',
    what: "gitlab-runner's bolt cache corrupt (skopeo 1.9.3 panics on it); moved aside, owner kept",
    passwd: [...centos7, ...builders],
    entries: [
      ...storage,
      ...userCache('/var/lib/jenkins', 1001),
      userCacheFile('/var/lib/jenkins', 1001, 'blob-info-cache-v1.boltdb', healthyBolt),
      ...userCache('/home/gitlab-runner', 1002),
      userCacheFile('/home/gitlab-runner', 1002, 'blob-info-cache-v1.boltdb', corruptBolt),
    ],
    expect: { decision: 'refuse', reasons: ['cache-corrupt'], blobinfocache: 'critical' },
    quarantine: {
      moved: ['/home/gitlab-runner/.local/share/containers/cache/blob-info-cache-v1.boltdb'],
      untouched: ['/var/lib/jenkins/.local/share/containers/cache/blob-info-cache-v1.boltdb'],
      after: accepted,
    },
  },
  {
    name: 'storage-on-data-disk',
    what: "root's storage moved to a data disk by root's link (/var/lib/containers -> /srv/data/containers), a corrupt cache behind it",
    passwd: centos7,
    entries: [
      { path: '/srv/data', kind: 'dir', uid: 0, mode: 0o755 },
      { path: '/srv/data/containers', kind: 'dir', uid: 0, mode: 0o700 },
      { path: '/srv/data/containers/cache', kind: 'dir', uid: 0, mode: 0o700 },
      {
        path: '/srv/data/containers/cache/blob-info-cache-v1.boltdb',
        kind: 'file',
        uid: 0,
        mode: 0o600,
        content: corruptBolt,
      },
      { path: '/var/lib/containers', kind: 'link', target: '/srv/data/containers' },
    ],
    expect: { decision: 'refuse', reasons: ['cache-corrupt'], blobinfocache: 'critical' },
    quarantine: { moved: ['/srv/data/containers/cache/blob-info-cache-v1.boltdb'], untouched: [], after: accepted },
  },
  {
    name: 'user-link-to-root-only-file',
    what: "mallory's ~/.local/share/containers/cache is her own link to a root-only directory holding a corrupt cache",
    passwd: [...centos7, 'mallory:x:3000:3000::/home/mallory:/bin/bash'],
    entries: [
      ...storage,
      { path: '/srv/secret', kind: 'dir', uid: 0, mode: 0o700 },
      { path: '/srv/secret/blob-info-cache-v1.boltdb', kind: 'file', uid: 0, mode: 0o600, content: corruptBolt },
      { path: '/home/mallory', kind: 'dir', uid: 3000, gid: 3000, mode: 0o750 },
      { path: '/home/mallory/.local', kind: 'dir', uid: 3000, gid: 3000, mode: 0o755 },
      { path: '/home/mallory/.local/share', kind: 'dir', uid: 3000, gid: 3000, mode: 0o755 },
      { path: '/home/mallory/.local/share/containers', kind: 'dir', uid: 3000, gid: 3000, mode: 0o700 },
      {
        path: '/home/mallory/.local/share/containers/cache',
        kind: 'link',
        uid: 3000,
        gid: 3000,
        target: '/srv/secret',
      },
    ],
    // Never read with root's rights: mallory herself cannot reach it, so it is no cache of hers.
    expect: accepted,
    quarantine: { moved: [], untouched: ['/srv/secret/blob-info-cache-v1.boltdb'], after: accepted },
  },
  {
    name: 'users-only-in-nss',
    what: 'a build user only NSS knows (libnss-extrausers, like SSSD/LDAP), with a corrupt cache',
    passwd: centos7,
    nssOnly: ['ldapbuild:x:5000:5000:LDAP build user:/home/ldapbuild:/bin/bash'],
    entries: [
      ...storage,
      ...userCache('/home/ldapbuild', 5000),
      userCacheFile('/home/ldapbuild', 5000, 'blob-info-cache-v1.boltdb', corruptBolt),
    ],
    expect: { decision: 'refuse', reasons: ['cache-corrupt'], blobinfocache: 'critical' },
  },
  {
    name: 'build-users-only',
    what: 'buildUsers: [jenkins]: a corrupt cache of another user is a warning, not a refusal',
    passwd: [...centos7, ...builders],
    config: 'checks:\n  blobinfocache:\n    buildUsers: [jenkins]\n',
    entries: [
      ...storage,
      ...userCache('/home/gitlab-runner', 1002),
      userCacheFile('/home/gitlab-runner', 1002, 'blob-info-cache-v1.boltdb', corruptBolt),
    ],
    expect: { decision: 'accept', reasons: [], blobinfocache: 'warning' },
  },
  {
    name: 'old-node',
    what: 'the agent started by the system Node.js (20 here, 18 on Debian): one line, exit 2, nothing judged',
    passwd: centos7,
    entries: [
      ...storage,
      { path: '/var/lib/containers/cache', kind: 'dir', uid: 0, mode: 0o700 },
      {
        path: '/var/lib/containers/cache/blob-info-cache-v1.boltdb',
        kind: 'file',
        uid: 0,
        mode: 0o600,
        content: healthyBolt,
      },
    ],
    expect: { decision: 'refuse', reasons: [], blobinfocache: 'unknown' },
    oldNode: true,
  },
];
