//! The rest of mqadmin's daily tools: configuration, permissions, client
//! connections, broker-wide stats, message and consume-queue views,
//! cleaning, allocation previews and round-trip checks. Flattened into
//! `apogee admin`, with mqadmin's names and flags.

pub(super) mod clients;
mod config;
mod maintenance;
mod messages;
mod rt;
mod stats;
mod topics;

use anyhow::Result;
use clap::Subcommand;
use client::Admin;

use super::Report;

/// The commands of this module.
#[derive(Subcommand, Debug)]
pub enum OpsCommand {
    /// Show the clusters serving a topic.
    #[command(name = "topicClusterList")]
    TopicClusterList(topics::TopicOnly),
    /// Change a topic's permission on a broker (-b) or a cluster's masters (-c).
    #[command(name = "updateTopicPerm")]
    UpdateTopicPerm(topics::UpdateTopicPermArgs),
    /// Get, put or delete a topic's order configuration (NameServer KV).
    #[command(name = "updateOrderConf")]
    UpdateOrderConf(topics::UpdateOrderConfArgs),
    /// Show how queues would be allocated over a list of client ips.
    #[command(name = "allocateMQ")]
    AllocateMq(topics::AllocateMqArgs),
    /// Show the consume stats of every group on a broker.
    #[command(name = "brokerConsumeStats")]
    BrokerConsumeStats(stats::BrokerConsumeStatsArgs),
    /// Show in/out rates and today's counts of every topic and group.
    #[command(name = "statsAll")]
    StatsAll(stats::StatsAllArgs),
    /// Show the connections of a consumer group.
    #[command(name = "consumerConnection")]
    ConsumerConnection(clients::GroupArgs),
    /// Show the connections of a producer group.
    #[command(name = "producerConnection")]
    ProducerConnection(clients::ProducerConnectionArgs),
    /// Show the running state of a group's consumers (-i: one client in full).
    #[command(name = "consumerStatus")]
    ConsumerStatus(clients::ConsumerStatusArgs),
    /// Show a message by its unique key; with -g and -d, have a client consume it.
    #[command(name = "queryMsgByUniqueKey")]
    QueryMsgByUniqueKey(messages::UniqueKeyArgs),
    /// Show the message at a queue offset.
    #[command(name = "queryMsgByOffset")]
    QueryMsgByOffset(messages::ByOffsetArgs),
    /// Print the messages of a topic stored in a time range.
    #[command(name = "printMsg")]
    PrintMsg(messages::PrintMsgArgs),
    /// Print the messages of one queue stored in a time range.
    #[command(name = "printMsgByQueue")]
    PrintMsgByQueue(messages::PrintMsgByQueueArgs),
    /// Show consume-queue entries of a queue.
    #[command(name = "queryCq")]
    QueryCq(messages::QueryCqArgs),
    /// Update a broker config key on a broker (-b) or a cluster's masters (-c).
    #[command(name = "updateBrokerConfig")]
    UpdateBrokerConfig(config::UpdateBrokerConfigArgs),
    /// Show a broker's config.
    #[command(name = "getBrokerConfig")]
    GetBrokerConfig(super::cluster::BrokerSelect),
    /// Show the config of every NameServer.
    #[command(name = "getNamesrvConfig")]
    GetNamesrvConfig,
    /// Update a config key on every NameServer.
    #[command(name = "updateNamesrvConfig")]
    UpdateNamesrvConfig(config::KeyValueArgs),
    /// Set a KV config entry on every NameServer.
    #[command(name = "updateKvConfig")]
    UpdateKvConfig(config::KvArgs),
    /// Delete a KV config entry from every NameServer.
    #[command(name = "deleteKvConfig")]
    DeleteKvConfig(config::KvKeyArgs),
    /// Take write permission away from a broker on every NameServer.
    #[command(name = "wipeWritePerm")]
    WipeWritePerm(config::BrokerNameArg),
    /// Give write permission back to a broker on every NameServer.
    #[command(name = "addWritePerm")]
    AddWritePerm(config::BrokerNameArg),
    /// Remove expired consume queues and those of deleted topics now.
    #[command(name = "cleanExpiredCQ")]
    CleanExpiredCq(super::cluster::BrokerSelect),
    /// Delete expired commit-log files now.
    #[command(name = "deleteExpiredCommitLog")]
    DeleteExpiredCommitLog(super::cluster::BrokerSelect),
    /// Remove the consume queues of topics that no longer exist.
    #[command(name = "cleanUnusedTopic")]
    CleanUnusedTopic(super::cluster::BrokerSelect),
    /// Copy a group's offsets to another group.
    #[command(name = "cloneGroupOffset")]
    CloneGroupOffset(maintenance::CloneGroupOffsetArgs),
    /// Send messages to a topic and show the round-trip times.
    #[command(name = "checkMsgSendRT")]
    CheckMsgSendRt(rt::CheckMsgSendRtArgs),
    /// Send to every broker of a cluster and show each one's round-trip time.
    #[command(name = "clusterRT")]
    ClusterRt(rt::ClusterRtArgs),
    /// Send to one broker and show each send's result and time.
    #[command(name = "sendMsgStatus")]
    SendMsgStatus(rt::SendMsgStatusArgs),
}

