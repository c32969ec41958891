//! Request dispatch: one exhaustive match from request code to handler.
//! Handlers take the shared state and a request and return a response or a
//! [`BrokerError`], which becomes a code and remark here, in one place.

use std::sync::Arc;

use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::{BoxFuture, Connection, Processor};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::BrokerResult;
use crate::handlers::{
    admin, clients, controller, delay, lock, offsets, pull, query, recall, reset, retry, send,
    stats, transaction,
};
use crate::handlers::{
    broker_config, broker_consume, maintenance, metadata_pages, producers, relay, stats_view,
};
use crate::pop::assignment;
use crate::pop::remoting as pop;
use crate::state::BrokerState;
use acl::SharedAcl;

/// The broker's remoting processor (both listening ports share it).
pub struct BrokerProcessor {
    pub state: Arc<BrokerState>,
    /// Sends and pulls being processed (parked pulls included), across all
    /// connections: Java's send and pull thread-pool queues.
    sends: Arc<Semaphore>,
    pulls: Arc<Semaphore>,
    /// ACL 1.0 accounts when `aclEnable` is on (reloaded when the file changes).
    acl: Option<Arc<SharedAcl>>,
}

impl BrokerProcessor {
    pub fn new(state: Arc<BrokerState>) -> Self {
        let c = &state.config;
        let cap = |n: usize| Arc::new(Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS)));
        BrokerProcessor {
            sends: cap(c.send_thread_pool_queue_capacity),
            pulls: cap(c.pull_thread_pool_queue_capacity),
            state,
            acl: None,
        }
    }

    /// Checks every request against `acl` (when given).
    pub fn with_acl(mut self, acl: Option<Arc<SharedAcl>>) -> Self {
        self.acl = acl;
        self
    }

    /// The NO_PERMISSION answer when the ACL refuses `request`.
    fn acl_denial(&self, conn: &Connection, request: &RemotingCommand) -> Option<RemotingCommand> {
        let acl = self.acl.as_ref()?;
        let peer = conn.peer_addr();
        let denied = acl.validate(peer.ip(), request).err()?;
        acl.log_denial(peer.ip(), &format!("code {}", request.code), &denied);
        Some(RemotingCommand::error(
            ResponseCode::NO_PERMISSION,
            denied.to_string(),
        ))
    }

    /// A place in the queue of the request's kind, or the SYSTEM_BUSY answer
    /// when that queue is full.
    fn queue_place(
        &self,
        code: RequestCode,
    ) -> Result<Option<OwnedSemaphorePermit>, Box<RemotingCommand>> {
        use RequestCode as C;
        let (queue, key) = match code {
            C::SEND_MESSAGE | C::SEND_MESSAGE_V2 | C::SEND_BATCH_MESSAGE => {
                (&self.sends, "sendThreadPoolQueueCapacity")
            }
            C::PULL_MESSAGE | C::LITE_PULL_MESSAGE => (&self.pulls, "pullThreadPoolQueueCapacity"),
            _ => return Ok(None),
        };
        Arc::clone(queue)
            .try_acquire_owned()
            .map(Some)
            .map_err(|_| {
                Box::new(RemotingCommand::error(
                    ResponseCode::SYSTEM_BUSY,
                    format!("[REJECTREQUEST]system busy, the {key} queue is full"),
                ))
            })
    }
}

impl Processor for BrokerProcessor {
    fn process(
        &self,
        conn: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        if let Some(denied) = self.acl_denial(&conn, &request) {
            return Box::pin(async move { Some(denied) });
        }
        let state = self.state.clone();
        let place = self.queue_place(request.request_code_enum());
        Box::pin(async move {
            let _place = match place {
                Ok(place) => place,
                Err(busy) => return Some(*busy),
            };
            let started = std::time::Instant::now();
            let code = request.request_code_enum();
            let result = dispatch(&state, &conn, code, &request).await;
            let response = match result {
                Ok(response) => response,
                Err(e) => {
                    tracing::debug!(code = code.code(), error = %e, "request failed");
                    e.to_response()
                }
            };
            let millis = started.elapsed().as_millis() as u64;
            state.metrics.record_rpc(code.code(), response.code, millis);
            Some(response)
        })
    }

    fn on_connection_closed(&self, conn: &Connection) {
        clients::connection_closed(&self.state, conn);
    }
}

