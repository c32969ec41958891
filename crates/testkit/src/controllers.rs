//! Controller groups for process tests: peers on free loopback ports, the
//! keys one node of the group reads, and `apogee controller` processes.

use std::path::{Path, PathBuf};

use crate::cluster::{free_port_pair, Proc};

/// The peers of one controller group, each on a free loopback port.
pub struct Peers {
    /// `host:port` of node `n{i}`: where brokers and admin tools reach it.
    pub addrs: Vec<String>,
}

impl Peers {
    /// `n` peers on free ports.
    pub fn free(n: usize) -> Peers {
        Peers {
            addrs: (0..n)
                .map(|_| format!("127.0.0.1:{}", free_port_pair()))
                .collect(),
        }
    }

    /// `controllerDLegerPeers`: `n0-host:port;n1-host:port;...`.
    pub fn dleger_peers(&self) -> String {
        self.addrs
            .iter()
            .enumerate()
            .map(|(i, a)| format!("n{i}-{a};"))
            .collect()
    }

    /// A broker's `controllerAddr`: every peer, `;`-separated.
    pub fn controller_addr(&self) -> String {
        self.addrs.join(";")
    }

    /// The controller keys of node `n{me}` (group `group1`, its Raft store
    /// under `dir`), followed by `extra` (more `key = value` lines).
    pub fn node_keys(&self, dir: &Path, me: usize, extra: &str) -> String {
        format!(
            "controllerDLegerGroup = group1\ncontrollerDLegerPeers = {}\n\
             controllerDLegerSelfId = n{me}\ncontrollerStorePath = {}\n{extra}",
            self.dleger_peers(),
            dir.join(format!("store-n{me}")).display()
        )
    }

    /// Starts `apogee controller -c FILE` for every node, each with its
    /// keys plus `extra` in `dir/controller-n{i}.conf` and its log beside it.
    pub fn start_controllers(&self, bin: &Path, dir: &Path, extra: &str) -> Vec<Proc> {
        (0..self.addrs.len())
            .map(|i| {
                let conf = write(
                    dir,
                    &format!("controller-n{i}.conf"),
                    &self.node_keys(dir, i, extra),
                );
                Proc::start(
                    &format!("n{i}"),
                    &self.addrs[i],
                    bin,
                    &["controller", "-c", &conf.display().to_string()],
                    dir.join(format!("controller-n{i}.log")),
                )
            })
            .collect()
    }
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("config file");
    path
}
