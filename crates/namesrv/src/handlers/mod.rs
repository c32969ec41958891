//! Request handlers, one file per request family. Handlers are plain
//! functions over a request; they never touch sockets, so tests call them
//! directly.

mod broker;
mod kv;
mod route;
mod settings;
mod topic;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;
use protocol::{RemotingCommand, RequestCode};

use crate::config::NamesrvConfig;
use crate::error::NamesrvError;
use crate::kv::KvConfigStore;
use crate::routes::RouteTable;

/// What every handler works on: the route table, the KV store and the live
/// configuration (UPDATE_NAMESRV_CONFIG changes it at run time).
#[derive(Debug)]
pub struct NamesrvState {
    pub routes: RouteTable,
    pub kv: KvConfigStore,
    pub config: RwLock<NamesrvConfig>,
    pub started: Instant,
    /// Requests answered, by request and response code (for `/metrics`).
    pub requests: crate::stats::RequestStats,
}

impl NamesrvState {
    /// Validates the config and loads the KV store.
    ///
    /// # Errors
    /// [`NamesrvError::Config`] for a bad config, [`NamesrvError::Io`] or
    /// [`NamesrvError::Config`] when the KV file cannot be loaded.
    pub fn new(config: NamesrvConfig) -> Result<Arc<Self>, NamesrvError> {
        config.validate()?;
        let kv = KvConfigStore::load(&config.kv_config_path)?;
        Ok(Arc::new(NamesrvState {
            routes: RouteTable::new(),
            kv,
            config: RwLock::new(config),
            started: Instant::now(),
            requests: crate::stats::RequestStats::default(),
        }))
    }

    /// A copy of the current configuration.
    pub fn config(&self) -> NamesrvConfig {
        self.config.read().clone()
    }

    /// Answers one request, or `None` when the NameServer does not serve the
    /// code (the caller answers REQUEST_CODE_NOT_SUPPORTED). `conn_id`
    /// identifies the connection, for broker liveness.
    pub fn dispatch(&self, conn_id: u64, req: &RemotingCommand) -> Option<RemotingCommand> {
        use RequestCode as C;
        let result = match req.request_code_enum() {
            C::PUT_KV_CONFIG => kv::put(self, req),
            C::GET_KV_CONFIG => kv::get(self, req),
            C::DELETE_KV_CONFIG => kv::delete(self, req),
            C::GET_KVLIST_BY_NAMESPACE => kv::list_namespace(self, req),
            C::REGISTER_BROKER => broker::register(self, conn_id, req),
            C::UNREGISTER_BROKER => broker::unregister(self, req),
            C::BROKER_HEARTBEAT => broker::heartbeat(self, req),
            C::QUERY_DATA_VERSION => broker::query_data_version(self, req),
            C::GET_BROKER_MEMBER_GROUP => broker::member_group(self, req),
            C::WIPE_WRITE_PERM_OF_BROKER => broker::wipe_write_perm(self, req),
            C::ADD_WRITE_PERM_OF_BROKER => broker::add_write_perm(self, req),
            C::GET_ROUTEINFO_BY_TOPIC => route::route_by_topic(self, req),
            C::GET_BROKER_CLUSTER_INFO => route::cluster_info(self),
            C::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => topic::all_topics(self),
            C::GET_TOPICS_BY_CLUSTER => topic::topics_by_cluster(self, req),
            C::GET_SYSTEM_TOPIC_LIST_FROM_NS => topic::system_topics(self),
            C::GET_UNIT_TOPIC_LIST => topic::unit_topics(self, crate::UnitTopicKind::Unit),
            C::GET_HAS_UNIT_SUB_TOPIC_LIST => {
                topic::unit_topics(self, crate::UnitTopicKind::HasUnitSub)
            }
            C::GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST => {
                topic::unit_topics(self, crate::UnitTopicKind::HasUnitSubNotUnit)
            }
            C::DELETE_TOPIC_IN_NAMESRV => topic::delete_topic(self, req),
            C::REGISTER_TOPIC_IN_NAMESRV => topic::register_topic(self, req),
            C::UPDATE_NAMESRV_CONFIG => settings::update(self, req),
            C::GET_NAMESRV_CONFIG => Ok(settings::get(self)),
            _ => return None,
        };
        let response = result.unwrap_or_else(|e| {
            tracing::debug!(code = req.code, error = %e, "request failed");
            e.to_response()
        });
        self.requests.record(req.code, response.code);
        Some(response.answering(req))
    }
}
