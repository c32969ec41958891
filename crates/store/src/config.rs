//! Store configuration with the Java `MessageStoreConfig` key names.
//!
//! Durations stay in the Java units (milliseconds, hours) so that a
//! `broker.conf` value means the same here; typed accessors convert.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// Commit-log flush policy (`flushDiskType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum FlushDiskType {
    /// Background flush every `flushIntervalCommitLog`.
    #[default]
    #[serde(rename = "ASYNC_FLUSH")]
    AsyncFlush,
    /// Group commit: a put returns once fsynced.
    #[serde(rename = "SYNC_FLUSH")]
    SyncFlush,
}

/// Store settings; see storage-format §12 for the defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StoreConfig {
    /// Root directory (`commitlog/`, `consumequeue/`, `index/`, `config/`, …).
    pub store_path_root_dir: PathBuf,
    /// Commit-log segment size in bytes.
    pub mapped_file_size_commit_log: u64,
    /// Consume-queue segment size in bytes (rounded down to 20-byte units).
    pub mapped_file_size_consume_queue: u64,
    /// Commit-log flush policy.
    pub flush_disk_type: FlushDiskType,
    /// Async flush period (ms).
    pub flush_interval_commit_log: u64,
    /// Async flush only when this many 4 KiB pages are dirty.
    pub flush_commit_log_least_pages: u64,
    /// Async flush regardless of dirty pages after this long (ms).
    pub flush_commit_log_thorough_interval: u64,
    /// Consume-queue/index flush period (ms).
    pub flush_interval_consume_queue: u64,
    /// Sync-flush wait limit (ms) before FLUSH_DISK_TIMEOUT.
    pub sync_flush_timeout: u64,
    /// Hours a commit-log segment is kept after its last write.
    pub file_reserved_time: u64,
    /// Local hours (`"04"`, `"04;05"`) at which expired files are deleted.
    pub delete_when: String,
    /// Period of the retention check (ms).
    pub clean_resource_interval: u64,
    /// Usage (percent) above which expired files are deleted at any hour.
    pub disk_max_used_space_ratio: u32,
    /// Usage (percent) above which even unexpired files are deleted.
    pub disk_space_clean_forcibly_ratio: u32,
    /// Usage (percent) above which puts are refused.
    pub disk_space_warning_level_ratio: u32,
    /// Whether forcible cleaning is allowed.
    pub clean_file_forcibly_enable: bool,
    /// Largest accepted record body/record size in bytes.
    pub max_message_size: u64,
    /// Build the key index.
    pub message_index_enable: bool,
    /// Index hash slots per index file.
    pub max_hash_slot_num: u32,
    /// Index items per index file.
    pub max_index_num: u32,
    /// Verify body CRC while recovering.
    #[serde(rename = "checkCRCOnRecover")]
    pub check_crc_on_recover: bool,
    /// Percent of RAM a consumer may lag before reads are suggested to slaves.
    pub access_message_in_memory_max_ratio: u32,
    /// Delay levels of `SCHEDULE_TOPIC_XXXX` ("1s 5s … 2h").
    pub message_delay_level: String,
    /// Time (ms) one read may spend scanning past records its record filter
    /// (SQL92) turns down; past it the read returns what it has and the
    /// next pull goes on from there. The first 32 entries are always
    /// scanned, and reads without a record filter are not limited.
    pub filter_scan_budget_millis: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        Self {
            store_path_root_dir: home.join("store"),
            mapped_file_size_commit_log: 1 << 30,
            mapped_file_size_consume_queue: 300_000 * 20,
            flush_disk_type: FlushDiskType::AsyncFlush,
            flush_interval_commit_log: 500,
            flush_commit_log_least_pages: 4,
            flush_commit_log_thorough_interval: 10_000,
            flush_interval_consume_queue: 1000,
            sync_flush_timeout: 5000,
            file_reserved_time: 72,
            delete_when: "04".to_owned(),
            clean_resource_interval: 10_000,
            disk_max_used_space_ratio: 75,
            disk_space_clean_forcibly_ratio: 85,
            disk_space_warning_level_ratio: 90,
            clean_file_forcibly_enable: true,
            max_message_size: 4 * 1024 * 1024,
            message_index_enable: true,
            max_hash_slot_num: 5_000_000,
            max_index_num: 20_000_000,
            check_crc_on_recover: true,
            access_message_in_memory_max_ratio: 40,
            message_delay_level: "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"
                .to_owned(),
            filter_scan_budget_millis: 20,
        }
    }
}

