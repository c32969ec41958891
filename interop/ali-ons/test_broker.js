'use strict';
// Broker tests: ali-ons' own Producer and push Consumer against `apogee
// standalone` (NameServer + broker in one process). Every test uses fresh
// topic and group names so that no test sees another's messages or offsets.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { Message } = require('ali-ons');
const MessageDecoder = require('ali-ons/lib/message/message_decoder');
const ConsumeFromWhere = require('ali-ons/lib/consumer/consume_from_where');

module.exports = async h => {
  const nsPort = await h.freePort();
  const brokerPort = await h.freeBrokerPort();
  const nameSrv = `127.0.0.1:${nsPort}`;
  const brokerAddr = `127.0.0.1:${brokerPort}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'apogee-interop-data-'));
  let api = null;
  const {
    WARMUP_TAG, QUEUES, uniq, openApi, createTopic, waitUntil, collector, withClients, sendN,
    expectExactly, ownedQueues, range,
  } = require('./clients')(h, nameSrv, brokerAddr);

  const tests = [
    [ 'standalone starts', async () => {
      const started = await h.startApogee([ 'standalone', '--namesrv-listen', nameSrv,
        '--broker-listen', brokerAddr, '--grpc-listen', '127.0.0.1:0', '--data-dir', dataDir, '--no-http' ], brokerPort, 'standalone');
      console.log(`     (broker listening after ${started.startMs} ms; log ${started.logFile})`);
      api = await openApi();
    } ],

    [ 'clustering: 250 messages consumed exactly once', async () => {
      const topic = uniq('ClusterTopic');
      await createTopic(topic);
      await withClients(async ctx => {
        const p = await ctx.producer();
        // A backlog of 50 per queue takes more than one pull (32 a batch);
        // the rest arrives while the consumer is long-polling.
        await sendN(p, topic, 200, 'before');
        const col = collector('consumer');
        ctx.consumer(uniq('CG'), col.handler, { topic });
        await waitUntil(() => col.byBody.size >= 200, 20000, `the first 200 messages (got ${col.byBody.size})`);
        await sendN(p, topic, 50, 'after');
        await expectExactly(col, [ ...range('before', 200), ...range('after', 50) ]);
      });
    } ],

    [ 'a new group with the default CONSUME_FROM_LAST_OFFSET starts at 0 on a young topic', async () => {
      // Java brokers answer QUERY_CONSUMER_OFFSET with 0 for a group new to
      // a queue whose first message is still stored, so ali-ons' default
      // reads the backlog instead of jumping to the max offset.
      const topic = uniq('YoungTopic');
      await createTopic(topic);
      await withClients(async ctx => {
        const p = await ctx.producer();
        await sendN(p, topic, 10, 'y');
        const col = collector('consumer');
        ctx.consumer(uniq('CG'), col.handler, { topic, options: { consumeFromWhere: ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET } });
        await expectExactly(col, range('y', 10));
      });
    } ],

    [ 'clustering: two consumers of one group share the queues', async () => {
      const topic = uniq('ShareTopic');
      const group = uniq('CG');
      await createTopic(topic);
      await withClients(async ctx => {
        const a = collector('consumer A');
        const b = collector('consumer B');
        const ca = ctx.consumer(group, a.handler, { topic });
        const cb = ctx.consumer(group, b.handler, { topic });
        // The warm-up message is consumed by whoever owns queue 0 first; wait
        // for a stable split before sending so that no queue changes hands.
        await waitUntil(() => {
          const qa = ownedQueues(ca, topic);
          const qb = ownedQueues(cb, topic);
          return qa.length === QUEUES / 2 && qb.length === QUEUES / 2 && !qa.some(q => qb.includes(q));
        }, 20000, `the group to split ${QUEUES} queues 2 + 2 (A owns ${ownedQueues(ca, topic)}, B owns ${ownedQueues(cb, topic)})`);
        const p = await ctx.producer();
        await sendN(p, topic, 40, 'm');
        const all = { byBody: new Map() };
        await waitUntil(() => a.byBody.size + b.byBody.size >= 40, 20000,
          `40 messages in total (A got ${a.byBody.size}, B got ${b.byBody.size})`);
        await h.sleep(1000);
        for (const col of [ a, b ]) {
          for (const [ body, n ] of col.byBody) all.byBody.set(body, (all.byBody.get(body) || 0) + n);
        }
        const dups = [ ...all.byBody.entries() ].filter(([ , n ]) => n > 1).map(([ body, n ]) => `${body} x${n}`);
        h.assertEq(dups, [], 'duplicates across the group');
        h.assertEq([ ...all.byBody.keys() ].sort(), range('m', 40).sort(), 'bodies across the group');
        h.assert(a.byBody.size > 0 && b.byBody.size > 0, `both consumers get some (A ${a.byBody.size}, B ${b.byBody.size})`);
      });
    } ],

    [ 'clustering: a leaving consumer hands its queues over without redelivery', async () => {
      const topic = uniq('HandoverTopic');
      const group = uniq('CG');
      await createTopic(topic);
      await withClients(async ctx => {
        const a = collector('consumer A');
        const b = collector('consumer B');
        const ca = ctx.consumer(group, a.handler, { topic });
        const cb = ctx.consumer(group, b.handler, { topic });
        await waitUntil(() => ownedQueues(ca, topic).length === QUEUES / 2 && ownedQueues(cb, topic).length === QUEUES / 2,
          20000, `a 2 + 2 split (A owns ${ownedQueues(ca, topic)}, B owns ${ownedQueues(cb, topic)})`);
        const p = await ctx.producer();
        await sendN(p, topic, 20, 'one');
        await waitUntil(() => a.byBody.size + b.byBody.size >= 20, 20000,
          `20 messages in total (A got ${a.byBody.size}, B got ${b.byBody.size})`);
        h.assert(b.byBody.size > 0, `B consumed some before leaving (${b.byBody.size})`);
        const aBefore = new Set(a.byBody.keys());
        // Closing commits B's offsets and unregisters it; A must take all
        // queues over from those offsets, not from the start.
        await ctx.close(cb);
        await waitUntil(() => ownedQueues(ca, topic).length === QUEUES, 20000,
          `A to own all ${QUEUES} queues (owns ${ownedQueues(ca, topic)})`);
        await sendN(p, topic, 20, 'two');
        await waitUntil(() => range('two', 20).every(x => a.byBody.has(x)), 20000,
          `A to get the 20 later messages (has ${[ ...a.byBody.keys() ].filter(x => x.startsWith('two')).length})`);
        await h.sleep(500);
        h.assertEq(a.duplicates(), [], 'A: duplicates');
        const redelivered = [ ...a.byBody.keys() ].filter(x => x.startsWith('one') && !aBefore.has(x));
        h.assertEq(redelivered, [], 'messages B had consumed that A got again');
      });
    } ],

    [ 'clustering: a restarted consumer resumes from its committed offset', async () => {
      const topic = uniq('ResumeTopic');
      const group = uniq('CG');
      await createTopic(topic);
      await withClients(async ctx => {
        const p = await ctx.producer();
        await sendN(p, topic, 10, 'first');
        const first = collector('first consumer');
        const c1 = ctx.consumer(group, first.handler, { topic });
        await expectExactly(first, range('first', 10));
        await ctx.close(c1);
        await sendN(p, topic, 10, 'second');
        // CONSUME_FROM_FIRST_OFFSET only applies without a committed offset:
        // getting 'first-*' again would mean the offsets were lost.
        const second = collector('restarted consumer');
        ctx.consumer(group, second.handler, { topic });
        await expectExactly(second, range('second', 10));
      });
    } ],

    [ 'clustering: two groups each get everything', async () => {
      const topic = uniq('GroupsTopic');
      await createTopic(topic);
      await withClients(async ctx => {
        const p = await ctx.producer();
        await sendN(p, topic, 30, 'g');
        const a = collector('group A');
        const b = collector('group B');
        ctx.consumer(uniq('CGA'), a.handler, { topic });
        ctx.consumer(uniq('CGB'), b.handler, { topic });
        await expectExactly(a, range('g', 30));
        await expectExactly(b, range('g', 30));
      });
    } ],

    [ 'broadcasting: two consumers of one group each get everything', async () => {
      const topic = uniq('BroadcastTopic');
      const group = uniq('CGBC');
      await createTopic(topic);
      await withClients(async ctx => {
        const a = collector('broadcast A');
        const b = collector('broadcast B');
        const options = { isBroadcast: true };
        ctx.consumer(group, a.handler, { topic, options });
        ctx.consumer(group, b.handler, { topic, options });
        const p = await ctx.producer();
        await sendN(p, topic, 30, 'b');
        await expectExactly(a, range('b', 30));
        await expectExactly(b, range('b', 30));
      });
    } ],

    [ 'tag subscriptions filter on the broker', async () => {
      const topic = uniq('TagTopic');
      await createTopic(topic);
      await withClients(async ctx => {
        const p = await ctx.producer();
        await sendN(p, topic, 5, 'a', 'TagA');
        await sendN(p, topic, 5, 'b', 'TagB');
        for (let i = 0; i < 5; i++) {
          const msg = new Message(topic, `u-${i}`);
          // ali-ons would send a literal "null" tag; drop the property instead.
          delete msg.properties.TAGS;
          h.assertEq((await p.send(msg)).sendStatus, 'SEND_OK', 'untagged send');
        }
        const onlyA = collector('TagA subscriber');
        const aOrB = collector('TagA || TagB subscriber');
        const all = collector('* subscriber');
        const ca = ctx.consumer(uniq('CGTA'), onlyA.handler, { topic, expr: 'TagA' });
        // ali-ons filters tags again on the client (but lets untagged
        // messages through), so look at what the broker's pulls returned.
        const pulledTags = new Set();
        const client = ca._mqClient;
        const pull = client.pullMessage;
        client.pullMessage = async function(...args) {
          const res = await pull.apply(this, args);
          for (const m of res.msgFoundList || []) pulledTags.add(String(m.tags));
          return res;
        };
        ctx.consumer(uniq('CGTAB'), aOrB.handler, { topic, expr: 'TagA || TagB' });
        ctx.consumer(uniq('CGALL'), all.handler, { topic });
        await expectExactly(all, [ ...range('a', 5), ...range('b', 5), ...range('u', 5) ]);
        await expectExactly(aOrB, [ ...range('a', 5), ...range('b', 5) ]);
        await expectExactly(onlyA, range('a', 5));
        h.assertEq([ ...new Set(onlyA.msgs.map(m => m.tags)) ], [ 'TagA' ], 'tags seen by the TagA subscriber');
        h.assertEq([ ...pulledTags ], [ 'TagA' ], 'tags the broker returned to the TagA subscriber');
      });
    } ],

    [ 'keys, properties and bodies arrive intact', async () => {
      const topic = uniq('KeysTopic');
      await createTopic(topic);
      await withClients(async ctx => {
        const p = await ctx.producer();
        const binary = Buffer.alloc(256);
        for (let i = 0; i < 256; i++) binary[i] = i;
        // 10 KiB is over ali-ons' 4 KiB compression threshold: the broker
        // must keep the compressed flag so the consumer inflates it.
        const big = Buffer.from('0123456789abcdef'.repeat(640));
        const cases = [
          { name: 'text', body: Buffer.from('héllo wörld ✓'), keys: [ 'k1' ] },
          { name: 'two keys', body: Buffer.from('two keys'), keys: [ 'order-1', 'user-2' ] },
          { name: 'binary', body: binary, keys: [ 'bin' ], props: { color: 'blue', n: '42' } },
          { name: 'compressed', body: big, keys: [ 'big' ] },
        ];
        const sent = new Map();
        for (const c of cases) {
          const msg = new Message(topic, 'KeyTag', Buffer.from(c.body));
          msg.keys = c.keys;
          msg.properties.case = c.name;
          Object.assign(msg.properties, c.props || {});
          const r = await p.send(msg);
          sent.set(c.name, { c, r });
        }
        const got = new Map();
        const col = { async handler(msg) { if (msg.tags !== WARMUP_TAG) got.set(msg.properties.case, msg); } };
        ctx.consumer(uniq('CGK'), col.handler, { topic });
        await waitUntil(() => got.size >= cases.length, 20000, `${cases.length} messages (got ${[ ...got.keys() ]})`);
        for (const [ name, { c, r } ] of sent) {
          const m = got.get(name);
          h.assert(m, `message '${name}' received`);
          h.assert(Buffer.compare(m.body, c.body) === 0, `'${name}' body intact (${m.body.length} bytes, sent ${c.body.length})`);
          h.assertEq(m.keys, c.keys.join(' '), `'${name}' keys`);
          h.assertEq(m.tags, 'KeyTag', `'${name}' tag`);
          for (const [ k, v ] of Object.entries(c.props || {})) h.assertEq(m.properties[k], v, `'${name}' property ${k}`);
          h.assertEq(m.msgId, r.msgId, `'${name}' msgId matches the send result`);
          h.assertEq(String(m.queueId), String(r.messageQueue.queueId), `'${name}' queue id`);
          h.assertEq(Number(m.queueOffset), r.queueOffset, `'${name}' queue offset`);
          h.assertEq(m.reconsumeTimes, 0, `'${name}' reconsume times`);
          h.assertEq(m.topic, topic, `'${name}' topic`);
        }
      });
    } ],

    [ 'send results: msgId, queue and offsets', async () => {
      const topic = uniq('ResultTopic');
      await createTopic(topic);
      await withClients(async ctx => {
        const p = await ctx.producer();
        const t0 = Date.now();
        const results = await sendN(p, topic, 12, 'r');
        const lastOffset = new Map([ [ 0, 0 ] ]); // the warm-up took queue 0 offset 0
        const seen = new Set();
        let prevPhys = -1;
        for (const [ i, r ] of results.entries()) {
          h.assert(/^[0-9A-F]{32}$/.test(r.msgId), `#${i} msgId is 32 hex digits: ${r.msgId}`);
          h.assert(!seen.has(r.msgId), `#${i} msgId unique: ${r.msgId}`);
          seen.add(r.msgId);
          const id = MessageDecoder.decodeMessageId(r.msgId);
          h.assertEq(id.address, brokerAddr, `#${i} msgId names the broker`);
          const phys = Number(id.offset.toString());
          h.assert(phys > prevPhys, `#${i} commit log offset ${phys} grows (previous ${prevPhys})`);
          prevPhys = phys;
          h.assertEq(r.messageQueue.topic, topic, `#${i} topic`);
          h.assertEq(r.messageQueue.brokerName, 'broker-a', `#${i} broker name`);
          const q = Number(r.messageQueue.queueId);
          h.assert(q >= 0 && q < QUEUES, `#${i} queue id ${q} in range`);
          const expected = lastOffset.has(q) ? lastOffset.get(q) + 1 : 0;
          h.assertEq(r.queueOffset, expected, `#${i} queue offset in queue ${q}`);
          lastOffset.set(q, r.queueOffset);
        }
        h.assertEq(new Set(results.map(r => r.messageQueue.queueId)).size, QUEUES, 'sends spread over every queue');
        // Consume queues are built asynchronously after the append (as in
        // Java's reput), so the max offset may trail the send for a moment.
        for (const [ q, last ] of lastOffset) {
          let max = -1;
          await waitUntil(async () => {
            max = Number(await api.getMaxOffset(brokerAddr, topic, q, 3000));
            return max === last + 1;
          }, 3000, `max offset of queue ${q} to be ${last + 1}`).catch(e => {
            throw new Error(`${e.message}; last value ${max}`);
          });
        }
        const col = collector('consumer');
        ctx.consumer(uniq('CGR'), col.handler, { topic });
        await expectExactly(col, range('r', 12));
        for (const m of col.msgs) {
          const r = results[Number(m.body.toString().slice(2))];
          h.assertEq(m.msgId, r.msgId, `${m.body} msgId`);
          h.assertEq(Number(m.commitLogOffset), Number(MessageDecoder.decodeMessageId(r.msgId).offset.toString()), `${m.body} commit log offset`);
          h.assert(m.storeTimestamp >= t0 - 1000 && m.storeTimestamp <= Date.now() + 1000, `${m.body} store timestamp ${m.storeTimestamp} is recent`);
          h.assert(m.bornTimestamp <= m.storeTimestamp + 1000, `${m.body} born before stored`);
        }
      });
    } ],
  ];

  const retryTest = [ 'a failed message is redelivered through the retry topic', async () => {
    const topic = uniq('RetryTopic');
    const group = uniq('CGRT');
    await createTopic(topic);
    await withClients(async ctx => {
      const deliveries = [];
      const handler = async msg => {
        if (msg.tags === WARMUP_TAG) return;
        deliveries.push({ msgId: msg.msgId, body: msg.body.toString(), reconsumeTimes: msg.reconsumeTimes, topic: msg.topic, retryTopic: msg.retryTopic, origin: msg.originMessageId });
        if (deliveries.length === 1) throw new Error('intentional failure');
      };
      const c = ctx.consumer(group, handler, { topic });
      // ali-ons falls back to re-sending the message itself (or retrying
      // locally) when CONSUMER_SEND_MSG_BACK fails, so record what the
      // broker answered to tell the broker's retry from the fallbacks.
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
      const msg = new Message(topic, 'Retry', 'retry me');
      const r = await p.send(msg);
      await waitUntil(() => deliveries.length >= 2 || sendBacks.some(b => b !== 'ok'), 30000,
        `a redelivery (deliveries: ${JSON.stringify(deliveries)})`);
      h.assertEq(sendBacks, [ 'ok' ], 'CONSUMER_SEND_MSG_BACK answers');
      const [ first, second ] = deliveries;
      h.assertEq(first.msgId, r.msgId, 'first delivery is the sent message');
      h.assertEq(second.body, 'retry me', 'redelivered body');
      h.assertEq(second.topic, topic, 'redelivery reports the original topic');
      h.assertEq(second.retryTopic, topic, 'RETRY_TOPIC property');
      h.assertEq(second.origin, r.msgId, 'ORIGIN_MESSAGE_ID names the first message');
      h.assert(second.msgId !== r.msgId, 'redelivery is a new message in the retry topic, not a local retry');
      h.assertEq(second.reconsumeTimes, 1, 'reconsume times of the redelivery');
    });
  } ];

  tests.push(retryTest);

  tests.push([ 'ali-ons clients close cleanly', async () => {
    await api.close();
  } ]);
  return tests;
};
