//! What the endpoints read: the local broker and NameServer state (when
//! this process runs them) and an admin client for the console's API.

use std::sync::Arc;

use broker::state::BrokerState;
use client::{Admin, Producer};
use namesrv::handlers::NamesrvState;

use crate::error::{ApiResult, HttpError};

/// The parts of this process the HTTP side may look at.
#[derive(Clone, Default)]
pub struct Sources {
    /// The broker of this process, if it runs one.
    pub broker: Option<Arc<BrokerState>>,
    /// The NameServer of this process, if it runs one.
    pub namesrv: Option<Arc<NamesrvState>>,
    /// Admin calls against the cluster (the console's backend).
    pub admin: Option<Arc<Admin>>,
    /// The console's producer, started on the first test message.
    pub producer: Arc<tokio::sync::OnceCell<Producer>>,
    /// Console login (when the broker checks ACL accounts); `None`: open.
    pub auth: Option<Arc<crate::auth::Auth>>,
}

impl Sources {
    /// The admin client, or an error saying the API is off.
    ///
    /// # Errors
    /// [`HttpError::NoAdmin`] when the process was started without one.
    pub fn admin(&self) -> ApiResult<&Admin> {
        self.admin.as_deref().ok_or(HttpError::NoAdmin)
    }

    /// The console's producer (group `APOGEE_CONSOLE_PRODUCER`), sharing the
    /// admin's client.
    ///
    /// # Errors
    /// [`HttpError::NoAdmin`], or the producer failing to start.
    pub async fn producer(&self) -> ApiResult<&Producer> {
        let admin = self.admin()?;
        let p = self
            .producer
            .get_or_try_init(|| async {
                Producer::builder()
                    .client(admin.client())
                    .group("APOGEE_CONSOLE_PRODUCER")
                    .build()
                    .await
            })
            .await?;
        Ok(p)
    }

    /// Stops the console's producer, if it started, and every session.
    pub async fn shutdown(&self) {
        if let Some(a) = &self.auth {
            a.shutdown().await;
        }
        if let Some(p) = self.producer.get() {
            p.shutdown().await;
        }
        if let Some(a) = &self.admin {
            a.shutdown().await;
        }
    }
}
