//! A process-level cluster: NameServers and brokers as separate `apogee`
//! processes on free loopback ports, each with its own data directory, and
//! the faults process tests need: SIGKILL, restart, SIGSTOP and SIGCONT.
//!
//! The binary is `$APOGEE_BIN`, else `target/release/apogee`, else
//! `target/debug/apogee` (build it with `cargo build -p apogee`). When none
//! exists [`ProcessCluster::start`] returns `None` and tests skip.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `apogee` binary to run, if one is built.
pub fn apogee_bin() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("APOGEE_BIN") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("apogee"))
        .filter(|p| p.is_file())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
}

/// One `apogee` process that can be killed, restarted, paused and resumed.
pub struct Proc {
    pub name: String,
    /// The address clients dial.
    pub addr: String,
    bin: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    /// `bin args` as a process called `name` that clients reach at `addr`,
    /// its stdout and stderr appended to `log`; started at once.
    pub fn start(name: &str, addr: &str, bin: &Path, args: &[&str], log: PathBuf) -> Proc {
        let mut p = Proc {
            name: name.to_owned(),
            addr: addr.to_owned(),
            bin: bin.to_path_buf(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            log,
            child: None,
        };
        p.spawn();
        p
    }

    fn spawn(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let err = log.try_clone().expect("log file");
        let child = Command::new(&self.bin)
            .args(&self.args)
            .env(
                "RUST_LOG",
                std::env::var("APOGEE_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("apogee starts");
        self.child = Some(child);
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL, then reaps the process.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the process again with the same arguments and data.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// SIGSTOP: the process freezes with its sockets open.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").arg(sig).arg(pid.to_string()).status();
        }
    }

    /// Waits until the process accepts TCP connections on its address.
    pub fn wait_listening(&self, limit: Duration) -> bool {
        let addr: SocketAddr = match self.addr.parse() {
            Ok(a) => a,
            Err(_) => return false,
        };
        let start = Instant::now();
        while start.elapsed() < limit {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The last `n` lines of the process log (for failure messages).
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.resume();
        self.kill();
    }
}

/// How to run one broker.
#[derive(Debug, Clone)]
pub struct BrokerSpec {
    pub broker_name: String,
    /// 0 for a master.
    pub broker_id: i64,
    /// `ASYNC_MASTER`, `SYNC_MASTER` or `SLAVE`.
    pub role: String,
    /// `ASYNC_FLUSH` or `SYNC_FLUSH`.
    pub flush: String,
    /// More broker.conf keys.
    pub extra: Vec<(String, String)>,
}

impl BrokerSpec {
    /// A broker of group `broker-a` with `role`.
    pub fn new(broker_id: i64, role: &str, flush: &str) -> Self {
        BrokerSpec {
            broker_name: "broker-a".into(),
            broker_id,
            role: role.into(),
            flush: flush.into(),
            extra: Vec::new(),
        }
    }
}

/// NameServers plus brokers, all separate processes.
pub struct ProcessCluster {
    pub namesrvs: Vec<Proc>,
    pub brokers: Vec<Proc>,
    /// Each broker's store directory (same order as `brokers`).
    pub store_dirs: Vec<PathBuf>,
    pub dir: tempfile::TempDir,
    specs: Vec<(BrokerSpec, u16)>,
}

/// A loopback port that is free now, with `port + 1` free too (the HA
/// port) and `port − 2` not needed (the VIP port is optional).
pub fn free_port_pair() -> u16 {
    for _ in 0..200 {
        let Ok(a) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = a.local_addr() else { continue };
        let port = addr.port();
        if port < 1024 || port == u16::MAX {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair on loopback");
}

impl ProcessCluster {
    /// Starts `namesrvs` NameServers and the brokers (in order), waiting
    /// until each listens. `None` when no `apogee` binary is built.
    pub fn start(namesrvs: usize, brokers: &[BrokerSpec]) -> Option<ProcessCluster> {
        let bin = apogee_bin()?;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cluster = ProcessCluster {
            namesrvs: Vec::new(),
            brokers: Vec::new(),
            store_dirs: Vec::new(),
            dir,
            specs: Vec::new(),
        };
        for i in 0..namesrvs {
            let ns_dir = cluster.dir.path().join(format!("namesrv{i}"));
            std::fs::create_dir_all(&ns_dir).expect("namesrv dir");
            let conf = ns_dir.join("namesrv.conf");
            std::fs::write(
                &conf,
                format!(
                    "kvConfigPath={}\nconfigStorePath={}\n",
                    ns_dir.join("kvConfig.json").display(),
                    ns_dir.join("namesrv.properties").display()
                ),
            )
            .expect("namesrv conf");
            let addr = format!("127.0.0.1:{}", free_port_pair());
            let mut p = Proc {
                name: format!("namesrv{i}"),
                addr: addr.clone(),
                bin: bin.clone(),
                args: vec![
                    "namesrv".into(),
                    "--listen".into(),
                    addr,
                    "-c".into(),
                    conf.display().to_string(),
                ],
                log: ns_dir.join("out.log"),
                child: None,
            };
            p.spawn();
            assert!(
                p.wait_listening(Duration::from_secs(10)),
                "namesrv did not start:\n{}",
                p.log_tail(30)
            );
            cluster.namesrvs.push(p);
        }
        for spec in brokers {
            cluster.add_broker(&bin, spec);
        }
        Some(cluster)
    }

    fn add_broker(&mut self, bin: &Path, spec: &BrokerSpec) {
        let i = self.brokers.len();
        let b_dir = self.dir.path().join(format!("broker{i}"));
        let store = b_dir.join("store");
        std::fs::create_dir_all(&b_dir).expect("broker dir");
        let port = free_port_pair();
        let mut conf = format!(
            "brokerName={}\nbrokerId={}\nbrokerRole={}\nflushDiskType={}\nlistenPort={port}\n\
             haListenPort={}\nstorePathRootDir={}\nmappedFileSizeCommitLog={}\n\
             mappedFileSizeConsumeQueue={}\nmaxHashSlotNum=10000\nmaxIndexNum=40000\n\
             brokerIP1=127.0.0.1\ndiskMaxUsedSpaceRatio=97\n\
             diskSpaceCleanForciblyRatio=98\ndiskSpaceWarningLevelRatio=99\n",
            spec.broker_name,
            spec.broker_id,
            spec.role,
            spec.flush,
            port + 1,
            store.display(),
            64u64 << 20,
            20 * 100_000,
        );
        // A slave dials its master's HA port directly rather than waiting
        // up to a registration period to learn it from the NameServers.
        if let Some(master) = self.master_ha_addr(&spec.broker_name) {
            if spec.broker_id > 0 {
                conf.push_str(&format!("haMasterAddress={master}\n"));
            }
        }
        for (k, v) in &spec.extra {
            conf.push_str(&format!("{k}={v}\n"));
        }
        let conf_path = b_dir.join("broker.conf");
        std::fs::write(&conf_path, conf).expect("broker conf");
        let addr = format!("127.0.0.1:{port}");
        let mut p = Proc {
            name: format!("broker{i}"),
            addr: addr.clone(),
            bin: bin.to_path_buf(),
            args: vec![
                "broker".into(),
                "-n".into(),
                self.namesrv_list(),
                "--listen".into(),
                addr,
                // Never the default gRPC port: other brokers run beside.
                "--grpc-listen".into(),
                "127.0.0.1:0".into(),
                "-c".into(),
                conf_path.display().to_string(),
            ],
            log: b_dir.join("out.log"),
            child: None,
        };
        p.spawn();
        assert!(
            p.wait_listening(Duration::from_secs(15)),
            "broker did not start:\n{}",
            p.log_tail(30)
        );
        self.brokers.push(p);
        self.store_dirs.push(store);
        self.specs.push((spec.clone(), port));
    }

    /// The HA address of the master (id 0) of `broker_name`, if started.
    fn master_ha_addr(&self, broker_name: &str) -> Option<String> {
        self.specs
            .iter()
            .find(|(s, _)| s.broker_name == broker_name && s.broker_id == 0)
            .map(|(_, port)| format!("127.0.0.1:{}", port + 1))
    }

    /// The NameServer addresses, `;`-separated.
    pub fn namesrv_list(&self) -> String {
        self.namesrvs
            .iter()
            .map(|p| p.addr.clone())
            .collect::<Vec<_>>()
            .join(";")
    }
}
