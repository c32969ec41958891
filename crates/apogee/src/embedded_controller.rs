//! The controller a NameServer runs inside its process when
//! `enableControllerInNamesrv=true` (Java's NamesrvStartup): its keys are
//! read from the NameServer's own file, and it answers on its own
//! `controllerDLegerPeers` entry while the NameServer keeps its port.
//! The binary starts both, so neither library depends on the other.

use std::path::Path;

use anyhow::{bail, Context, Result};
use controller::{Controller, ControllerConfig};

/// The controller config in the NameServer's file `path`.
///
/// # Errors
/// No file was given, it cannot be read, or its controller keys are
/// missing or bad (the message names the key).
pub fn config_from(path: Option<&Path>) -> Result<ControllerConfig> {
    let Some(path) = path else {
        bail!(
            "enableControllerInNamesrv=true needs a config file (-c) with controllerDLegerGroup, \
             controllerDLegerPeers and controllerDLegerSelfId"
        );
    };
    let pairs = crate::config_load::raw_pairs(path)?;
    ControllerConfig::from_shared_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .with_context(|| {
            format!(
                "enableControllerInNamesrv=true: bad controller config in {}",
                path.display()
            )
        })
}

/// Starts the controller on its peer address.
///
/// # Errors
/// The address cannot be listened on, or the Raft store cannot be opened.
pub async fn start(config: ControllerConfig) -> Result<Controller> {
    let addr = config.self_addr().unwrap_or_default().to_owned();
    let controller = Controller::start(config)
        .await
        .with_context(|| format!("cannot start the embedded controller on {addr}"))?;
    tracing::info!(
        "controller (in the NameServer) listening on {}",
        controller.local_addr()
    );
    Ok(controller)
}
