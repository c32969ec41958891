//! CPU time of the broker under load and of the bench itself, from
//! `/proc/PID/stat` (utime + stime of every thread), so every figure a
//! bench prints carries what it cost: µs of CPU per message.

use std::path::Path;
use std::time::Instant;

/// Clock ticks (of `/proc/PID/stat`) and when they were read.
#[derive(Debug, Clone, Copy)]
struct Reading {
    at: Instant,
    broker: Option<u64>,
    client: Option<u64>,
}

/// CPU spent per message over one stretch of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuPerMsg {
    /// The broker's (None: no broker process to read).
    pub broker_us: Option<f64>,
    /// This process's own (the client library and the bench).
    pub client_us: Option<f64>,
    /// Cores the broker kept busy over the stretch.
    pub broker_cores: Option<f64>,
}

impl CpuPerMsg {
    /// ` | Broker CPU(us/msg): … | Client CPU(us/msg): …` for the lines.
    pub fn line(&self) -> String {
        let f = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
        format!(
            " | Broker CPU(us/msg): {} | Client CPU(us/msg): {}",
            f(self.broker_us),
            f(self.client_us)
        )
    }

    /// Adds the figures to a JSON summary.
    pub fn add_to(&self, j: &mut serde_json::Value) {
        j["broker_cpu_us_per_msg"] = self.broker_us.into();
        j["client_cpu_us_per_msg"] = self.client_us.into();
        j["broker_cores"] = self.broker_cores.into();
    }
}

/// Watches the broker process (when known) and this process.
#[derive(Debug)]
pub struct CpuProbe {
    broker: Option<u32>,
    ticks_per_sec: f64,
    last: Reading,
    start: Reading,
}

impl CpuProbe {
    /// A probe of `broker` (a pid) and of this process, starting now.
    pub fn new(broker: Option<u32>) -> CpuProbe {
        let ticks_per_sec = rustix::param::clock_ticks_per_second() as f64;
        let mut p = CpuProbe {
            broker,
            ticks_per_sec: if ticks_per_sec > 0.0 {
                ticks_per_sec
            } else {
                100.0
            },
            last: Reading {
                at: Instant::now(),
                broker: None,
                client: None,
            },
            start: Reading {
                at: Instant::now(),
                broker: None,
                client: None,
            },
        };
        p.restart();
        p
    }

    fn read(&self) -> Reading {
        Reading {
            at: Instant::now(),
            broker: self
                .broker
                .and_then(|pid| process_ticks(&Path::new("/proc").join(pid.to_string()))),
            client: process_ticks(Path::new("/proc/self")),
        }
    }

    /// Starts counting afresh (end of a warm-up).
    pub fn restart(&mut self) {
        self.start = self.read();
        self.last = self.start;
    }

    /// CPU per message since the last call, for `msgs` messages.
    pub fn window(&mut self, msgs: u64) -> CpuPerMsg {
        let now = self.read();
        let out = self.per_msg(&self.last, &now, msgs);
        self.last = now;
        out
    }

    /// CPU per message since the start, for `msgs` messages.
    pub fn total(&self, msgs: u64) -> CpuPerMsg {
        self.per_msg(&self.start, &self.read(), msgs)
    }

    fn per_msg(&self, a: &Reading, b: &Reading, msgs: u64) -> CpuPerMsg {
        let us = |x: Option<u64>, y: Option<u64>| match (x, y) {
            (Some(x), Some(y)) => Some(y.saturating_sub(x) as f64 * 1e6 / self.ticks_per_sec),
            _ => None,
        };
        let per = |v: Option<f64>| v.filter(|_| msgs > 0).map(|v| v / msgs as f64);
        let broker = us(a.broker, b.broker);
        let wall = b.at.duration_since(a.at).as_secs_f64();
        CpuPerMsg {
            broker_us: per(broker),
            client_us: per(us(a.client, b.client)),
            broker_cores: broker.filter(|_| wall > 0.0).map(|v| v / 1e6 / wall),
        }
    }
}

/// utime + stime (fields 14 and 15) of `/proc/PID/stat`, all threads.
fn process_ticks(dir: &Path) -> Option<u64> {
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    parse_stat_ticks(&stat)
}

/// The command name (field 2) is in parentheses and may hold spaces and
/// parentheses itself, so fields are counted after its last `)`.
fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // After the name: state is field 3, so utime (14) is the 12th here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The broker to watch: `--broker-pid`, else the one local process that
/// runs `apogee broker` or `apogee standalone` (none when there is not
/// exactly one).
pub fn find_broker(explicit: Option<u32>) -> Option<u32> {
    if explicit.is_some() {
        return explicit;
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if is_broker_cmdline(&cmdline) {
            found.push(pid);
        }
    }
    match found.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

fn is_broker_cmdline(cmdline: &[u8]) -> bool {
    let mut args = cmdline
        .split(|b| *b == 0)
        .map(|a| std::str::from_utf8(a).unwrap_or(""));
    let is_apogee = args
        .next()
        .is_some_and(|a| a.rsplit('/').next() == Some("apogee"));
    is_apogee && args.any(|a| a == "broker" || a == "standalone")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_ticks_skip_a_name_with_spaces_and_parentheses() {
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    1234 567 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_stat_ticks(stat), Some(1801));
        assert_eq!(parse_stat_ticks("garbage"), None);
        assert_eq!(parse_stat_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn our_own_ticks_are_readable_and_grow() {
        let a = process_ticks(Path::new("/proc/self")).unwrap();
        // Burn a little CPU: the count never goes back.
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        assert!(process_ticks(Path::new("/proc/self")).unwrap() >= a);
    }

    #[test]
    fn broker_command_lines() {
        assert!(is_broker_cmdline(
            b"/x/target/release/apogee\0standalone\0-c\0f"
        ));
        assert!(is_broker_cmdline(b"apogee\0broker\0"));
        assert!(!is_broker_cmdline(b"apogee\0bench\0produce"));
        assert!(!is_broker_cmdline(b"java\0broker"));
    }

    #[test]
    fn per_message_figures() {
        let mut p = CpuProbe::new(None);
        let w = p.window(0);
        assert_eq!(w.broker_us, None);
        assert_eq!(w.client_us, None, "no messages, no per-message figure");
        let t = p.total(10);
        assert!(t.client_us.is_some_and(|v| v >= 0.0));
        assert!(t.line().contains("Broker CPU(us/msg): -"));
    }
}
