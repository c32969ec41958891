//! Request dispatch: one exhaustive match from request code to handler.
//! Handlers take the shared state and a request and return a response or a
//! [`BrokerError`], which becomes a code and remark here, in one place.

use std::sync::Arc;

use protocol::{RemotingCommand, RequestCode};
use remoting::{BoxFuture, Connection, Processor};

use crate::error::BrokerResult;
use crate::handlers::{
    admin, clients, lock, offsets, pull, query, reset, retry, send, stats, transaction,
};
use crate::pop::assignment;
use crate::pop::remoting as pop;
use crate::state::BrokerState;

/// The broker's remoting processor (both listening ports share it).
pub struct BrokerProcessor {
    pub state: Arc<BrokerState>,
}

impl Processor for BrokerProcessor {
    fn process(
        &self,
        conn: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        let state = self.state.clone();
        Box::pin(async move {
            let code = request.request_code_enum();
            let result = dispatch(&state, &conn, code, &request).await;
            Some(match result {
                Ok(response) => response,
                Err(e) => {
                    tracing::debug!(code = code.code(), error = %e, "request failed");
                    e.to_response()
                }
            })
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
        C::UPDATE_AND_CREATE_TOPIC => admin::update_and_create_topic(state, req),
        C::UPDATE_AND_CREATE_TOPIC_LIST => admin::update_and_create_topic_list(state, req),
        C::DELETE_TOPIC_IN_BROKER => admin::delete_topic(state, req),
        C::GET_ALL_TOPIC_CONFIG => admin::get_all_topic_config(state, req),
        C::GET_TOPIC_CONFIG => admin::get_topic_config(state, req),
        C::GET_TOPIC_NAME_LIST => admin::get_topic_name_list(state, req),
        C::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => admin::update_and_create_group(state, req),
        C::DELETE_SUBSCRIPTIONGROUP => admin::delete_group(state, req),
        C::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => admin::get_all_group_config(state, req),
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
        C::LOCK_BATCH_MQ => lock::lock_batch(state, conn, req),
        C::UNLOCK_BATCH_MQ => lock::unlock_batch(state, req),
        C::GET_ALL_DELAY_OFFSET => crate::schedule::get_all_delay_offset(state),
        C::POP_MESSAGE => pop::pop_message(state, req).await,
        C::ACK_MESSAGE => pop::ack_message(state, req),
        C::BATCH_ACK_MESSAGE => pop::batch_ack_message(state, req),
        C::PEEK_MESSAGE => pop::peek_message(state, req),
        C::CHANGE_MESSAGE_INVISIBLETIME => pop::change_invisible_time(state, req),
        C::NOTIFICATION => pop::notification(state, req).await,
        C::POLLING_INFO => pop::polling_info(state, req),
        C::QUERY_ASSIGNMENT => assignment::query_assignment(state, req).await,
        C::SET_MESSAGE_REQUEST_MODE => assignment::set_message_request_mode(state, req),
        C::GET_ALL_MESSAGE_REQUEST_MODE => assignment::get_all_message_request_mode(state),
        _ => Ok(remoting::not_supported(req)),
    }
}
