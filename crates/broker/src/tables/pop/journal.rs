//! The POP journal: every change to POP state is appended here as one JSON
//! line before it takes effect or is answered, so a broker killed at any
//! moment rebuilds the same in-flight set and cursors on restart.
//!
//! Files under `{storePathRootDir}/pop/`: `journal.{n}` (append-only) and
//! `snapshot.{n}` (the whole state when generation `n` began). Compaction
//! switches writers to `journal.{n+1}` first, then writes `snapshot.{n+1}`
//! (temporary file, fsync, rename), then deletes older generations. Entries
//! are assignments, so one that both the snapshot and the new journal hold
//! replays harmlessly. A line is written with one `write` call: a kill -9
//! cannot tear it (the page cache outlives the process); a power cut can
//! lose the tail, which recovery drops at the last whole line.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use super::error::{PopError, PopResult};
use super::table::{Record, Tables};

/// Journal size after which the revive task compacts it.
pub const COMPACT_BYTES: u64 = 16 * 1024 * 1024;

/// The open journal.
pub struct Journal {
    dir: PathBuf,
    current: Mutex<Current>,
}

struct Current {
    file: File,
    generation: u64,
    bytes: u64,
}

fn journal_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("journal.{generation}"))
}

fn snapshot_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("snapshot.{generation}"))
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> PopError {
    PopError::Journal(format!("{what} {}: {e}", path.display()))
}

impl Journal {
    /// Opens the journal under `dir`, replays it into `tables`, and starts
    /// a fresh generation from a snapshot of the result (which also drops
    /// a torn last line).
    ///
    /// # Errors
    /// [`PopError::Journal`] when the directory or a file cannot be read or
    /// written.
    pub fn open(dir: &Path, tables: &Tables) -> PopResult<Journal> {
        fs::create_dir_all(dir).map_err(|e| io_err("cannot create", dir, e))?;
        let (snapshots, journals) = generations(dir)?;
        let base = snapshots.iter().copied().max().unwrap_or(0);
        if snapshots.contains(&base) {
            replay_file(&snapshot_path(dir, base), tables)?;
        }
        for g in journals.iter().copied().filter(|g| *g >= base) {
            replay_file(&journal_path(dir, g), tables)?;
        }
        let next = journals.iter().copied().max().unwrap_or(0).max(base) + 1;
        let path = journal_path(dir, next);
        let file = open_append(&path)?;
        let journal = Journal {
            dir: dir.to_owned(),
            current: Mutex::new(Current {
                file,
                generation: next,
                bytes: 0,
            }),
        };
        journal.write_snapshot(next, tables)?;
        journal.remove_older_than(next);
        Ok(journal)
    }

    /// Appends one entry.
    ///
    /// # Errors
    /// [`PopError::Journal`] when the write fails (the caller then changes
    /// nothing).
    pub fn append(&self, record: &Record) -> PopResult<()> {
        let mut line = serde_json::to_vec(record)
            .map_err(|e| PopError::Journal(format!("cannot encode a journal entry: {e}")))?;
        line.push(b'\n');
        let mut cur = self.current.lock();
        if let Err(e) = cur.file.write_all(&line) {
            // A part of the line may have been written (a full disk): cut
            // it off, or the next line would be glued to it and lost.
            let _ = cur.file.set_len(cur.bytes);
            let path = journal_path(&self.dir, cur.generation);
            return Err(io_err("cannot append to", &path, e));
        }
        cur.bytes += line.len() as u64;
        Ok(())
    }

    /// Whether the journal has grown enough to compact.
    pub fn wants_compaction(&self) -> bool {
        self.current.lock().bytes >= COMPACT_BYTES
    }

    /// Starts a new generation and writes the snapshot it begins with.
    ///
    /// # Errors
    /// [`PopError::Journal`] on a file error; the old generation stays
    /// valid for recovery.
    pub fn compact(&self, tables: &Tables) -> PopResult<()> {
        let next = {
            let mut cur = self.current.lock();
            let next = cur.generation + 1;
            let file = open_append(&journal_path(&self.dir, next))?;
            *cur = Current {
                file,
                generation: next,
                bytes: 0,
            };
            next
        };
        self.write_snapshot(next, tables)?;
        self.remove_older_than(next);
        Ok(())
    }

    /// Flushes the current generation to disk (clean shutdown).
    pub fn sync(&self) {
        let cur = self.current.lock();
        if let Err(e) = cur.file.sync_data() {
            tracing::warn!("pop journal sync failed: {e}");
        }
    }

