//! Classic master/slave replication (storage-format §10): the master
//! streams its commit log to each connected slave over plain TCP; slaves
//! append the bytes verbatim and rebuild queues and index locally, copy
//! metadata over remoting, and serve reads. SYNC_MASTER sends wait for a
//! slave's acknowledgement.
//!
//! Wire format: slave → master 8-byte big-endian offsets (its commit-log
//! end); master → slave frames of 8-byte offset + 4-byte size + bytes
//! (size 0: a heartbeat carrying the master's next offset).

pub mod epochs;
pub mod master;
pub mod metadata;
pub mod slave;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::BrokerRole;
use crate::state::BrokerState;
pub use crate::tables::ha::{HaService, HaStatus, SlaveStatus};

/// Length of a master → slave frame header.
pub const FRAME_HEADER_LEN: usize = 12;

/// The replication state of this broker now.
pub fn status(state: &BrokerState) -> HaStatus {
    state.ha_status()
}

/// Starts the replication services of this broker's role: the HA listener
/// on a master, the follower and metadata copier on a slave.
pub fn spawn(
    state: &Arc<BrokerState>,
    listener: Option<tokio::net::TcpListener>,
    cancel: &CancellationToken,
) {
    if let Some(listener) = listener {
        state
            .ha
            .master_since
            .store(state.store.commitlog_max_offset(), Ordering::Relaxed);
        state
            .tasks
            .spawn(master::serve(state.clone(), listener, cancel.clone()));
    }
    // In controller mode the replicas manager starts the slave side.
    if state.is_slave() && !state.role.controller_mode() {
        state.tasks.spawn(slave::run(state.clone(), cancel.clone()));
        state
            .tasks
            .spawn(metadata::run(state.clone(), cancel.clone()));
    }
}

/// Binds the HA port for a master (none for a slave): haListenPort, else
/// listenPort + 1, else (listening on port 0) an ephemeral port.
///
/// # Errors
/// The port cannot be bound.
pub async fn bind(
    config: &crate::config::BrokerConfig,
    local: SocketAddr,
    requested_port: u16,
) -> std::io::Result<Option<tokio::net::TcpListener>> {
    // A controller-mode broker may become master at any time.
    if config.broker_role == BrokerRole::Slave && !config.enable_controller_mode {
        return Ok(None);
    }
    let port = ha_port(config, local, requested_port);
    match tokio::net::TcpListener::bind(SocketAddr::new(local.ip(), port)).await {
        Ok(listener) => Ok(Some(listener)),
        // The default port (listen + 1) is taken: take any port. Slaves
        // learn the HA address from the NameServer's registration answer,
        // so they still find it; an explicit haListenPort stays an error.
        Err(e) if config.ha_listen_port == 0 => {
            tracing::warn!("HA port {port} is not available ({e}); using an ephemeral port");
            let listener = tokio::net::TcpListener::bind(SocketAddr::new(local.ip(), 0)).await?;
            Ok(Some(listener))
        }
        Err(e) => Err(e),
    }
}

/// The HA port a broker uses (see [`bind`]).
pub fn ha_port(
    config: &crate::config::BrokerConfig,
    local: SocketAddr,
    requested_port: u16,
) -> u16 {
    if config.ha_listen_port != 0 {
        config.ha_listen_port
    } else if requested_port == 0 {
        0
    } else {
        local.port().saturating_add(1)
    }
}
