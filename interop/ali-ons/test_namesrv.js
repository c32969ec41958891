'use strict';
// NameServer tests: a broker registration sent by this test (until then no
// broker is involved), then route and cluster queries made by ali-ons' own
// client API code.

const MQClientAPI = require('ali-ons/lib/mq_client_api');
const RemotingCommand = require('ali-ons/lib/protocol/command/remoting_command');
const RequestCode = require('ali-ons/lib/protocol/request_code');
const ResponseCode = require('ali-ons/lib/protocol/response_code');

function registerBody(topics) {
  const table = {};
  for (const t of topics) {
    table[t] = { topicName: t, readQueueNums: 4, writeQueueNums: 4, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false };
  }
  return Buffer.from(JSON.stringify({
    topicConfigSerializeWrapper: { topicConfigTable: table, dataVersion: { counter: 1, timestamp: Date.now() } },
    filterServerList: [],
  }));
}

module.exports = async h => {
  const port = await h.freePort();
  const nameSrv = `127.0.0.1:${port}`;
  let started;
  let api;

  async function client() {
    if (!api) {
      api = new MQClientAPI({ nameSrv, httpclient: {}, responseTimeout: 5000 });
      await api.ready();
    }
    return api;
  }

  return [
    [ 'namesrv starts and accepts connections', async () => {
      started = await h.startApogee([ 'namesrv', '--listen', nameSrv ], port, 'namesrv');
      console.log(`     (listening after ${started.startMs} ms)`);
    } ],
    [ 'ali-ons gets the route of a topic a broker registered', async () => {
      const c = await client();
      const req = RemotingCommand.createRequestCommand(RequestCode.REGISTER_BROKER, {
        brokerName: 'broker-a', brokerAddr: '127.0.0.1:10911', clusterName: 'C1',
        haServerAddr: '127.0.0.1:10912', brokerId: 0, compressed: false, bodyCrc32: 0,
      });
      req.body = registerBody([ 'InteropTopic', 'Other' ]);
      const res = await c.invoke(null, req, 5000);
      h.assertEq(res.code, ResponseCode.SUCCESS, `register answered ${res.remark}`);
      const route = await c.getTopicRouteInfoFromNameServer('InteropTopic', 3000);
      h.assertEq(route.brokerDatas.length, 1, 'one broker');
      h.assertEq(route.brokerDatas[0].brokerName, 'broker-a', 'broker name');
      h.assertEq(route.brokerDatas[0].brokerAddrs['0'], '127.0.0.1:10911', 'master address');
      h.assertEq(route.queueDatas[0].writeQueueNums, 4, 'write queues');
      h.assertEq(route.queueDatas[0].perm, 6, 'perm');
    } ],
    [ 'ali-ons sees TOPIC_NOT_EXIST for an unknown topic', async () => {
      const c = await client();
      let err = null;
      try {
        await c.getTopicRouteInfoFromNameServer('NoSuchTopic', 3000);
      } catch (e) {
        err = e;
      }
      h.assert(err && /No topic route info|TOPIC_NOT_EXIST|17/.test(String(err.message)), `expected a not-exist error, got ${err}`);
    } ],
    [ 'ali-ons reads cluster info', async () => {
      const c = await client();
      const req = RemotingCommand.createRequestCommand(RequestCode.GET_BROKER_CLUSTER_INFO, {});
      const res = await c.invoke(null, req, 5000);
      h.assertEq(res.code, ResponseCode.SUCCESS, 'cluster info code');
      const info = JSON.parse(res.body.toString());
      h.assertEq(info.clusterAddrTable.C1, [ 'broker-a' ], 'cluster table');
      await c.close();
      api = null;
    } ],
  ];
};
