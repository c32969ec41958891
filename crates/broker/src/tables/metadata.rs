//! The delivery tables' own files under `config/` (delay offsets, timer
//! checkpoint, transaction checks): read once at start, written whole when
//! they changed. One way to read and one to write, for all of them.

use store::MessageStore;

use crate::error::{BrokerError, BrokerResult};

/// A table whose progress a periodic task saves when it changed.
pub trait SavedProgress: Send + Sync {
    /// Whether it changed since it was last saved.
    fn changed(&self) -> bool;
    /// Saves it now (errors are logged: the next save tries again).
    fn save(&self, store: &MessageStore);
}

/// Reads `file` and parses it; `None` when there is no such file yet.
///
/// # Errors
/// The store's error for a file it cannot read; [`BrokerError::Metadata`]
/// naming the file when `parse` rejects it.
pub fn load<T>(
    store: &MessageStore,
    file: &'static str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> BrokerResult<Option<T>> {
    let Some(text) = store.metadata_file(file).load()? else {
        return Ok(None);
    };
    parse(&text)
        .map(Some)
        .map_err(|reason| BrokerError::Metadata { file, reason })
}

/// Writes `file` (an encoding failure or a write error is logged).
pub fn save(store: &MessageStore, file: &'static str, text: Result<String, String>) {
    match text {
        Ok(text) => {
            if let Err(e) = store.metadata_file(file).save(&text) {
                tracing::error!("cannot save {file}: {e}");
            }
        }
        Err(e) => tracing::error!("cannot encode {file}: {e}"),
    }
}