    fn write_snapshot(&self, generation: u64, tables: &Tables) -> PopResult<()> {
        let mut text = Vec::new();
        for (key, q) in tables.all() {
            let q = q.lock();
            let rec = Record::Pop {
                key,
                next: q.cursor,
                items: q.inflight.values().cloned().collect(),
            };
            serde_json::to_writer(&mut text, &rec)
                .map_err(|e| PopError::Journal(format!("cannot encode the snapshot: {e}")))?;
            text.push(b'\n');
        }
        let path = snapshot_path(&self.dir, generation);
        let tmp = path.with_extension("tmp");
        let mut f = File::create(&tmp).map_err(|e| io_err("cannot create", &tmp, e))?;
        f.write_all(&text)
            .and_then(|()| f.sync_all())
            .map_err(|e| io_err("cannot write", &tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| io_err("cannot rename", &tmp, e))?;
        if let Ok(d) = File::open(&self.dir) {
            // The rename is durable only once the directory is.
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn remove_older_than(&self, generation: u64) {
        let Ok((snapshots, journals)) = generations(&self.dir) else {
            return;
        };
        for g in snapshots.into_iter().filter(|g| *g < generation) {
            let _ = fs::remove_file(snapshot_path(&self.dir, g));
        }
        for g in journals.into_iter().filter(|g| *g < generation) {
            let _ = fs::remove_file(journal_path(&self.dir, g));
        }
    }
}

fn open_append(path: &Path) -> PopResult<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io_err("cannot open", path, e))
}

/// Generations present: (snapshots, journals).
fn generations(dir: &Path) -> PopResult<(Vec<u64>, Vec<u64>)> {
    let mut snapshots = Vec::new();
    let mut journals = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_err("cannot list", dir, e))? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(g) = name.strip_prefix("snapshot.").and_then(|g| g.parse().ok()) {
            snapshots.push(g);
        } else if let Some(g) = name.strip_prefix("journal.").and_then(|g| g.parse().ok()) {
            journals.push(g);
        }
    }
    journals.sort_unstable();
    Ok((snapshots, journals))
}

/// Applies every whole line of a file; a line that does not parse is
/// skipped with a warning (only a power cut leaves one, at the end).
fn replay_file(path: &Path, tables: &Tables) -> PopResult<()> {
    let f = File::open(path).map_err(|e| io_err("cannot open", path, e))?;
    for (n, line) in BufReader::new(f).split(b'\n').enumerate() {
        let line = line.map_err(|e| io_err("cannot read", path, e))?;
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Record>(&line) {
            Ok(rec) => tables.apply(&rec),
            Err(e) => tracing::warn!(
                file = %path.display(),
                line = n + 1,
                "skipping an unreadable pop journal line: {e}"
            ),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::table::{InFlight, QueueKey};
    use super::*;

    fn key(q: i32) -> QueueKey {
        QueueKey {
            group: "G".into(),
            topic: "T".into(),
            queue_id: q,
        }
    }

    fn pop(q: i32, offset: u64) -> Record {
        Record::Pop {
            key: key(q),
            next: offset + 1,
            items: vec![InFlight {
                offset,
                ck_offset: offset,
                first_pop: 1,
                pop_time: 1,
                invisible_ms: 10,
                attempt: 1,
                order: false,
            }],
        }
    }

    fn state(tables: &Tables, q: i32) -> (u64, Vec<u64>) {
        let s = tables.queue(&key(q), || 0);
        let s = s.lock();
        (s.cursor, s.inflight.keys().copied().collect())
    }

    #[test]
    fn reopen_rebuilds_cursors_and_inflight() {
        let dir = tempfile::tempdir().unwrap();
        let tables = Tables::default();
        let j = Journal::open(dir.path(), &tables).unwrap();
        for (q, o) in [(0, 0), (0, 1), (1, 5)] {
            let r = pop(q, o);
            j.append(&r).unwrap();
            tables.apply(&r);
        }
        j.append(&Record::Settle {
            key: key(0),
            offset: 0,
        })
        .unwrap();
        drop(j);
        let again = Tables::default();
        let _j = Journal::open(dir.path(), &again).unwrap();
        assert_eq!(state(&again, 0), (2, vec![1]));
        assert_eq!(state(&again, 1), (6, vec![5]));
    }

    #[test]
    fn compaction_keeps_state_and_drops_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let tables = Tables::default();
        let j = Journal::open(dir.path(), &tables).unwrap();
        let r = pop(0, 3);
        j.append(&r).unwrap();
        tables.apply(&r);
        j.compact(&tables).unwrap();
        let r = pop(0, 4);
        j.append(&r).unwrap();
        drop(j);
        let (snaps, journals) = generations(dir.path()).unwrap();
        assert_eq!((snaps.len(), journals.len()), (1, 1));
        let again = Tables::default();
        let _j = Journal::open(dir.path(), &again).unwrap();
        assert_eq!(state(&again, 0), (5, vec![3, 4]));
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let tables = Tables::default();
        let j = Journal::open(dir.path(), &tables).unwrap();
        j.append(&pop(0, 0)).unwrap();
        let generation = j.current.lock().generation;
        drop(j);
        let mut f = open_append(&journal_path(dir.path(), generation)).unwrap();
        f.write_all(br#"{"k":"pop","g":"G","#).unwrap();
        let again = Tables::default();
        let _j = Journal::open(dir.path(), &again).unwrap();
        assert_eq!(state(&again, 0), (1, vec![0]));
    }
}