async fn dispatch(
    state: &Arc<BrokerState>,
    conn: &Connection,
    code: RequestCode,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    use RequestCode as C;
    match code {
        C::SEND_MESSAGE | C::SEND_MESSAGE_V2 | C::SEND_BATCH_MESSAGE => {
            send::handle(state, conn, req).await
        }
        C::PULL_MESSAGE | C::LITE_PULL_MESSAGE => pull::handle(state, conn, req).await,
        C::QUERY_CONSUMER_OFFSET => offsets::query_consumer_offset(state, req),
        C::UPDATE_CONSUMER_OFFSET => offsets::update_consumer_offset(state, req),
        C::GET_MAX_OFFSET => offsets::get_max_offset(state, req),
        C::GET_MIN_OFFSET => offsets::get_min_offset(state, req),
        C::GET_EARLIEST_MSG_STORETIME => offsets::get_earliest_msg_store_time(state, req),
        C::SEARCH_OFFSET_BY_TIMESTAMP => offsets::search_offset_by_timestamp(state, req),
        C::HEART_BEAT => clients::heartbeat(state, conn, req),
        C::UNREGISTER_CLIENT => clients::unregister_client(state, req),
        C::GET_CONSUMER_LIST_BY_GROUP => clients::get_consumer_list_by_group(state, req),
        C::CHECK_CLIENT_CONFIG => clients::check_client_config(state, req),
        C::GET_CONSUMER_CONNECTION_LIST => clients::get_consumer_connection_list(state, req),
        C::QUERY_MESSAGE => query::query_message(state, req),
        C::VIEW_MESSAGE_BY_ID => query::view_message_by_id(state, req),
        C::UPDATE_AND_CREATE_TOPIC => {
            let created = admin::update_and_create_topic(state, req);
            crate::services::register::registered_then(state, created).await
        }
        C::UPDATE_AND_CREATE_TOPIC_LIST => {
            let created = admin::update_and_create_topic_list(state, req);
            crate::services::register::registered_then(state, created).await
        }
        C::DELETE_TOPIC_IN_BROKER => admin::delete_topic(state, req),
        C::GET_ALL_TOPIC_CONFIG => metadata_pages::get_all_topic_config(state, req),
        C::GET_TOPIC_CONFIG => admin::get_topic_config(state, req),
        C::GET_TOPIC_NAME_LIST => admin::get_topic_name_list(state, req),
        C::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => admin::update_and_create_group(state, req),
        C::DELETE_SUBSCRIPTIONGROUP => admin::delete_group(state, req),
        C::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => metadata_pages::get_all_group_config(state, req),
        C::GET_SUBSCRIPTIONGROUP_CONFIG => admin::get_group_config(state, req),
        C::GET_ALL_CONSUMER_OFFSET => admin::get_all_consumer_offset(state, req),
        C::GET_BROKER_RUNTIME_INFO => stats::get_broker_runtime_info(state, req),
        C::GET_BROKER_CONFIG => stats::get_broker_config(state, req),
        C::GET_TOPIC_STATS_INFO => stats::get_topic_stats_info(state, req),
        C::GET_CONSUME_STATS => stats::get_consume_stats(state, req),
        C::QUERY_TOPIC_CONSUME_BY_WHO => stats::query_topic_consume_by_who(state, req),
        C::INVOKE_BROKER_TO_RESET_OFFSET => reset::invoke_broker_to_reset_offset(state, req),
        C::CONSUMER_SEND_MSG_BACK => retry::send_msg_back(state, req).await,
        C::END_TRANSACTION => transaction::end_transaction(state, req).await,
        C::RECALL_MESSAGE => recall::recall_message(state, req).await,
        C::LOCK_BATCH_MQ => lock::lock_batch(state, conn, req),
        C::UNLOCK_BATCH_MQ => lock::unlock_batch(state, req),
        C::GET_ALL_DELAY_OFFSET => delay::get_all_delay_offset(state),
        C::POP_MESSAGE => pop::pop_message(state, req).await,
        C::ACK_MESSAGE => pop::ack_message(state, req),
        C::BATCH_ACK_MESSAGE => pop::batch_ack_message(state, req),
        C::PEEK_MESSAGE => pop::peek_message(state, req),
        C::CHANGE_MESSAGE_INVISIBLETIME => pop::change_invisible_time(state, req),
        C::NOTIFICATION => pop::notification(state, req).await,
        C::POLLING_INFO => pop::polling_info(state, req),
        C::UPDATE_BROKER_CONFIG => broker_config::update_broker_config(state, req),
        C::GET_PRODUCER_CONNECTION_LIST => producers::get_producer_connection_list(state, req),
        C::GET_ALL_PRODUCER_INFO => producers::get_all_producer_info(state, req),
        C::GET_CONSUMER_RUNNING_INFO => relay::get_consumer_running_info(state, req).await,
        C::CONSUME_MESSAGE_DIRECTLY => relay::consume_message_directly(state, req).await,
        C::GET_BROKER_CONSUME_STATS => broker_consume::get_broker_consume_stats(state, req),
        C::QUERY_CONSUME_QUEUE => broker_consume::query_consume_queue(state, req),
        C::CLEAN_EXPIRED_CONSUMEQUEUE => maintenance::clean_expired_consume_queue(state, req).await,
        C::DELETE_EXPIRED_COMMITLOG => maintenance::delete_expired_commitlog(state, req).await,
        C::CLEAN_UNUSED_TOPIC => maintenance::clean_unused_topic(state, req).await,
        C::VIEW_BROKER_STATS_DATA => stats_view::view_broker_stats_data(state, req),
        C::CLONE_GROUP_OFFSET => stats_view::clone_group_offset(state, req),
        C::QUERY_ASSIGNMENT => assignment::query_assignment(state, req).await,
        C::SET_MESSAGE_REQUEST_MODE => assignment::set_message_request_mode(state, req),
        C::GET_ALL_MESSAGE_REQUEST_MODE => assignment::get_all_message_request_mode(state),
        C::NOTIFY_BROKER_ROLE_CHANGED => controller::notify_role_changed(state, req),
        C::GET_BROKER_EPOCH_CACHE => controller::get_broker_epoch_cache(state),
        _ => Ok(remoting::not_supported(req)),
    }
}
