//! The ACL a server checks against, swapped whole when `plain_acl.yml` (or
//! a `*.yml` of the ACL directory, `conf/acl/` as in Java 4.9.x) changes: a
//! watcher polls the files' modification times and sizes, parses them all
//! when one changed, came or went, and keeps the rules it has when a file
//! is broken (logging the error, naming the file and its line or field,
//! once per change).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::{Mutex, RwLock};
use protocol::RemotingCommand;
use tokio_util::sync::CancellationToken;

use crate::check::Denied;
use crate::file::{AclFileError, PlainAcl};

/// How often the watcher looks at the file (Java: every 5 s).
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// What identifies a version of a file without reading it.
type Stamp = Option<(SystemTime, u64)>;
/// The files making up the ACL and their stamps (a file that comes or goes
/// in the directory changes the list).
type Stamps = Vec<(PathBuf, Stamp)>;

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
    /// Every `*.yml` in it is read too, merged with `path`.
    dir: Option<PathBuf>,
    current: RwLock<Arc<PlainAcl>>,
    stamp: Mutex<Stamps>,
    /// When a denial was last logged at WARN (seconds since the epoch).
    last_denial_log: AtomicI64,
}

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The `*.yml` files of `dir` (none if it does not exist), by name.
fn dir_files(dir: &Path) -> Result<Vec<PathBuf>, AclFileError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(AclFileError::Io {
                path: dir.display().to_string(),
                source,
            })
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| AclFileError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "yml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The main file (with a directory: if it exists) and the directory's
/// files; none when neither has any.
fn files(path: &Path, dir: Option<&Path>) -> Result<Vec<PathBuf>, AclFileError> {
    let extra: Vec<PathBuf> = match dir {
        Some(d) => dir_files(d)?.into_iter().filter(|f| f != path).collect(),
        None => Vec::new(),
    };
    let mut all = Vec::with_capacity(1 + extra.len());
    // Without a directory the main file is the ACL, there or not (its
    // absence is then the error).
    if path.exists() || dir.is_none() {
        all.push(path.to_path_buf());
    }
    all.extend(extra);
    Ok(all)
}

fn stamps(path: &Path, dir: Option<&Path>) -> Stamps {
    // A directory that cannot be listed stamps as the main file alone; the
    // load that follows reports why.
    files(path, dir)
        .unwrap_or_else(|_| vec![path.to_path_buf()])
        .into_iter()
        .map(|f| {
            let s = stamp(&f);
            (f, s)
        })
        .collect()
}

/// Reads and merges the files: one file is read as it always was; with
/// several, an error names the file it is in.
fn load_all(path: &Path, dir: Option<&Path>) -> Result<PlainAcl, AclFileError> {
    let files = files(path, dir)?;
    if let [only] = files.as_slice() {
        if only == path {
            return PlainAcl::load(path);
        }
    }
    if files.is_empty() {
        return Err(AclFileError::NoFile {
            main: path.display().to_string(),
            dir: dir.map(|d| d.display().to_string()).unwrap_or_default(),
        });
    }
    let mut parsed = Vec::with_capacity(files.len());
    for f in files {
        let acl = PlainAcl::load(&f).map_err(|e| AclFileError::InFile {
            path: f.display().to_string(),
            source: Box::new(e),
        })?;
        parsed.push((f, acl));
    }
    PlainAcl::merge(parsed)
}

impl SharedAcl {
    /// Loads `path`.
    ///
    /// # Errors
    /// [`AclFileError`] naming the file, line or field.
    pub fn load(path: &Path) -> Result<Arc<SharedAcl>, AclFileError> {
        Self::load_with_dir(path, None)
    }

