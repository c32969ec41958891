//! The broker's counters and histograms: messages and bytes in and out,
//! message sizes, request latencies.

use std::sync::Arc;

use broker::metrics::{is_system_group, is_system_topic};
use broker::state::BrokerState;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use protocol::{RequestCode, ResponseCode};

use super::encode::{counters, flag, histograms, unit, Labels};

/// Reads `BrokerState::metrics` at scrape time.
pub struct Counters(pub Arc<BrokerState>);

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Counters")
    }
}

impl Collector for Counters {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = &self.0.metrics;
        let ins = m.in_rows();
        let in_labels = |topic: &str, kind: broker::metrics::MessageType| -> Labels {
            vec![
                ("topic", topic.to_owned()),
                ("message_type", kind.as_str().to_owned()),
                ("is_system", flag(is_system_topic(topic))),
            ]
        };
        let rows: Vec<(Labels, u64)> = ins.iter().map(|r| (in_labels(&r.0, r.1), r.2)).collect();
        counters(
            &mut enc,
            "rocketmq_messages_in",
            "Messages stored by sends.",
            &rows,
        )?;
        let rows: Vec<(Labels, u64)> = ins.iter().map(|r| (in_labels(&r.0, r.1), r.3)).collect();
        counters(
            &mut enc,
            "rocketmq_throughput_in",
            "Bytes stored by sends.",
            &rows,
        )?;
        let rows: Vec<_> = ins.iter().map(|r| (in_labels(&r.0, r.1), &r.4)).collect();
        histograms(
            &mut enc,
            "rocketmq_message_size",
            "Stored size of each message.",
            None,
            &rows,
        )?;

        let outs = m.out_rows();
        let out_labels = |topic: &str, group: &str| -> Labels {
            vec![
                ("topic", topic.to_owned()),
                ("consumer_group", group.to_owned()),
                (
                    "is_system",
                    flag(is_system_topic(topic) || is_system_group(group)),
                ),
            ]
        };
        let rows: Vec<(Labels, u64)> = outs.iter().map(|r| (out_labels(&r.0, &r.1), r.2)).collect();
        counters(
            &mut enc,
            "rocketmq_messages_out",
            "Messages returned to consumers.",
            &rows,
        )?;
        let rows: Vec<(Labels, u64)> = outs.iter().map(|r| (out_labels(&r.0, &r.1), r.3)).collect();
        counters(
            &mut enc,
            "rocketmq_throughput_out",
            "Bytes returned to consumers.",
            &rows,
        )?;

        let rpc = m.rpc_rows();
        let rows: Vec<_> = rpc
            .iter()
            .map(|(req, resp, h)| {
                let labels: Labels = vec![
                    ("protocol_type", "remoting".to_owned()),
                    ("request_code", request_name(*req)),
                    ("response_code", response_name(*resp)),
                    ("result", "success".to_owned()),
                ];
                (labels, h)
            })
            .collect();
        histograms(
            &mut enc,
            "rocketmq_rpc_latency",
            "Time from a request's decode to its response.",
            unit("milliseconds"),
            &rows,
        )
    }
}

/// Java's constant name, lower-cased (`send_message_v2`), else the number.
pub(super) fn request_name(code: i32) -> String {
    match RequestCode::from_code(code) {
        RequestCode::Unknown(n) => n.to_string(),
        c => c.name().to_ascii_lowercase(),
    }
}

pub(super) fn response_name(code: i32) -> String {
    match ResponseCode::from_code(code) {
        ResponseCode::Unknown(n) => n.to_string(),
        c => c.name().to_ascii_lowercase(),
    }
}
