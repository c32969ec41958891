//! The epoch file of controller mode (Java's `EpochFileCache`, reference
//! controller.md §4.5): which master epoch wrote which commit-log range.
//! Text: the entry count, the CRC32 (masked 0x7FFFFFFF, 0 = unchecked) of
//! the entry lines with their newlines, then `epoch-startOffset` lines.
//! The previous content is copied to `<file>.bak` before each rewrite and
//! reads fall back to it. An entry ends where the next starts; the last
//! one is open-ended.

use std::io;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

/// One epoch and the commit-log offset its master started writing at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: u64,
}

/// The epoch list, on disk and in memory.
pub struct EpochFile {
    path: PathBuf,
    entries: Mutex<Vec<EpochEntry>>,
}

impl EpochFile {
    /// Reads `path` (or its `.bak` when the file is missing or damaged);
    /// neither existing is an empty list.
    ///
    /// # Errors
    /// Both the file and its backup exist but neither parses.
    pub fn open(path: &Path) -> io::Result<EpochFile> {
        let bak = backup_path(path);
        let mut first_error = None;
        let mut entries = None;
        for p in [path, bak.as_path()] {
            match std::fs::read_to_string(p) {
                Ok(text) => match parse(&text) {
                    Ok(e) => {
                        entries = Some(e);
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(file = %p.display(), error = %e, "damaged epoch file");
                        first_error.get_or_insert(e);
                    }
                },
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let entries = match (entries, first_error) {
            (Some(e), _) => e,
            (None, None) => Vec::new(),
            (None, Some(e)) => return Err(e),
        };
        Ok(EpochFile {
            path: path.to_owned(),
            entries: Mutex::new(entries),
        })
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> Vec<EpochEntry> {
        self.entries.lock().clone()
    }

    /// The newest epoch (None: the list is empty).
    pub fn last_epoch(&self) -> Option<i32> {
        self.entries.lock().last().map(|e| e.epoch)
    }

    /// The entry that holds `offset` (None before the first entry).
    pub fn epoch_at(&self, offset: u64) -> Option<EpochEntry> {
        self.entries
            .lock()
            .iter()
            .rev()
            .find(|e| e.start_offset <= offset)
            .copied()
    }

    /// A master of `epoch` starts writing at `start`: entries that start
    /// at or after `start` (they hold no data below it) and entries of
    /// `epoch` or newer are dropped, then the entry is appended.
    ///
    /// # Errors
    /// An older epoch than one kept (a stale master must not write), or
    /// the file cannot be written.
    pub fn begin(&self, epoch: i32, start: u64) -> io::Result<()> {
        let mut entries = self.entries.lock();
        let mut next = entries.clone();
        next.retain(|e| e.start_offset < start && e.epoch < epoch);
        if entries
            .iter()
            .any(|e| e.epoch > epoch && e.start_offset < start)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("epoch {epoch} is older than an epoch already holding data"),
            ));
        }
        next.push(EpochEntry {
            epoch,
            start_offset: start,
        });
        self.write(&next)?;
        *entries = next;
        Ok(())
    }

    /// Drops the entries starting at or after `offset` (the commit log was
    /// cut there).
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn truncate_from(&self, offset: u64) -> io::Result<()> {
        let mut entries = self.entries.lock();
        let next: Vec<EpochEntry> = entries
            .iter()
            .copied()
            .filter(|e| e.start_offset < offset)
            .collect();
        if next.len() == entries.len() {
            return Ok(());
        }
        self.write(&next)?;
        *entries = next;
        Ok(())
    }

    /// Replaces the whole list (a slave adopting its master's epochs).
    ///
    /// # Errors
    /// The list is not increasing in epoch and offset, or the file cannot
    /// be written.
    pub fn replace(&self, next: Vec<EpochEntry>) -> io::Result<()> {
        if next
            .windows(2)
            .any(|w| w[1].epoch <= w[0].epoch || w[1].start_offset < w[0].start_offset)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "epoch entries must increase in epoch and offset",
            ));
        }
        let mut entries = self.entries.lock();
        if *entries == next {
            return Ok(());
        }
        self.write(&next)?;
        *entries = next;
        Ok(())
    }

    fn write(&self, entries: &[EpochEntry]) -> io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        if self.path.exists() {
            std::fs::copy(&self.path, backup_path(&self.path))?;
        }
        let tmp = self.path.with_extension("tmp");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(render(entries).as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)
    }
}

fn backup_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".bak");
    PathBuf::from(s)
}

/// The file text for `entries`.
pub fn render(entries: &[EpochEntry]) -> String {
    let lines: String = entries
        .iter()
        .map(|e| format!("{}-{}\n", e.epoch, e.start_offset))
        .collect();
    let crc = crc32fast::hash(lines.as_bytes()) & 0x7FFF_FFFF;
    format!("{}\n{crc}\n{lines}", entries.len())
}