    /// Loads `path` and every `*.yml` of `dir` (Java 4.9.x's `conf/acl/`),
    /// merged: `path` may then be missing, and an account defined in two
    /// files is refused.
    ///
    /// # Errors
    /// [`AclFileError`] naming the file and its line or field, or both
    /// files of a repeated account.
    pub fn load_with_dir(path: &Path, dir: Option<&Path>) -> Result<Arc<SharedAcl>, AclFileError> {
        let before = stamps(path, dir);
        let acl = load_all(path, dir)?;
        Ok(Arc::new(SharedAcl {
            path: path.to_path_buf(),
            dir: dir.map(Path::to_path_buf),
            current: RwLock::new(Arc::new(acl)),
            stamp: Mutex::new(before),
            last_denial_log: AtomicI64::new(0),
        }))
    }

    /// The main file this ACL comes from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory whose `*.yml` files are merged in, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The rules in force now.
    pub fn current(&self) -> Arc<PlainAcl> {
        self.current.read().clone()
    }

    /// [`PlainAcl::validate`] with the rules in force now, read under the
    /// lock without cloning them: every request of a broker comes here,
    /// and a clone is two more atomic writes to a count every worker
    /// thread shares.
    ///
    /// # Errors
    /// As [`PlainAcl::validate`].
    pub fn validate(&self, peer: IpAddr, req: &RemotingCommand) -> Result<(), Denied> {
        self.current.read().validate(peer, req)
    }

    /// Reloads the files when one's time or size changed, or one came or
    /// went, since the last look. A broken file leaves the rules as they
    /// are and is not read again until a file changes once more.
    pub fn reload_if_changed(&self) -> Reload {
        let now = stamps(&self.path, self.dir.as_deref());
        {
            let mut seen = self.stamp.lock();
            if *seen == now {
                return Reload::Unchanged;
            }
            *seen = now;
        }
        match load_all(&self.path, self.dir.as_deref()) {
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

    #[test]
    fn the_directory_is_merged_and_its_bad_files_keep_the_rules() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("plain_acl.yml");
        let extra = dir.path().join("acl");
        std::fs::create_dir(&extra).unwrap();
        write(&main, V1, 1_000);
        write(&extra.join("b.yml"), V2, 1_000);
        // Not a .yml: ignored.
        write(&extra.join("notes.txt"), "accounts: 5\n", 1_000);
        let acl = SharedAcl::load_with_dir(&main, Some(&extra)).unwrap();
        let names = |acl: &SharedAcl| {
            let mut n: Vec<String> = acl.current().accounts.keys().cloned().collect();
            n.sort();
            n
        };
        assert_eq!(names(&acl), ["account1", "account2", "account3"]);
        assert!(matches!(acl.reload_if_changed(), Reload::Unchanged));

        // A new broken file: named with its line, the rules stay.
        write(
            &extra.join("c.yml"),
            "accounts:\n  - accessKey: [x\n",
            2_000,
        );
        match acl.reload_if_changed() {
            Reload::Failed(e) => {
                let e = e.to_string();
                assert!(e.contains("c.yml") && e.contains("line"), "{e}");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        assert_eq!(names(&acl), ["account1", "account2", "account3"]);

        // The same account in two files: both named, the rules stay.
        write(&extra.join("c.yml"), V1, 3_000);
        match acl.reload_if_changed() {
            Reload::Failed(e) => {
                let e = e.to_string();
                assert!(
                    e.contains("account1") && e.contains("plain_acl.yml") && e.contains("c.yml"),
                    "{e}"
                );
            }
            other => panic!("expected a failure, got {other:?}"),
        }

        // Fixed: the file goes; then the main file may go too.
        std::fs::remove_file(extra.join("c.yml")).unwrap();
        assert!(matches!(
            acl.reload_if_changed(),
            Reload::Reloaded { accounts: 3 }
        ));
        std::fs::remove_file(&main).unwrap();
        assert!(matches!(
            acl.reload_if_changed(),
            Reload::Reloaded { accounts: 2 }
        ));
        assert_eq!(names(&acl), ["account2", "account3"]);

        // Nothing at all: refused at start.
        std::fs::remove_file(extra.join("b.yml")).unwrap();
        let err = SharedAcl::load_with_dir(&main, Some(&extra))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("no ACL file"), "{err}");
    }
}
