//! Writing families of series through prometheus-client's encoder.

use std::collections::HashMap;
use std::fmt::Result;

use broker::metrics::HistogramSnapshot;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

/// A series' labels beyond the registry's common ones.
pub type Labels = Vec<(&'static str, String)>;

type NoExemplar<V> = Option<&'static Exemplar<NoLabelSet, V>>;
type NoExemplars = Option<&'static HashMap<usize, Exemplar<NoLabelSet, f64>>>;

/// The unit suffix OpenTelemetry's Prometheus exporter adds.
pub fn unit(name: &str) -> Option<Unit> {
    Some(Unit::Other(name.to_owned()))
}

/// A counter family (`_total` is appended to `name`).
pub fn counters(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: &[(Labels, u64)],
) -> Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in rows {
        let none: NoExemplar<u64> = None;
        m.encode_family(labels)?.encode_counter(v, none)?;
    }
    Ok(())
}

/// A gauge family.
pub fn gauges(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit_name: Option<Unit>,
    rows: &[(Labels, i64)],
) -> Result {
    let mut m = enc.encode_descriptor(name, help, unit_name.as_ref(), MetricType::Gauge)?;
    for (labels, v) in rows {
        m.encode_family(labels)?.encode_gauge(v)?;
    }
    Ok(())
}

/// A histogram family.
pub fn histograms(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit_name: Option<Unit>,
    rows: &[(Labels, &HistogramSnapshot)],
) -> Result {
    let mut m = enc.encode_descriptor(name, help, unit_name.as_ref(), MetricType::Histogram)?;
    for (labels, h) in rows {
        let none: NoExemplars = None;
        m.encode_family(labels)?
            .encode_histogram(h.sum as f64, h.count, &h.buckets, none)?;
    }
    Ok(())
}

/// `"true"` / `"false"`, as Java prints boolean attributes.
pub fn flag(b: bool) -> String {
    b.to_string()
}
