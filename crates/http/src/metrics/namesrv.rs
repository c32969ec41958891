//! The NameServer's series: what its route table holds (clusters, brokers,
//! topics) read at scrape time, and the requests it answered. Apache's
//! NameServer exports no metrics, so these carry Apogee's own names.

use std::collections::BTreeMap;
use std::sync::Arc;

use namesrv::NamesrvState;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Unit;

use super::broker_counters::{request_name, response_name};
use super::encode::{counters, gauges, Labels};

/// Reads the NameServer's state at scrape time.
pub struct Namesrv(pub Arc<NamesrvState>);

impl std::fmt::Debug for Namesrv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Namesrv")
    }
}

impl Collector for Namesrv {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        let info = s.routes.cluster_info();
        let mut brokers: BTreeMap<&str, i64> = BTreeMap::new();
        for (cluster, names) in &info.cluster_addr_table {
            let n = names
                .iter()
                .filter_map(|name| info.broker_addr_table.get(name))
                .map(|b| b.broker_addrs.len() as i64)
                .sum();
            brokers.insert(cluster, n);
        }
        let one = |v: i64| vec![(Labels::new(), v)];
        gauges(
            &mut enc,
            "apogee_namesrv_clusters",
            "Clusters with a registered broker.",
            None,
            &one(info.cluster_addr_table.len() as i64),
        )?;
        let rows: Vec<(Labels, i64)> = brokers
            .into_iter()
            .map(|(c, n)| (vec![("cluster", c.to_owned())], n))
            .collect();
        gauges(
            &mut enc,
            "apogee_namesrv_brokers",
            "Registered broker addresses (masters and slaves), by cluster.",
            None,
            &rows,
        )?;
        gauges(
            &mut enc,
            "apogee_namesrv_topics",
            "Topics in the route table.",
            None,
            &one(s.routes.all_topics().topic_list.len() as i64),
        )?;
        gauges(
            &mut enc,
            "apogee_namesrv_uptime",
            "Seconds since the NameServer started.",
            Some(Unit::Seconds),
            &one(s.started.elapsed().as_secs() as i64),
        )?;
        let rows: Vec<(Labels, u64)> = s
            .requests
            .rows()
            .into_iter()
            .map(|(req, resp, n)| {
                let l: Labels = vec![
                    ("protocol_type", "remoting".to_owned()),
                    ("request_code", request_name(req)),
                    ("response_code", response_name(resp)),
                ];
                (l, n)
            })
            .collect();
        counters(
            &mut enc,
            "apogee_namesrv_requests",
            "Requests answered, by request and response code.",
            &rows,
        )
    }
}
