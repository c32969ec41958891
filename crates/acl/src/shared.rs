//! The ACL a server checks against, swapped whole when `plain_acl.yml`
//! changes: a watcher polls the file's modification time and size, parses
//! a changed file, and keeps the rules it has when the new file is broken
//! (logging the error, naming the line or field, once per change).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::{Mutex, RwLock};
use tokio_util::sync::CancellationToken;

use crate::check::Denied;
use crate::file::{AclFileError, PlainAcl};

/// How often the watcher looks at the file (Java: every 5 s).
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// What identifies a version of the file without reading it.
type Stamp = Option<(SystemTime, u64)>;

/// What a look at the file found.
#[derive(Debug)]
pub enum Reload {
    Unchanged,
    Reloaded {
        accounts: usize,
    },
    /// The file changed but cannot be used; the previous rules stay.
    Failed(AclFileError),
}

/// The current ACL of one server, and where it came from.
pub struct SharedAcl {
    path: PathBuf,
    current: RwLock<Arc<PlainAcl>>,
    stamp: Mutex<Stamp>,
    /// When a denial was last logged at WARN (seconds since the epoch).
    last_denial_log: AtomicI64,
}

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl SharedAcl {
    /// Loads `path`.
    ///
    /// # Errors
    /// [`AclFileError`] naming the file, line or field.
    pub fn load(path: &Path) -> Result<Arc<SharedAcl>, AclFileError> {
        let before = stamp(path);
        let acl = PlainAcl::load(path)?;
        Ok(Arc::new(SharedAcl {
            path: path.to_path_buf(),
            current: RwLock::new(Arc::new(acl)),
            stamp: Mutex::new(before),
            last_denial_log: AtomicI64::new(0),
        }))
    }

    /// The file this ACL comes from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rules in force now.
    pub fn current(&self) -> Arc<PlainAcl> {
        self.current.read().clone()
    }

    /// Reloads the file when its time or size changed since the last look.
    /// A broken file leaves the rules as they are and is not read again
    /// until it changes once more.
    pub fn reload_if_changed(&self) -> Reload {
        let now = stamp(&self.path);
        {
            let mut seen = self.stamp.lock();
            if *seen == now {
                return Reload::Unchanged;
            }
            *seen = now;
        }
        match PlainAcl::load(&self.path) {
            Ok(acl) => {
                let accounts = acl.accounts.len();
                *self.current.write() = Arc::new(acl);
                Reload::Reloaded { accounts }
            }
            Err(e) => Reload::Failed(e),
        }
    }

    /// Logs a denial at WARN, at most once a second: a misconfigured
    /// client retries in a loop.
    pub fn log_denial(&self, peer: IpAddr, what: &str, denied: &Denied) {
        let now = protocol::clock::now_ms() / 1000;
        if self.last_denial_log.swap(now, Ordering::Relaxed) != now {
            tracing::warn!(%peer, request = what, %denied, "request denied by ACL");
        }
    }
}

/// Polls `acl`'s file every `interval` until `cancel`, logging reloads at
/// INFO and broken files at ERROR.
pub async fn watch(acl: Arc<SharedAcl>, interval: Duration, cancel: CancellationToken) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        let checked = acl.clone();
        let Ok(outcome) = tokio::task::spawn_blocking(move || checked.reload_if_changed()).await
        else {
            continue;
        };
        match outcome {
            Reload::Unchanged => {}
            Reload::Reloaded { accounts } => {
                tracing::info!(file = %acl.path().display(), accounts, "ACL file reloaded");
            }
            Reload::Failed(e) => tracing::error!(
                file = %acl.path().display(),
                error = %e,
                "ACL file changed but cannot be used; the previous rules stay in force"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "accounts:\n  - accessKey: account1\n    secretKey: secret-one\n";
    const V2: &str = "accounts:\n  - accessKey: account2\n    secretKey: secret-two\n  - accessKey: account3\n    secretKey: secret-three\n";

    /// Writes `text` and moves the modification time, so the test does
    /// not depend on the file system's time resolution.
    fn write(path: &Path, text: &str, secs: u64) {
        std::fs::write(path, text).unwrap();
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap();
    }

    #[test]
    fn a_changed_file_replaces_the_rules_and_a_broken_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain_acl.yml");
        write(&path, V1, 1_000);
        let acl = SharedAcl::load(&path).unwrap();
        assert!(matches!(acl.reload_if_changed(), Reload::Unchanged));
        assert!(acl.current().accounts.contains_key("account1"));

        write(&path, V2, 2_000);
        assert!(matches!(
            acl.reload_if_changed(),
            Reload::Reloaded { accounts: 2 }
        ));
        assert!(acl.current().accounts.contains_key("account2"));
        assert!(!acl.current().accounts.contains_key("account1"));

        write(
            &path,
            "accounts:\n  - accessKey: account4\n    secretKey: 12345678\n    defaultTopicPerm: ALL\n",
            3_000,
        );
        match acl.reload_if_changed() {
            Reload::Failed(e) => assert!(
                e.to_string().contains("accounts[0].defaultTopicPerm"),
                "{e}"
            ),
            other => panic!("expected a failure, got {other:?}"),
        }
        assert!(acl.current().accounts.contains_key("account2"));
        // Not read again until it changes.
        assert!(matches!(acl.reload_if_changed(), Reload::Unchanged));

        std::fs::remove_file(&path).unwrap();
        assert!(matches!(acl.reload_if_changed(), Reload::Failed(_)));
        assert!(acl.current().accounts.contains_key("account2"));
    }
}
