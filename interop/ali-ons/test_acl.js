'use strict';
// ACL 1.0 with ali-ons' own signing (accessKeyId / accessKeySecret; it signs
// every request's header fields, OnsChannel and body): a standalone with
// aclEnable=true and a plain_acl.yml holding a PUB-only account, a SUB-only
// account and an admin account (which the broker signs its own calls with).

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { Message } = require('ali-ons');

// The accounts of every security test (brokerAdmin, operator, publisher,
// subscriber), shared with the Rust suites.
const ACL = fs.readFileSync(path.join(__dirname, '..', '..', 'crates', 'testkit', 'fixtures', 'plain_acl.yml'), 'utf8');

module.exports = async h => {
  const nsPort = await h.freePort();
  const brokerPort = await h.freeBrokerPort();
  const nameSrv = `127.0.0.1:${nsPort}`;
  const brokerAddr = `127.0.0.1:${brokerPort}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'apogee-interop-acl-'));
  const aclFile = path.join(dataDir, 'plain_acl.yml');
  const conf = path.join(dataDir, 'broker.conf');
  const { uniq, waitUntil, collector, withClients, sendN, expectExactly, range } =
    require('./clients')(h, nameSrv, brokerAddr);
  const keys = (ak, sk) => ({ options: { accessKeyId: ak, accessKeySecret: sk } });

  // Topics are created by the admin account through `apogee admin` (ali-ons
  // cannot create topics, and the unsigned auto-create trick is refused).
  function createTopic(topic, ak = 'brokerAdmin', sk = 'broker-admin-secret') {
    return execFileSync(process.env.APOGEE_BIN, [ 'admin', 'updateTopic', '-t', topic, '-c', 'DefaultCluster',
      '-r', '4', '-w', '4', '-n', nameSrv, '--access-key', ak, '--secret-key', sk ], { encoding: 'utf8', stdio: 'pipe' });
  }

  return [
    [ 'acl: standalone with aclEnable starts', async () => {
      fs.writeFileSync(aclFile, ACL);
      fs.writeFileSync(conf, `aclEnable=true\naclFilePath=${aclFile}\naccessKey=brokerAdmin\nsecretKey=broker-admin-secret\n` +
        'diskMaxUsedSpaceRatio=99\ndiskSpaceWarningLevelRatio=99\ndiskSpaceCleanForciblyRatio=99\n');
      const started = await h.startApogee([ 'standalone', '--namesrv-listen', nameSrv, '--broker-listen', brokerAddr,
        '--grpc-listen', '127.0.0.1:0', '--data-dir', dataDir, '--no-http', '-c', conf ], brokerPort, 'standalone-acl');
      console.log(`     (log ${started.logFile})`);
    } ],

    [ 'acl: only the admin account creates topics', async () => {
      let err = null;
      try {
        createTopic(uniq('AclDenied'), 'publisher', 'pub-secret');
      } catch (e) {
        err = `${e.stdout}${e.stderr}`;
      }
      h.assert(err && err.includes('Need admin permission') && err.includes('publisher'), `publisher created a topic: ${err}`);
      createTopic(uniq('AclAllowed'));
    } ],

    [ 'acl: a PUB account sends and a SUB account consumes', async () => {
      const topic = uniq('AclTopic');
      createTopic(topic);
      await withClients(async ctx => {
        const p = await ctx.producerWith(keys('publisher', 'pub-secret'));
        await sendN(p, topic, 10, 'acl');
        const col = collector('subscriber');
        ctx.consumer(uniq('AclCG'), col.handler, Object.assign({ topic }, keys('subscriber', 'sub-secret')));
        await expectExactly(col, range('acl', 10));
      });
    } ],

    [ 'acl: a SUB-only account cannot send', async () => {
      const topic = uniq('AclTopic');
      createTopic(topic);
      await withClients(async ctx => {
        const p = await ctx.producerWith(keys('subscriber', 'sub-secret'));
        const err = await p.send(new Message(topic, 'T', 'x')).then(() => null, e => e);
        // ali-ons retries and reports "Send [4] times, still failed" without the broker's remark.
        h.assert(err && /No PUB permission|still failed/.test(err.message), `send by a SUB account: ${err && err.message}`);
      });
    } ],

    [ 'acl: a PUB-only account cannot consume', async () => {
      const topic = uniq('AclTopic');
      createTopic(topic);
      await withClients(async ctx => {
        const p = await ctx.producerWith(keys('publisher', 'pub-secret'));
        await sendN(p, topic, 3, 'pub');
        const col = collector('publisher as consumer');
        ctx.consumer(uniq('AclCG'), col.handler, Object.assign({ topic }, keys('publisher', 'pub-secret')));
        const said = () => [ ...ctx.errors, ...ctx.log() ].join('\n');
        await waitUntil(() => said().includes('No SUB permission'), 20000,
          () => `the client to report the refusal (it said: ${said().slice(-500)})`);
        h.assertEq(col.msgs.length, 0, 'messages delivered to a PUB-only account');
      });
    } ],

    [ 'acl: a wrong secret is refused', async () => {
      const topic = uniq('AclTopic');
      createTopic(topic);
      await withClients(async ctx => {
        const p = await ctx.producerWith(keys('publisher', 'not-the-secret'));
        const err = await p.send(new Message(topic, 'T', 'x')).then(() => null, e => e);
        h.assert(err && /Check signature failed for accessKey=publisher|still failed/.test(err.message), `send with a wrong secret: ${err && err.message}`);
      });
    } ],
  ];
};