impl StoreConfig {
    /// A configuration rooted at `root` with defaults otherwise.
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        Self {
            store_path_root_dir: root.into(),
            ..Self::default()
        }
    }

    /// Checks ranges and relations between values.
    ///
    /// # Errors
    /// [`StoreError::Config`] naming the offending key.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &'static str, reason: &str| {
            Err(StoreError::Config {
                key,
                reason: reason.to_owned(),
            })
        };
        if self.mapped_file_size_commit_log < 4096 || self.mapped_file_size_commit_log > (1 << 40) {
            return bad("mappedFileSizeCommitLog", "must be between 4096 and 2^40");
        }
        if self.mapped_file_size_consume_queue < 20 * 16 {
            return bad(
                "mappedFileSizeConsumeQueue",
                "must hold at least 16 entries",
            );
        }
        if self.max_message_size == 0
            || self.max_message_size + 8 > self.mapped_file_size_commit_log
        {
            return bad(
                "maxMessageSize",
                "must be positive and fit in a commit-log segment",
            );
        }
        if self.max_hash_slot_num == 0 || self.max_index_num < 2 {
            return bad("maxHashSlotNum", "slots must be > 0 and maxIndexNum >= 2");
        }
        for (key, v) in [
            ("diskMaxUsedSpaceRatio", self.disk_max_used_space_ratio),
            (
                "diskSpaceCleanForciblyRatio",
                self.disk_space_clean_forcibly_ratio,
            ),
            (
                "diskSpaceWarningLevelRatio",
                self.disk_space_warning_level_ratio,
            ),
        ] {
            if !(1..=100).contains(&v) {
                return bad(key, "must be a percentage between 1 and 100");
            }
        }
        if self.delete_hours().is_empty() && !self.delete_when.trim().is_empty() {
            return bad("deleteWhen", "must be hours 00-23 separated by ';'");
        }
        if self.flush_interval_commit_log == 0 || self.flush_interval_consume_queue == 0 {
            return bad("flushIntervalCommitLog", "flush intervals must be positive");
        }
        self.delay_levels()?;
        Ok(())
    }

    /// `messageDelayLevel` in milliseconds, level 1 first.
    ///
    /// # Errors
    /// [`StoreError::Config`] naming the bad token.
    pub fn delay_levels(&self) -> Result<Vec<i64>> {
        crate::dispatch::parse_delay_levels(&self.message_delay_level).map_err(|reason| {
            StoreError::Config {
                key: "messageDelayLevel",
                reason,
            }
        })
    }

    /// Consume-queue segment size rounded down to whole 20-byte units.
    pub fn cq_file_size(&self) -> u64 {
        self.mapped_file_size_consume_queue / 20 * 20
    }

    /// Parsed `deleteWhen` hours.
    pub fn delete_hours(&self) -> Vec<u32> {
        self.delete_when
            .split(';')
            .filter_map(|h| h.trim().parse::<u32>().ok())
            .filter(|h| *h < 24)
            .collect()
    }

    /// `syncFlushTimeout` as a duration.
    pub fn sync_flush_timeout(&self) -> Duration {
        Duration::from_millis(self.sync_flush_timeout)
    }

    /// `fileReservedTime` as a duration.
    pub fn file_reserved(&self) -> Duration {
        Duration::from_secs(self.file_reserved_time.saturating_mul(3600))
    }

    /// Directory of commit-log segments.
    pub fn commitlog_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("commitlog")
    }

    /// Directory of consume queues.
    pub fn consume_queue_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("consumequeue")
    }

    /// Directory of index files.
    pub fn index_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("index")
    }

    /// Directory of broker metadata JSON files.
    pub fn config_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("config")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_keys_parse() {
        let json = r#"{"storePathRootDir":"/tmp/x","mappedFileSizeCommitLog":65536,
            "maxMessageSize":60000,"flushDiskType":"SYNC_FLUSH","deleteWhen":"04;05","checkCRCOnRecover":false}"#;
        let cfg: StoreConfig = serde_json::from_str(json).unwrap();
        assert_eq!(cfg.flush_disk_type, FlushDiskType::SyncFlush);
        assert_eq!(cfg.mapped_file_size_commit_log, 65536);
        assert_eq!(cfg.delete_hours(), vec![4, 5]);
        assert!(!cfg.check_crc_on_recover);
        cfg.validate().unwrap();
    }

    #[test]
    fn validate_names_the_key() {
        let cfg = StoreConfig {
            disk_space_warning_level_ratio: 0,
            ..StoreConfig::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("diskSpaceWarningLevelRatio"), "{err}");
        let cfg = StoreConfig {
            mapped_file_size_commit_log: 100,
            ..StoreConfig::default()
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("mappedFileSizeCommitLog"));
        let cfg = StoreConfig {
            message_delay_level: "1s 5x 10s".into(),
            ..StoreConfig::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(
            err.contains("messageDelayLevel") && err.contains("5x"),
            "{err}"
        );
    }
}
