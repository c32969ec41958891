'use strict';
// A tiny test harness: starts Apogee processes on free loopback ports, runs
// named async tests one after another with a timeout each, and prints
// "N passed, M failed" as its last line.

const net = require('net');
const { spawn, execFile } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const bin = process.env.APOGEE_BIN;
if (!bin || !fs.existsSync(bin)) {
  console.error(`APOGEE_BIN must point at the apogee binary (got ${bin})`);
  process.exit(2);
}

const children = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// A free port p such that p - 2 is free as well (a broker also serves p - 2).
async function freeBrokerPort() {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p > 1100 && await isFree(p - 2)) return p;
  }
  throw new Error('no free broker port pair found');
}

function isFree(port) {
  return new Promise(resolve => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function canConnect(port) {
  return new Promise(resolve => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

// Starts `apogee ARGS...`, logs to a file, and waits until `port` accepts.
async function startApogee(args, port, name) {
  const logFile = path.join(os.tmpdir(), `apogee-interop-${name}-${process.pid}.log`);
  const out = fs.openSync(logFile, 'w');
  const child = spawn(bin, args, { stdio: [ 'ignore', out, out ], env: Object.assign({ RUST_LOG: 'info' }, process.env) });
  children.push(child);
  let exited = null;
  child.on('exit', code => { exited = code; });
  const t0 = Date.now();
  while (!(await canConnect(port))) {
    if (exited !== null) throw new Error(`apogee ${args.join(' ')} exited with ${exited}; see ${logFile}`);
    if (Date.now() - t0 > 15000) throw new Error(`apogee did not listen on ${port} within 15 s; see ${logFile}`);
    await sleep(20);
  }
  return { child, logFile, startMs: Date.now() - t0 };
}

function stopAll() {
  for (const c of children) {
    try { c.kill('SIGTERM'); } catch (e) { /* already gone */ }
  }
}
process.on('exit', stopAll);

function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

function assertEq(actual, expected, msg) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${msg}: expected ${e}, got ${a}`);
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

// Runs [name, fn] pairs (or [name, fn, timeoutMs] for a test that needs more
// than the default); prints a line per test and the summary line.
async function run(tests, { timeoutMs = 60000 } = {}) {
  let passed = 0;
  let failed = 0;
  for (const [ name, fn, ms ] of tests) {
    const t0 = Date.now();
    try {
      await withTimeout(fn(), ms || timeoutMs, name);
      passed++;
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (err) {
      failed++;
      console.log(`FAIL ${name} (${Date.now() - t0} ms): ${err && err.stack || err}`);
    }
  }
  stopAll();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

// Runs `apogee ARGS...` to completion; resolves with its stdout (rejects
// with its stderr when it fails).
function apogee(args, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`apogee ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

module.exports = { apogee, freePort, freeBrokerPort, startApogee, sleep, assert, assertEq, run, withTimeout };
