'use strict';
// Automatic failover under a real remoting client: a NameServer running the
// controller (enableControllerInNamesrv=true, one controller node) and two
// brokers of broker-a in controller mode (brokerId=-1, brokerRole=SLAVE: the
// controller picks the master). One ali-ons Producer sends; the master is
// killed with SIGKILL; the same Producer object keeps sending until the
// slave, elected master, takes its sends; then a consumer receives every
// message that was acknowledged, before and after the kill.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { Message } = require('ali-ons');

const BROKER_NAME = 'broker-a';

module.exports = async h => {
  const nsPort = await h.freePort();
  const ctlPort = await h.freePort();
  const nameSrv = `127.0.0.1:${nsPort}`;
  const ctlAddr = `127.0.0.1:${ctlPort}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apogee-interop-failover-'));
  const { uniq, waitUntil, collector, withClients, range } = require('./clients')(h, nameSrv, null);
  const brokers = []; // { addr, child }
  const topic = uniq('FailoverTopic');

  // The controller's view of broker-a (empty while nobody answers).
  async function replicas() {
    try {
      const out = await h.apogee([ 'admin', 'getSyncStateSet', '-a', ctlAddr, '-b', BROKER_NAME, '--json' ]);
      return JSON.parse(out).replicasInfoTable[BROKER_NAME] || {};
    } catch (e) {
      return {};
    }
  }
  const aliveInSync = r => (r.inSyncReplicas || []).filter(x => x.alive).map(x => x.brokerAddress);

  async function startBroker(i) {
    const port = await h.freeBrokerPort();
    const haPort = await h.freePort();
    const addr = `127.0.0.1:${port}`;
    const conf = path.join(dir, `broker${i}.conf`);
    fs.writeFileSync(conf, [
      `brokerName=${BROKER_NAME}`, 'brokerId=-1', 'brokerRole=SLAVE', 'enableControllerMode=true',
      `controllerAddr=${ctlAddr}`, 'allAckInSyncStateSet=true', 'slaveReadEnable=true',
      `haListenPort=${haPort}`, 'brokerIP1=127.0.0.1', `storePathRootDir=${path.join(dir, `broker${i}`)}`,
      'mappedFileSizeCommitLog=67108864', 'diskMaxUsedSpaceRatio=99', 'diskSpaceWarningLevelRatio=99',
      'diskSpaceCleanForciblyRatio=99', '',
    ].join('\n'));
    const { child } = await h.startApogee([ 'broker', '-n', nameSrv, '--listen', addr,
      '--grpc-listen', '127.0.0.1:0', '-c', conf ], port, `failover-b${i}`);
    brokers.push({ addr, child });
    return addr;
  }

  let producer = null;
  const acked = [];
  let oldMaster = null;

  return [
    [ 'failover: NameServer with its controller and the first broker, elected master, start', async () => {
      const conf = path.join(dir, 'namesrv.conf');
      fs.writeFileSync(conf, [
        `kvConfigPath=${path.join(dir, 'kv.json')}`, `configStorePath=${path.join(dir, 'namesrv.properties')}`,
        'enableControllerInNamesrv=true', 'controllerDLegerGroup=group1',
        `controllerDLegerPeers=n0-${ctlAddr}`, 'controllerDLegerSelfId=n0',
        `controllerStorePath=${path.join(dir, 'controller')}`,
        'scanNotActiveBrokerInterval=1000', 'scanInactiveMasterInterval=1000', 'jRaftScanWaitTimeoutMs=2000', '',
      ].join('\n'));
      await h.startApogee([ 'namesrv', '--listen', nameSrv, '-c', conf ], nsPort, 'failover-namesrv');
      const first = await startBroker(0);
      await waitUntil(async () => (await replicas()).masterAddress === first, 30000, `${first} to be elected master`);
      // The topic exists before the second broker starts, so that its first
      // metadata copy (at once when it learns the master) holds it.
      await h.apogee([ 'admin', 'updateTopic', '-t', topic, '-c', 'DefaultCluster', '-r', '4', '-w', '4', '-n', nameSrv ]);
    } ],

    [ 'failover: the second broker joins as slave and the SyncStateSet', async () => {
      await startBroker(1);
      let r = {};
      await waitUntil(async () => {
        r = await replicas();
        return aliveInSync(r).length === 2;
      }, 30000, () => `two alive in-sync replicas (${JSON.stringify(r)})`);
      oldMaster = r.masterAddress;
    } ],

    [ 'failover: an ali-ons Producer sends, acknowledged by both', async () => {
      await withClients(async ctx => {
        // Closed by the last test: the same object must outlive the kill.
        producer = await ctx.producer();
        ctx.keep(producer);
        for (let i = 0; i < 20; i++) {
          const body = `before-${i}`;
          const r = await producer.send(new Message(topic, 'T', body));
          h.assertEq(r.sendStatus, 'SEND_OK', `send ${body}`);
          acked.push(body);
        }
      });
    } ],

    [ 'failover: kill -9 the master; the same Producer sends again once the slave is master', async () => {
      const victim = brokers.find(b => b.addr === oldMaster);
      h.assert(victim, `the master ${oldMaster} is one of ours`);
      const t0 = Date.now();
      victim.child.kill('SIGKILL');
      let failures = 0;
      let firstOk = null;
      let lastError = '';
      let ok = 0;
      for (let i = 0; ok < 20; i++) {
        h.assert(Date.now() - t0 < 90000, `sends did not succeed again within 90 s of the kill (${failures} failed; last: ${lastError})`);
        const body = `after-${i}`;
        try {
          const r = await producer.send(new Message(topic, 'T', body));
          if (r.sendStatus === 'SEND_OK') {
            acked.push(body);
            ok++;
            if (firstOk === null) firstOk = Date.now() - t0;
            continue;
          }
          lastError = r.sendStatus;
        } catch (e) {
          lastError = e.message;
        }
        failures++;
        await h.sleep(500);
      }
      const r = await replicas();
      h.assert(r.masterAddress && r.masterAddress !== oldMaster, `a new master (controller says ${JSON.stringify(r)})`);
      console.log(`     (first acknowledged send ${firstOk} ms after the kill; ${failures} sends failed before; new master ${r.masterAddress})`);
    }, 100000 ],

    [ 'failover: a consumer receives every acknowledged message', async () => {
      try {
        await withClients(async ctx => {
          const col = collector('consumer');
          ctx.consumer(uniq('CG'), col.handler, { topic });
          await waitUntil(() => acked.every(b => col.byBody.has(b)), 30000,
            () => `every acknowledged message (missing ${acked.filter(b => !col.byBody.has(b)).slice(0, 10)})`);
          h.assertEq(acked.filter(b => b.startsWith('before-')), range('before', 20), 'acknowledged before the kill');
        });
      } finally {
        if (producer) await h.withTimeout(producer.close(), 5000, 'closing the producer');
      }
    } ],
  ];
};
