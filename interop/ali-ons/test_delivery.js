'use strict';
// Delivery tests: SQL92 subscriptions, delay levels, arbitrary-time delivery,
// growing retries and an admin offset reset, driven through ali-ons against
// its own `apogee standalone`. That broker runs with every delay level at
// 1 s so that retries (levels 3, 4, ...) fit a test's budget.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { Message } = require('ali-ons');
const RemotingCommand = require('ali-ons/lib/protocol/command/remoting_command');

const TEST_MS = 30000;
const INVOKE_BROKER_TO_RESET_OFFSET = 222;
const SUBSCRIPTION_PARSE_FAILED = 23;

module.exports = async h => {
  const nsPort = await h.freePort();
  const brokerPort = await h.freeBrokerPort();
  const nameSrv = `127.0.0.1:${nsPort}`;
  const brokerAddr = `127.0.0.1:${brokerPort}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'apogee-interop-delivery-'));
  const {
    WARMUP_TAG, QUEUES, uniq, openApi, createTopic, waitUntil, collector, withClients, sendN,
    ownedQueues, range,
  } = require('./clients')(h, nameSrv, brokerAddr);
  let api = null;

  // Each test is bounded on its own, below the harness' 60 s.
  const bounded = (name, fn) => [ name, () => h.withTimeout(fn(), TEST_MS, name) ];

  // Starts a consumer and waits until it pulls every queue of the topic, so
  // that timing checks measure the broker rather than the rebalance.
  async function liveConsumer(ctx, group, handler, opts) {
    const c = ctx.consumer(group, handler, opts);
    await waitUntil(() => ownedQueues(c, opts.topic).length === QUEUES, 15000,
      () => `the consumer to own all ${QUEUES} queues (owns ${ownedQueues(c, opts.topic)})`);
    return c;
  }

  // Records when each non-warm-up message reached the handler.
  function arrivals() {
    const a = {
      got: new Map(),
      async handler(msg) {
        if (msg.tags === WARMUP_TAG) return;
        a.got.set(msg.body.toString(), { at: Date.now(), msg });
      },
    };
    return a;
  }

  const tests = [
    [ 'standalone (every delay level 1 s) starts', async () => {
      const conf = path.join(dataDir, 'broker.conf');
      fs.writeFileSync(conf, `messageDelayLevel=${Array(18).fill('1s').join(' ')}\n`);
      const started = await h.startApogee([ 'standalone', '--namesrv-listen', nameSrv,
        '--broker-listen', brokerAddr, '--grpc-listen', '127.0.0.1:0', '--data-dir', path.join(dataDir, 'data'), '-c', conf, '--no-http' ],
      brokerPort, 'standalone-delivery');
      console.log(`     (broker listening after ${started.startMs} ms; log ${started.logFile})`);
      api = await openApi();
    } ],

    bounded('SQL92: a subscriber receives exactly the matching messages', async () => {
      const topic = uniq('SqlTopic');
      await createTopic(topic);
      const expr = 'a BETWEEN 3 AND 7 AND b = \'x\'';
      await withClients(async ctx => {
        const p = await ctx.producer();
        const want = [];
        for (let i = 0; i < 30; i++) {
          const msg = new Message(topic, 'Sql', `s-${i}`);
          const a = i % 10;
          const b = i % 3 === 0 ? 'y' : 'x';
          // Some messages lack `a`: NULL BETWEEN ... is not true.
          if (i % 11 !== 5) msg.properties.a = String(a);
          msg.properties.b = b;
          if (i % 11 !== 5 && a >= 3 && a <= 7 && b === 'x') want.push(`s-${i}`);
          h.assertEq((await p.send(msg)).sendStatus, 'SEND_OK', `send s-${i}`);
        }
        h.assert(want.length > 5 && want.length < 20, `a selective expression (${want.length} of 30 match)`);
        // ali-ons filters only tags on the client, so the handler sees what
        // the broker returned, the untagged-property warm-up included.
        const seen = [];
        const handler = async msg => { seen.push(msg.body.toString()); };
        ctx.consumer(uniq('CGSQL'), handler, { topic, expr: { expressionType: 'SQL92', subString: expr } });
        await waitUntil(() => seen.length >= want.length, 20000,
          () => `${want.length} matching messages (got ${seen.length}: ${seen.join(' ')})`);
        await h.sleep(1000);
        h.assertEq([ ...seen ].sort(), [ ...want ].sort(), `messages delivered for ${expr}`);
      });
    }),

    bounded('SQL92: a subscription that does not parse surfaces as a pull error', async () => {
      const topic = uniq('BadSqlTopic');
      await createTopic(topic);
      await withClients(async ctx => {
        const p = await ctx.producer();
        await sendN(p, topic, 3, 'bad');
        const seen = [];
        const c = ctx.consumer(uniq('CGBAD'), async msg => { seen.push(msg.body.toString()); },
          { topic, expr: { expressionType: 'SQL92', subString: 'a BETWEEN 3 AND' } });
        const pullErrors = [];
        c.on('error', e => { if (e.name === 'MQConsumerPullMessageError') pullErrors.push(e); });
        await waitUntil(() => pullErrors.length > 0, 15000, 'a pull error on the consumer');
        const e = pullErrors[0];
        h.assertEq(e.code, SUBSCRIPTION_PARSE_FAILED, `pull error code (${e.message})`);
        h.assert(/position \d+/.test(e.message), `the error names the position: ${e.message}`);
        h.assertEq(seen, [], 'messages delivered to the unparseable subscription');
      });
    }),

    bounded('delay level 1 (1 s): delivered 1 s after the send, not before', async () => {
      const topic = uniq('DelayTopic');
      await createTopic(topic);
      await withClients(async ctx => {
        const got = arrivals();
        await liveConsumer(ctx, uniq('CGD'), got.handler, { topic });
        const p = await ctx.producer();
        const delayed = new Message(topic, 'D', 'delayed');
        delayed.delayTimeLevel = 1;
        const t0 = Date.now();
        h.assertEq((await p.send(delayed)).sendStatus, 'SEND_OK', 'delayed send');
        await sendN(p, topic, 1, 'now');
        await waitUntil(() => got.got.has('delayed'), 10000, 'the delayed message');
        const now = got.got.get('now-0');
        h.assert(now && now.at - t0 < 1000, `an undelayed message arrives at once (${now && now.at - t0} ms)`);
        const { at, msg } = got.got.get('delayed');
        h.assert(at - t0 >= 1000, `delayed message arrived ${at - t0} ms after the send, not before 1000`);
        h.assert(at - t0 < 3000, `delayed message arrived ${at - t0} ms after the send, within 3000`);
        h.assertEq(msg.topic, topic, 'delivered in its own topic');
        // As in Java, the delivered copy drops DELAY (it is never delayed
        // again) and names its destination in REAL_TOPIC.
        h.assertEq(msg.delayTimeLevel, 0, 'DELAY property of the delivered copy');
        h.assertEq(msg.properties.REAL_TOPIC, topic, 'REAL_TOPIC property');
      });
    }),

    bounded('startDeliverTime: delivered at the requested time, not before', async () => {
      const topic = uniq('TimerTopic');
      await createTopic(topic);
      await withClients(async ctx => {
        const got = arrivals();
        await liveConsumer(ctx, uniq('CGT'), got.handler, { topic });
        const p = await ctx.producer();
        const msg = new Message(topic, 'Timer', 'timed');
        const deliverAt = Date.now() + 2000;
        msg.setStartDeliverTime(deliverAt);
        h.assertEq((await p.send(msg)).sendStatus, 'SEND_OK', 'timed send');
        await waitUntil(() => got.got.has('timed'), 10000, 'the timed message');
        const { at, msg: m } = got.got.get('timed');
        h.assert(at >= deliverAt, `arrived ${deliverAt - at} ms before the start deliver time`);
        h.assert(at - deliverAt < 1000, `arrived ${at - deliverAt} ms after the start deliver time, within 1000`);
        h.assertEq(m.topic, topic, 'delivered in its own topic');
      });
    }),

    bounded('retries: a handler failing twice sees reconsumeTimes 0, 1, 2', async () => {
      const topic = uniq('RetryTopic');
      await createTopic(topic);
      await withClients(async ctx => {
        const deliveries = [];
        const handler = async msg => {
          if (msg.tags === WARMUP_TAG) return;
          deliveries.push({ at: Date.now(), reconsumeTimes: msg.reconsumeTimes, body: msg.body.toString(), topic: msg.topic });
          if (deliveries.length <= 2) throw new Error(`intentional failure #${deliveries.length}`);
        };
        const c = await liveConsumer(ctx, uniq('CGRT'), handler, { topic });
        // ali-ons falls back to a local retry when CONSUMER_SEND_MSG_BACK
        // fails; count the broker's answers to rule that out.
        const sendBacks = [];
        const client = c._mqClient;
        const original = client.consumerSendMessageBack;
        client.consumerSendMessageBack = async function(...args) {
          try {
            const res = await original.apply(this, args);
            sendBacks.push('ok');
            return res;
          } catch (e) {
            sendBacks.push(`failed: code ${e.code} ${e.message}`);
            throw e;
          }
        };
        const p = await ctx.producer();
        await sendN(p, topic, 1, 'retry');
        await waitUntil(() => deliveries.length >= 3, 20000,
          () => `3 deliveries (got ${JSON.stringify(deliveries)}; send-backs ${sendBacks})`);
        await h.sleep(1500);
        h.assertEq(sendBacks, [ 'ok', 'ok' ], 'CONSUMER_SEND_MSG_BACK answers');
        h.assertEq(deliveries.map(d => d.reconsumeTimes), [ 0, 1, 2 ], 'reconsume times of the deliveries');
        h.assertEq(deliveries.map(d => `${d.topic}/${d.body}`), Array(3).fill(`${topic}/retry-0`), 'topic/body of the deliveries');
        // Retry delay levels are 3 and 4, both 1 s here (10 s and 30 s by default).
        for (let i = 1; i < 3; i++) {
          const gap = deliveries[i].at - deliveries[i - 1].at;
          h.assert(gap >= 1000 && gap < 3000, `retry #${i} came ${gap} ms after the failure (1 s level expected)`);
        }
      });
    }),

    bounded('offset reset to a time: the consumer gets the later messages again', async () => {
      const topic = uniq('RewindTopic');
      const group = uniq('CGRW');
      await createTopic(topic);
      await withClients(async ctx => {
        const col = collector('consumer');
        await liveConsumer(ctx, group, col.handler, { topic });
        const p = await ctx.producer();
        await sendN(p, topic, 12, 'early');
        await waitUntil(() => col.byBody.size >= 12, 10000, () => `the early messages (got ${col.byBody.size})`);
        await h.sleep(50);
        const middle = Date.now();
        await h.sleep(50);
        await sendN(p, topic, 12, 'late');
        await waitUntil(() => col.byBody.size >= 24, 10000, () => `the late messages (got ${col.byBody.size})`);
        const stored = new Map(col.msgs.map(m => [ m.body.toString(), Number(m.storeTimestamp) ]));
        const since = [ ...stored ].filter(([ , t ]) => t >= middle).map(([ b ]) => b).sort();
        h.assertEq(since, range('late', 12).sort(), 'messages stored after the reset time');
        await h.sleep(500);
        const before = col.msgs.length;

        const request = RemotingCommand.createRequestCommand(INVOKE_BROKER_TO_RESET_OFFSET,
          { topic, group, timestamp: middle, isForce: true });
        const response = await api.invoke(brokerAddr, request, 5000);
        h.assertEq(response.code, 0, `INVOKE_BROKER_TO_RESET_OFFSET answer (${response.remark})`);
        const t0 = Date.now();
        // ali-ons ignores the pushed RESET_CONSUMER_CLIENT_OFFSET: it rewinds
        // on PULL_OFFSET_MOVED, which the reset gives its parked pulls at
        // once rather than after their 15 s hold.
        await waitUntil(() => range('late', 12).every(b => col.byBody.get(b) === 2), 5000,
          () => `the late messages again (counts ${JSON.stringify([ ...col.byBody ])})`);
        const rewindMs = Date.now() - t0;
        await h.sleep(1000);
        const again = col.msgs.slice(before).map(m => m.body.toString()).sort();
        h.assertEq(again, since, `messages delivered again after the reset (in ${rewindMs} ms)`);
        console.log(`     (rewound in ${rewindMs} ms)`);
      });
    }),
  ];

  tests.push([ 'delivery clients close cleanly', async () => {
    await api.close();
  } ]);
  return tests;
};