/// Parses the file text.
///
/// # Errors
/// A missing count or CRC line, a bad entry, a count or CRC that does not
/// match.
pub fn parse(text: &str) -> io::Result<Vec<EpochEntry>> {
    let bad = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    let mut lines = text.split_inclusive('\n');
    let count: usize = lines
        .next()
        .map(str::trim)
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| bad("the first line is not an entry count".into()))?;
    let crc: u32 = lines
        .next()
        .map(str::trim)
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| bad("the second line is not a CRC".into()))?;
    let rest: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
    if crc != 0 {
        let joined: String = rest.concat();
        let actual = crc32fast::hash(joined.as_bytes()) & 0x7FFF_FFFF;
        if actual != crc {
            return Err(bad(format!("CRC {actual} does not match the stored {crc}")));
        }
    }
    if rest.len() != count {
        return Err(bad(format!(
            "{} entries where the count says {count}",
            rest.len()
        )));
    }
    rest.iter()
        .map(|l| {
            let l = l.trim();
            let (e, s) = l
                .split_once('-')
                .ok_or_else(|| bad(format!("`{l}` is not epoch-startOffset")))?;
            Ok(EpochEntry {
                epoch: e.parse().map_err(|_| bad(format!("bad epoch in `{l}`")))?,
                start_offset: s.parse().map_err(|_| bad(format!("bad offset in `{l}`")))?,
            })
        })
        .collect()
}

/// Where a slave holding `local` (its log ends at `local_end`) must cut
/// its log to follow a master holding `master` (ending at `master_end`):
/// walking our epochs newest first, the first one the master has with the
/// same start offset; the cut is the smaller of the two ends of that epoch
/// (reference controller.md §4.6 steps 2-4). Our list empty: our end (no
/// cut). None: no common epoch, we cannot follow this master safely.
pub fn truncation_point(
    local: &[EpochEntry],
    local_end: u64,
    master: &[EpochEntry],
    master_end: u64,
) -> Option<u64> {
    if local.is_empty() {
        return Some(local_end);
    }
    let end_of = |list: &[EpochEntry], i: usize, last_end: u64| {
        list.get(i + 1).map_or(last_end, |n| n.start_offset)
    };
    for (i, ours) in local.iter().enumerate().rev() {
        if let Some(j) = master.iter().position(|m| m.epoch == ours.epoch) {
            if master[j].start_offset != ours.start_offset {
                continue;
            }
            let our_end = end_of(local, i, local_end);
            let their_end = end_of(master, j, master_end);
            return Some(our_end.min(their_end));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(epoch: i32, start: u64) -> EpochEntry {
        EpochEntry {
            epoch,
            start_offset: start,
        }
    }

    #[test]
    fn text_round_trips_and_falls_back_to_the_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("epochFileCheckpoint");
        let f = EpochFile::open(&path).unwrap();
        assert!(f.entries().is_empty());
        f.begin(1, 0).unwrap();
        f.begin(3, 100).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("2\n"), "{text}");
        assert!(text.ends_with("1-0\n3-100\n"), "{text}");
        assert_eq!(parse(&text).unwrap(), vec![e(1, 0), e(3, 100)]);
        // A damaged file: the backup (one entry) is read.
        std::fs::write(&path, "2\n5\n1-0\n3-100\n").unwrap();
        let again = EpochFile::open(&path).unwrap();
        assert_eq!(again.entries(), vec![e(1, 0)]);
    }

    #[test]
    fn begin_replaces_empty_epochs_and_refuses_older_ones() {
        let dir = tempfile::tempdir().unwrap();
        let f = EpochFile::open(&dir.path().join("ep")).unwrap();
        f.begin(1, 0).unwrap();
        f.begin(2, 50).unwrap();
        // Epoch 2 wrote nothing before epoch 3 began at the same offset.
        f.begin(3, 50).unwrap();
        assert_eq!(f.entries(), vec![e(1, 0), e(3, 50)]);
        assert!(f.begin(2, 80).is_err());
        f.truncate_from(50).unwrap();
        assert_eq!(f.entries(), vec![e(1, 0)]);
        assert_eq!(f.epoch_at(10), Some(e(1, 0)));
    }

    #[test]
    fn truncation_follows_java() {
        // Same history, master ahead: no cut below our end.
        assert_eq!(
            truncation_point(&[e(1, 0)], 80, &[e(1, 0), e(2, 100)], 150),
            Some(80)
        );
        // We wrote 40 bytes in epoch 1 that the new master (epoch 2 from
        // offset 100) never had.
        assert_eq!(
            truncation_point(&[e(1, 0)], 140, &[e(1, 0), e(2, 100)], 150),
            Some(100)
        );
        // Our newest epoch (3) is unknown to the master: back to epoch 2.
        assert_eq!(
            truncation_point(
                &[e(1, 0), e(2, 100), e(3, 200)],
                260,
                &[e(1, 0), e(2, 100), e(4, 180)],
                300
            ),
            Some(180)
        );
        // Nothing in common.
        assert_eq!(truncation_point(&[e(5, 0)], 10, &[e(1, 0)], 10), None);
        assert_eq!(truncation_point(&[], 10, &[e(1, 0)], 10), Some(10));
    }
}
