//! Process figures from Linux `/proc/self` (absent elsewhere): resident
//! memory, open file descriptors, threads, CPU time.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Unit;

use super::encode::{gauges, Labels};

/// The process collector.
#[derive(Debug)]
pub struct Process;

impl Collector for Process {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| -> Option<i64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        };
        let row = |v: Option<i64>| -> Vec<(Labels, i64)> {
            v.map(|v| vec![(Labels::new(), v)]).unwrap_or_default()
        };
        gauges(
            &mut enc,
            "process_resident_memory",
            "Resident set size.",
            Some(Unit::Bytes),
            &row(field("VmRSS:").map(|kb| kb * 1024)),
        )?;
        gauges(
            &mut enc,
            "process_virtual_memory",
            "Virtual memory size.",
            Some(Unit::Bytes),
            &row(field("VmSize:").map(|kb| kb * 1024)),
        )?;
        gauges(
            &mut enc,
            "process_threads",
            "Threads of the process.",
            None,
            &row(field("Threads:")),
        )?;
        let fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as i64);
        gauges(
            &mut enc,
            "process_open_fds",
            "Open file descriptors.",
            None,
            &row(fds),
        )
    }
}
