//! Atomic JSON metadata files under `config/` (topics.json,
//! consumerOffset.json, …): write to a temp file, fsync, keep the previous
//! version as `.bak`, rename into place, fsync the directory. Loading falls
//! back to `.bak` when the main file is missing or not valid JSON.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError};
use crate::mapped_file::sync_dir;

/// One metadata file.
#[derive(Debug, Clone)]
pub struct MetadataFile {
    path: PathBuf,
}

impl MetadataFile {
    /// The file `name` in `dir` (e.g. `config/`, `topics.json`).
    pub fn new(dir: &Path, name: &str) -> Self {
        Self {
            path: dir.join(name),
        }
    }

    /// Path of the main file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        self.path.with_file_name(name)
    }

    /// The content, from the main file or else `.bak`; `None` when neither
    /// exists.
    ///
    /// # Errors
    /// [`StoreError::Metadata`] when the files exist but none is valid JSON
    /// (in fastjson's dialect, which allows unquoted integer keys).
    pub fn load(&self) -> Result<Option<String>> {
        // fastjson's dialect: Java writes integer map keys unquoted.
        self.load_with(|text| {
            protocol::body::fastjson::parse(text.as_bytes())
                .map(|_| text.to_owned())
                .map_err(|e| e.to_string())
        })
    }

    /// Reads the main file, or else `.bak`, through `parse`, and returns the
    /// first version `parse` accepts; `None` when neither file exists. The
    /// caller's parser decides what is valid, so files in fastjson's dialect
    /// (unquoted integer keys in consumerOffset.json) load, and a file that
    /// is JSON but not the expected shape still falls back to `.bak`.
    ///
    /// # Errors
    /// [`StoreError::Metadata`] when the files exist but `parse` accepts none.
    pub fn load_with<T>(
        &self,
        mut parse: impl FnMut(&str) -> std::result::Result<T, String>,
    ) -> Result<Option<T>> {
        let mut reasons = Vec::new();
        for path in [self.path.clone(), self.sibling(".bak")] {
            match std::fs::read_to_string(&path) {
                Ok(text) => match parse(&text) {
                    Ok(value) => return Ok(Some(value)),
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "unparsable metadata file");
                        reasons.push(format!("{}: {e}", path.display()));
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => reasons.push(format!("{}: {e}", path.display())),
            }
        }
        if reasons.is_empty() {
            Ok(None)
        } else {
            Err(StoreError::Metadata {
                path: self.path.clone(),
                reason: reasons.join("; "),
            })
        }
    }

    /// Replaces the content atomically; the previous content becomes `.bak`.
    ///
    /// # Errors
    /// I/O failures (the previous file is then untouched).
    pub fn save(&self, content: &str) -> Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let tmp = self.sibling(".tmp");
        let mut f = std::fs::File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
        f.write_all(content.as_bytes())
            .map_err(|e| StoreError::io(&tmp, e))?;
        f.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
        drop(f);
        if self.path.exists() {
            let bak = self.sibling(".bak");
            // Copy rather than rename, so the main name never disappears.
            std::fs::copy(&self.path, &bak).map_err(|e| StoreError::io(&bak, e))?;
            std::fs::File::open(&bak)
                .and_then(|b| b.sync_all())
                .map_err(|e| StoreError::io(&bak, e))?;
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| StoreError::io(&self.path, e))?;
        sync_dir(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_and_bak_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let m = MetadataFile::new(&dir.path().join("config"), "topics.json");
        assert_eq!(m.load().unwrap(), None);
        m.save(r#"{"a":1}"#).unwrap();
        assert_eq!(m.load().unwrap().as_deref(), Some(r#"{"a":1}"#));
        m.save(r#"{"a":2}"#).unwrap();
        assert_eq!(m.load().unwrap().as_deref(), Some(r#"{"a":2}"#));
        // A torn main file falls back to the previous version.
        std::fs::write(m.path(), "{\"a\":").unwrap();
        assert_eq!(m.load().unwrap().as_deref(), Some(r#"{"a":1}"#));
        // Missing main file also falls back.
        std::fs::remove_file(m.path()).unwrap();
        assert_eq!(m.load().unwrap().as_deref(), Some(r#"{"a":1}"#));
        // Both broken: a clear error naming the file.
        std::fs::write(m.path(), "x").unwrap();
        std::fs::write(m.path().with_file_name("topics.json.bak"), "y").unwrap();
        assert!(m.load().unwrap_err().to_string().contains("topics.json"));
        assert!(!m.path().with_file_name("topics.json.tmp").exists());
    }

    #[test]
    fn java_style_integer_keys_load() {
        let dir = tempfile::tempdir().unwrap();
        let m = MetadataFile::new(dir.path(), "consumerOffset.json");
        let text = r#"{"offsetTable":{"T@G":{0:250,1:248}}}"#;
        m.save(text).unwrap();
        assert_eq!(m.load().unwrap().as_deref(), Some(text));
    }

    #[test]
    fn load_with_uses_the_callers_parser_for_the_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let m = MetadataFile::new(&dir.path().join("config"), "consumerOffset.json");
        let dialect = |t: &str| {
            t.starts_with("{\"offsetTable\"")
                .then_some(t.len())
                .ok_or_else(|| "not an offset table".to_owned())
        };
        assert_eq!(m.load_with(dialect).unwrap(), None);
        // fastjson's unquoted keys are not JSON, but the caller accepts them.
        m.save(r#"{"offsetTable":{"T@G":{0:1}}}"#).unwrap();
        assert_eq!(m.load_with(dialect).unwrap(), Some(29));
        // Valid JSON of the wrong shape falls back to the previous version.
        m.save(r#"{"other":1}"#).unwrap();
        assert_eq!(m.load_with(dialect).unwrap(), Some(29));
        std::fs::write(m.path().with_file_name("consumerOffset.json.bak"), "[]").unwrap();
        let e = m.load_with(dialect).unwrap_err().to_string();
        assert!(e.contains("not an offset table"), "{e}");
    }
}
