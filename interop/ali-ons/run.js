'use strict';
// The ali-ons interop suite: real third-party client code against a real
// Apogee. Each test file exports [name, fn] pairs.

const h = require('./harness');

async function main() {
  const tests = [];
  // INTEROP_ONLY=test_delivery (comma-separated) runs some files only.
  const only = process.env.INTEROP_ONLY ? process.env.INTEROP_ONLY.split(',') : null;
  for (const file of [ 'test_namesrv', 'test_broker', 'test_delivery', 'test_acl', 'test_failover' ]) {
    if (only && !only.includes(file)) continue;
    tests.push(...await require(`./${file}`)(h));
  }
  await h.run(tests);
}

main().catch(err => {
  console.error(err);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
