'use strict';
// The ali-ons interop suite: real third-party client code against a real
// Apogee. Each test file exports [name, fn] pairs.

const h = require('./harness');

async function main() {
  const tests = [];
  for (const file of [ './test_namesrv', './test_broker' ]) {
    tests.push(...await require(file)(h));
  }
  await h.run(tests);
}

main().catch(err => {
  console.error(err);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
