//! The brokerIdentity file (reference controller.md §3.3): the id the
//! controller gave this broker, `cluster#brokerName#id`, written through
//! `<file>-temp` (`cluster#brokerName#id#checkCode`) while the controller
//! has not confirmed the id yet, with a `.bak` of the previous content.

use std::io;
use std::path::{Path, PathBuf};

use super::error::ControllerModeError as E;

/// What the identity files say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// No file: ask the controller for an id.
    None,
    /// Applied for `id` with `check_code`, not confirmed yet.
    Pending { id: i64, check_code: String },
    /// The controller confirmed `id`.
    Confirmed(i64),
}

/// The identity files of one broker.
pub struct IdentityFile {
    path: PathBuf,
    cluster: String,
    broker_name: String,
}

impl IdentityFile {
    pub fn new(path: &Path, cluster: &str, broker_name: &str) -> IdentityFile {
        IdentityFile {
            path: path.to_owned(),
            cluster: cluster.to_owned(),
            broker_name: broker_name.to_owned(),
        }
    }

    fn temp(&self) -> PathBuf {
        suffixed(&self.path, "-temp")
    }

    /// Reads the files.
    ///
    /// # Errors
    /// A file that cannot be read or parsed, or one written for another
    /// cluster or broker name (delete it to rejoin under the new name).
    pub fn load(&self) -> Result<Identity, E> {
        let bak = suffixed(&self.path, ".bak");
        let main = read(&self.path).map_err(io_error(&self.path))?;
        let text = match main {
            Some(t) => Some(t),
            None => read(&bak).map_err(io_error(&bak))?,
        };
        if let Some(text) = text {
            let id = self.parse(&text, 3)?.0;
            return Ok(Identity::Confirmed(id));
        }
        let temp = self.temp();
        if let Some(text) = read(&temp).map_err(io_error(&temp))? {
            let (id, code) = self.parse(&text, 4)?;
            return Ok(Identity::Pending {
                id,
                check_code: code.unwrap_or_default(),
            });
        }
        Ok(Identity::None)
    }

    fn parse(&self, text: &str, fields: usize) -> Result<(i64, Option<String>), E> {
        let path = self.path.clone();
        let parts: Vec<&str> = text.trim().splitn(fields, '#').collect();
        if parts.len() != fields {
            return Err(E::IdentityMalformed {
                path,
                text: text.trim().to_owned(),
            });
        }
        if parts[0] != self.cluster || parts[1] != self.broker_name {
            return Err(E::IdentityOwner {
                path,
                found: format!("{}/{}", parts[0], parts[1]),
                ours: format!("{}/{}", self.cluster, self.broker_name),
            });
        }
        let id = parts[2].parse().map_err(|_| E::IdentityBadId {
            path: path.clone(),
            text: parts[2].to_owned(),
        })?;
        Ok((id, parts.get(3).map(|s| (*s).to_owned())))
    }

    /// Records an application for `id` before sending it.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write_pending(&self, id: i64, check_code: &str) -> Result<(), E> {
        let temp = self.temp();
        write(
            &temp,
            &format!("{}#{}#{id}#{check_code}", self.cluster, self.broker_name),
        )
        .map_err(io_error(&temp))
    }

    /// Forgets a refused application.
    ///
    /// # Errors
    /// The file exists and cannot be removed.
    pub fn drop_pending(&self) -> Result<(), E> {
        let temp = self.temp();
        match std::fs::remove_file(&temp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error(&temp)(e)),
            _ => Ok(()),
        }
    }

    /// Records the confirmed id and drops the application.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn confirm(&self, id: i64) -> Result<(), E> {
        if self.path.exists() {
            let bak = suffixed(&self.path, ".bak");
            std::fs::copy(&self.path, &bak).map_err(io_error(&bak))?;
        }
        write(
            &self.path,
            &format!("{}#{}#{id}", self.cluster, self.broker_name),
        )
        .map_err(io_error(&self.path))?;
        self.drop_pending()
    }
}

/// Maps an I/O error on `path`.
fn io_error(path: &Path) -> impl Fn(io::Error) -> E {
    let path = path.to_owned();
    move |source| E::IdentityIo {
        path: path.clone(),
        source,
    }
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn read(path: &Path) -> io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(t) if t.trim().is_empty() => Ok(None),
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn write(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = suffixed(path, ".tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_then_confirmed_and_names_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("brokerIdentity");
        let f = IdentityFile::new(&path, "c", "b");
        assert_eq!(f.load().unwrap(), Identity::None);
        f.write_pending(2, "127.0.0.1:1;5").unwrap();
        assert_eq!(
            f.load().unwrap(),
            Identity::Pending {
                id: 2,
                check_code: "127.0.0.1:1;5".into()
            }
        );
        f.confirm(2).unwrap();
        assert_eq!(f.load().unwrap(), Identity::Confirmed(2));
        let other = IdentityFile::new(&path, "c", "renamed");
        assert!(other
            .load()
            .unwrap_err()
            .to_string()
            .contains("delete the file"));
    }
}
