'use strict';
// Helpers shared by the broker test files: ali-ons clients with short
// intervals, topic creation, collectors and waits. `clients(h, nameSrv,
// brokerAddr)` returns them bound to one standalone Apogee.

const { Producer, Consumer, Message } = require('ali-ons');
const MQClientAPI = require('ali-ons/lib/mq_client_api');
const MessageDecoder = require('ali-ons/lib/message/message_decoder');
const ConsumeFromWhere = require('ali-ons/lib/consumer/consume_from_where');

const WARMUP_TAG = 'Warmup';
const QUEUES = 4;

module.exports = (h, nameSrv, brokerAddr) => {
  const env = { WARMUP_TAG, QUEUES, api: null };
  let seq = 0;

  const uniq = prefix => `${prefix}_${process.pid}_${Date.now().toString(36)}_${++seq}`;

  // ali-ons logs a lot at info level; keep warnings and errors of the current
  // test so that a failure can show what the client complained about.
  let clientLog = [];
  const logger = {
    debug() {},
    info() {},
    warn(...args) { clientLog.push(`warn: ${fmt(args)}`); },
    error(...args) { clientLog.push(`error: ${fmt(args)}`); },
  };

  // Client options shared by producers and consumers: short intervals so that
  // route updates, heartbeats and rebalances happen within a test's budget.
  function clientOptions(extra) {
    return Object.assign({
      httpclient: {},
      nameSrv,
      logger,
      instanceName: uniq('inst'),
      pollNameServerInteval: 2000,
      heartbeatBrokerInterval: 2000,
      rebalanceInterval: 1000,
      persistConsumerOffsetInterval: 1000,
    }, extra);
  }

  // An MQClientAPI for direct requests (warm-up sends, offsets, admin calls).
  async function openApi() {
    env.api = new MQClientAPI({ nameSrv, httpclient: {}, responseTimeout: 5000, logger });
    await env.api.ready();
    return env.api;
  }

  // ali-ons cannot create a topic (it gives up on TOPIC_NOT_EXIST from the
  // NameServer), so a topic is created the way a Java producer would: a send
  // naming TBW102 as the default topic, which the broker auto-creates from.
  // The warm-up message lands in the topic; collectors ignore its tag.
  async function createTopic(topic) {
    const msg = new Message(topic, WARMUP_TAG, 'warm-up');
    const res = await env.api.sendMessage(brokerAddr, 'broker-a', msg, {
      producerGroup: 'INTEROP_WARMUP', topic, defaultTopic: 'TBW102', defaultTopicQueueNums: QUEUES,
      queueId: 0, sysFlag: 0, bornTimestamp: Date.now(), flag: 0,
      properties: MessageDecoder.messageProperties2String(msg.properties), reconsumeTimes: 0, unitMode: false,
    }, 5000);
    h.assertEq(res.sendStatus, 'SEND_OK', `warm-up send to ${topic}`);
    await waitUntil(async () => {
      try {
        const route = await env.api.getTopicRouteInfoFromNameServer(topic, 3000);
        return route.queueDatas.length > 0;
      } catch (e) {
        return false;
      }
    }, 10000, `route of the auto-created topic ${topic} at the NameServer`);
  }

  async function waitUntil(cond, ms, what) {
    const t0 = Date.now();
    for (;;) {
      if (await cond()) return;
      if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}`);
      await h.sleep(100);
    }
  }

  // Collects what a consumer's handler sees.
  function collector(name) {
    const c = {
      name,
      msgs: [],
      byBody: new Map(),
      async handler(msg) {
        if (msg.tags === WARMUP_TAG) return;
        c.msgs.push(msg);
        const body = msg.body.toString();
        c.byBody.set(body, (c.byBody.get(body) || 0) + 1);
      },
      bodies() { return [ ...c.byBody.keys() ].sort(); },
      duplicates() { return [ ...c.byBody.entries() ].filter(([ , n ]) => n > 1).map(([ b, n ]) => `${b} x${n}`); },
    };
    return c;
  }

  // Runs `body(ctx)` with producers/consumers it makes through ctx, closing
  // every one of them afterwards, and adds the client's complaints to a
  // failure message. ctx.errors holds the clients' 'error' events.
  async function withClients(body) {
    clientLog = [];
    const made = [];
    const errors = [];
    const ctx = {
      errors,
      log: () => clientLog,
      async producer(group) {
        return ctx.producerWith({ group });
      },
      // opts.group, and opts.options added to the client options (credentials).
      async producerWith(opts = {}) {
        const p = new Producer(clientOptions(Object.assign({ producerGroup: opts.group || uniq('PG') }, opts.options)));
        p.on('error', e => errors.push(`producer: ${e.message}`));
        made.push(p);
        await p.ready();
        return p;
      },
      // Leaves a client open after the test (the caller closes it later).
      keep(client) {
        made.splice(made.indexOf(client), 1);
      },
      // Closes a client before the test ends (and not again afterwards).
      async close(client) {
        made.splice(made.indexOf(client), 1);
        await h.withTimeout(client.close(), 5000, 'closing an ali-ons client');
      },
      consumer(group, handler, opts = {}) {
        const c = new Consumer(clientOptions(Object.assign({
          consumerGroup: group,
          consumeFromWhere: ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
        }, opts.options)));
        c.on('error', e => errors.push(`consumer ${group}: ${e.message}`));
        made.push(c);
        c.subscribe(opts.topic, opts.expr || '*', handler);
        return c;
      },
    };
    try {
      await body(ctx);
    } catch (err) {
      const tail = [ ...errors, ...clientLog ].slice(-15);
      if (tail.length) err.message += `\n       client said (last ${tail.length}):\n         ${tail.join('\n         ')}`;
      throw err;
    } finally {
      for (const c of made.reverse()) {
        try {
          await h.withTimeout(c.close(), 5000, 'closing an ali-ons client');
        } catch (e) {
          console.log(`     (close failed: ${e.message})`);
        }
      }
    }
  }

  async function sendN(producer, topic, n, prefix, tag = 'T') {
    const results = [];
    for (let i = 0; i < n; i++) {
      const msg = new Message(topic, tag, `${prefix}-${i}`);
      msg.keys = [ `${prefix}-key-${i}` ];
      const r = await producer.send(msg);
      h.assertEq(r.sendStatus, 'SEND_OK', `send #${i} status`);
      results.push(r);
    }
    return results;
  }

  // Waits until `col` has seen every body in `expected`, then a little longer
  // to catch late duplicates, and checks exactly-once.
  async function expectExactly(col, expected, ms = 20000) {
    const want = [ ...expected ].sort();
    await waitUntil(() => col.byBody.size >= want.length, ms,
      () => `${col.name} to get ${want.length} messages (got ${col.byBody.size})`);
    await h.sleep(500);
    h.assertEq(col.duplicates(), [], `${col.name}: duplicates`);
    h.assertEq(col.bodies(), want, `${col.name}: bodies`);
  }

  function ownedQueues(consumer, topic) {
    return [ ...consumer.processQueueTable.values() ]
      .filter(v => v.messageQueue.topic === topic)
      .map(v => v.messageQueue.queueId);
  }

  const range = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

  return Object.assign(env, {
    uniq, logger, clientOptions, openApi, createTopic, waitUntil, collector, withClients,
    sendN, expectExactly, ownedQueues, range,
  });
};

function fmt(args) {
  return args.map(a => (a instanceof Error ? a.message : typeof a === 'object' ? JSON.stringify(a) : String(a))).join(' ');
}