/// Runs one of these commands.
///
/// # Errors
/// Bad arguments and every failure of the calls, naming what failed.
pub async fn execute(admin: &Admin, namesrv: &str, command: OpsCommand) -> Result<Report> {
    use OpsCommand as C;
    match command {
        C::TopicClusterList(a) => topics::topic_cluster_list(admin, &a).await,
        C::UpdateTopicPerm(a) => topics::update_topic_perm(admin, &a).await,
        C::UpdateOrderConf(a) => topics::update_order_conf(admin, &a).await,
        C::AllocateMq(a) => topics::allocate_mq(admin, &a).await,
        C::BrokerConsumeStats(a) => stats::broker_consume_stats(admin, &a).await,
        C::StatsAll(a) => stats::stats_all(admin, &a).await,
        C::ConsumerConnection(a) => clients::consumer_connection(admin, &a).await,
        C::ProducerConnection(a) => clients::producer_connection(admin, &a).await,
        C::ConsumerStatus(a) => clients::consumer_status(admin, &a).await,
        C::QueryMsgByUniqueKey(a) => messages::query_by_unique_key(admin, &a).await,
        C::QueryMsgByOffset(a) => messages::query_by_offset(admin, &a).await,
        C::PrintMsg(a) => messages::print_msg(namesrv, &a).await,
        C::PrintMsgByQueue(a) => messages::print_msg_by_queue(namesrv, &a).await,
        C::QueryCq(a) => messages::query_cq(admin, &a).await,
        C::UpdateBrokerConfig(a) => config::update_broker_config(admin, &a).await,
        C::GetBrokerConfig(a) => config::get_broker_config(admin, &a).await,
        C::GetNamesrvConfig => config::get_namesrv_config(admin).await,
        C::UpdateNamesrvConfig(a) => config::update_namesrv_config(admin, &a).await,
        C::UpdateKvConfig(a) => config::update_kv_config(admin, &a).await,
        C::DeleteKvConfig(a) => config::delete_kv_config(admin, &a).await,
        C::WipeWritePerm(a) => config::write_perm(admin, &a, false).await,
        C::AddWritePerm(a) => config::write_perm(admin, &a, true).await,
        C::CleanExpiredCq(a) => maintenance::clean(admin, &a, maintenance::Clean::ExpiredCq).await,
        C::DeleteExpiredCommitLog(a) => {
            maintenance::clean(admin, &a, maintenance::Clean::ExpiredCommitLog).await
        }
        C::CleanUnusedTopic(a) => {
            maintenance::clean(admin, &a, maintenance::Clean::UnusedTopic).await
        }
        C::CloneGroupOffset(a) => maintenance::clone_group_offset(admin, &a).await,
        C::CheckMsgSendRt(a) => rt::check_msg_send_rt(admin, &a).await,
        C::ClusterRt(a) => rt::cluster_rt(admin, &a).await,
        C::SendMsgStatus(a) => rt::send_msg_status(admin, &a).await,
    }
}
