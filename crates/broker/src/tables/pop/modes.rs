//! Which groups pop and which pull, per topic (SET_MESSAGE_REQUEST_MODE),
//! saved to `config/messageRequestMode.json` in Java's shape before a
//! change is answered.

use parking_lot::Mutex;
use protocol::body::assignment::{
    MessageRequestModeSerializeWrapper, SetMessageRequestModeRequestBody,
};

use super::error::{PopError, PopResult};

/// The file under `config/`.
pub const MODES_FILE: &str = "messageRequestMode.json";

/// topic → group → mode.
#[derive(Default)]
pub struct RequestModes {
    table: Mutex<MessageRequestModeSerializeWrapper>,
}

impl RequestModes {
    /// Loads the saved table (none saved: empty).
    ///
    /// # Errors
    /// [`PopError::Journal`] when the file (and its backup) cannot be read.
    pub fn load(&self, store: &store::MessageStore) -> PopResult<()> {
        store
            .metadata_file(MODES_FILE)
            .load_with(&|text: &str| {
                let parsed = MessageRequestModeSerializeWrapper::from_json_bytes(text.as_bytes())
                    .map_err(|e| e.to_string())?;
                *self.table.lock() = parsed;
                Ok(())
            })
            .map(|_| ())
            .map_err(|e| PopError::Journal(format!("cannot load {MODES_FILE}: {e}")))
    }

    /// The mode a group set for a topic, if any.
    pub fn get(&self, topic: &str, group: &str) -> Option<SetMessageRequestModeRequestBody> {
        self.table
            .lock()
            .message_request_mode_map
            .get(topic)?
            .get(group)
            .cloned()
    }

    /// Sets a mode and saves the table.
    ///
    /// # Errors
    /// [`PopError::Journal`] when the file cannot be written (the change
    /// is then undone).
    pub fn set(
        &self,
        store: &store::MessageStore,
        mode: SetMessageRequestModeRequestBody,
    ) -> PopResult<()> {
        let mut table = self.table.lock();
        let before = table.clone();
        table
            .message_request_mode_map
            .entry(mode.topic.clone())
            .or_default()
            .insert(mode.consumer_group.clone(), mode);
        let saved = table
            .to_json_bytes()
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                store
                    .metadata_file(MODES_FILE)
                    .save(&text)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = saved {
            *table = before;
            return Err(PopError::Journal(format!("cannot save {MODES_FILE}: {e}")));
        }
        Ok(())
    }

    /// The whole table (GET_ALL_MESSAGE_REQUEST_MODE).
    pub fn all(&self) -> MessageRequestModeSerializeWrapper {
        self.table.lock().clone()
    }
}
