// Process and HTTP plumbing for the console tests: free ports, starting and
// stopping `apogee standalone`, polling helpers.
'use strict';

const net = require('net');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');

function canBind(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

// A random high port with `extra` offsets (e.g. [-2, 1] for a broker's VIP
// and HA ports) free as well. Never one of RocketMQ's defaults.
async function freePort(extra = []) {
  for (let i = 0; i < 200; i++) {
    const p = 20000 + Math.floor(Math.random() * 30000);
    const all = [p, ...extra.map((d) => p + d)];
    let ok = true;
    for (const q of all) {
      if (!(await canBind(q))) { ok = false; break; }
    }
    if (ok) return p;
  }
  throw new Error('no free port found');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, timeoutMs = 20000, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
}

// opts.conf: extra broker.conf lines; opts.acl: a plain_acl.yml text
// (turns aclEnable on).
async function startApogee(bin, opts = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apogee-console-'));
  const ns = await freePort();
  const broker = await freePort([-2, 1]);
  const http = await freePort();
  const log = fs.openSync(path.join(dir, 'apogee.log'), 'w');
  // The build machine's disk may be fuller than the broker's limits allow;
  // the tests write a few megabytes.
  const conf = path.join(dir, 'broker.conf');
  let text = 'diskMaxUsedSpaceRatio=100\ndiskSpaceCleanForciblyRatio=100\ndiskSpaceWarningLevelRatio=100\n';
  if (opts.acl) {
    const acl = path.join(dir, 'plain_acl.yml');
    fs.writeFileSync(acl, opts.acl);
    text += `aclEnable=true\naclFilePath=${acl}\n`;
  }
  fs.writeFileSync(conf, text + (opts.conf || ''));
  const child = spawn(bin, ['standalone', '-c', conf,
    '--namesrv-listen', `127.0.0.1:${ns}`,
    '--broker-listen', `127.0.0.1:${broker}`,
    '--http-listen', `127.0.0.1:${http}`,
    '--data-dir', path.join(dir, 'data')], { stdio: ['ignore', log, log] });
  // Whatever happens to the test run, the server does not outlive it.
  process.on('exit', () => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const base = `http://127.0.0.1:${http}`;
  const apogee = {
    child, dir, base, namesrv: `127.0.0.1:${ns}`,
    logTail: () => fs.readFileSync(path.join(dir, 'apogee.log'), 'utf8').split('\n').slice(-30).join('\n'),
    stopped: false,
    async stop() {
      if (this.stopped) return;
      this.stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([new Promise((r) => child.once('exit', r)), sleep(10000)]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor('apogee /ready', async () => (await fetch(base + '/ready')).status === 200, 30000);
  } catch (e) {
    const tail = apogee.logTail();
    await apogee.stop();
    throw new Error(e.message + '\n' + tail);
  }
  return apogee;
}

// Runs a process to completion; rejects on a non-zero exit or a timeout.
function run(bin, args, timeoutMs = 60000) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${args[0]} timed out: ${out}`)); }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out); else reject(new Error(`${args.join(' ')} exited ${code}: ${out}`));
    });
  });
}

module.exports = { freePort, sleep, waitFor, startApogee, run };
