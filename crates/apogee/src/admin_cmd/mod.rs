//! `apogee admin <command>`: mqadmin's operations with mqadmin's names and
//! flags, over the client library's [`client::Admin`]. Every command builds
//! a [`Report`]: aligned tables for people, or JSON (`--json`) for scripts.

mod broker_epoch;
mod cluster;
mod controller;
mod group;
mod message;
mod offset;
mod ops;
pub mod table;
pub mod time;
mod topic;

use anyhow::Result;
use clap::{Args, Subcommand};
use client::{Admin, ClientError};
use protocol::ResponseCode;
use remoting::RemotingError;

/// Options of `apogee admin`.
#[derive(Args, Debug)]
pub struct AdminArgs {
    /// NameServer address(es), `;`-separated.
    #[arg(
        short = 'n',
        long = "namesrvAddr",
        global = true,
        env = "NAMESRV_ADDR",
        default_value = client::DEFAULT_NAMESRV
    )]
    pub namesrv: String,
    /// ACL 1.0 account: requests to brokers are signed with it (with --secret-key).
    #[arg(
        long = "access-key",
        global = true,
        env = "APOGEE_ACCESS_KEY",
        requires = "secret_key"
    )]
    pub access_key: Option<String>,
    /// Secret key of --access-key.
    #[arg(
        long = "secret-key",
        global = true,
        env = "APOGEE_SECRET_KEY",
        requires = "access_key"
    )]
    pub secret_key: Option<String>,
    #[command(flatten)]
    pub tls: crate::tls_args::TlsArgs,
    /// Print JSON (one document on stdout) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// The mqadmin commands, spelled as mqadmin spells them.
#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create or update a topic on a broker (-b) or every master of a cluster (-c).
    #[command(name = "updateTopic")]
    UpdateTopic(topic::UpdateTopicArgs),
    /// List every topic the NameServer knows.
    #[command(name = "topicList")]
    TopicList,
    /// Show the brokers and queues serving a topic.
    #[command(name = "topicRoute")]
    TopicRoute(topic::TopicArg),
    /// Show min/max offsets of each queue of a topic.
    #[command(name = "topicStatus")]
    TopicStatus(topic::TopicArg),
    /// Delete a topic from the brokers and the NameServer.
    #[command(name = "deleteTopic")]
    DeleteTopic(topic::DeleteTopicArgs),
    /// List clusters, brokers, addresses and their rates.
    #[command(name = "clusterList")]
    ClusterList,
    /// Create or update a consumer (subscription) group.
    #[command(name = "updateSubGroup")]
    UpdateSubGroup(group::UpdateSubGroupArgs),
    /// Delete a consumer group.
    #[command(name = "deleteSubGroup")]
    DeleteSubGroup(group::DeleteSubGroupArgs),
    /// Show a group's offsets and lag per queue, and the total lag.
    #[command(name = "consumerProgress")]
    ConsumerProgress(group::ConsumerProgressArgs),
    /// Show a message by its id (offset id, or unique key with -t).
    #[command(name = "queryMsgById")]
    QueryMsgById(message::QueryByIdArgs),
    /// Find messages by key.
    #[command(name = "queryMsgByKey")]
    QueryMsgByKey(message::QueryByKeyArgs),
    /// Send one message.
    #[command(name = "sendMessage")]
    SendMessage(message::SendMessageArgs),
    /// Read messages of a topic (does not move any group's offsets).
    #[command(name = "consumeMessage")]
    ConsumeMessage(message::ConsumeMessageArgs),
    /// Move a group's offsets to the first messages stored at or after a time.
    #[command(name = "resetOffsetByTime")]
    ResetOffsetByTime(offset::ResetOffsetArgs),
    /// Move a group's offsets past every stored message.
    #[command(name = "skipAccumulatedMessage")]
    SkipAccumulatedMessage(offset::SkipArgs),
    /// Show a broker's runtime figures.
    #[command(name = "brokerStatus")]
    BrokerStatus(cluster::BrokerSelect),
    /// Show a broker's replication figures (role, offsets, lag).
    #[command(name = "haStatus")]
    HaStatus(cluster::BrokerSelect),
    /// Controller mode: each controller's view of the group and its leader.
    #[command(name = "getControllerMetaData")]
    GetControllerMetaData(controller::ControllerAddrs),
    /// Controller mode: each controller's configuration.
    #[command(name = "getControllerConfig")]
    GetControllerConfig(controller::ControllerAddrs),
    /// Controller mode: change a key on each listed controller (not replicated).
    #[command(name = "updateControllerConfig")]
    UpdateControllerConfig(controller::UpdateConfigArgs),
    /// Controller mode: master, epochs and in-sync replicas of broker sets.
    #[command(name = "getSyncStateSet")]
    GetSyncStateSet(controller::SyncStateSetArgs),
    /// Controller mode: make an in-sync broker the master (switchover).
    #[command(name = "electMaster")]
    ElectMaster(controller::ElectMasterArgs),
    /// Controller mode: each broker's epoch list (GET_BROKER_EPOCH_CACHE).
    #[command(name = "getBrokerEpoch")]
    GetBrokerEpoch(broker_epoch::BrokerEpochArgs),
    #[command(flatten)]
    Ops(ops::OpsCommand),
}

/// What a command produced: text for people and JSON for scripts.
#[derive(Debug, Clone)]
pub struct Report {
    /// Aligned tables and lines; ends with a newline.
    pub text: String,
    /// The same facts as a JSON document.
    pub json: serde_json::Value,
}

/// Runs one admin command and prints its report.
///
/// # Errors
/// Bad arguments and every failure of the calls, naming what failed.
pub async fn run(args: AdminArgs) -> Result<()> {
    let mut options = client::ClientOptions {
        access_key: args.access_key.clone(),
        secret_key: args.secret_key.clone(),
        tls: args.tls.settings(),
        ..client::ClientOptions::default()
    };
    options.add_namesrv(&args.namesrv);
    let client = client::Client::start(options)
        .map_err(|e| anyhow::Error::new(e).context("cannot start the admin client"))?;
    let admin = Admin::with_client(&client);
    let result = execute(&admin, &args.namesrv, args.command).await;
    client.shutdown().await;
    let report = result?;
    if args.json {
        let mut text = serde_json::to_string_pretty(&report.json)?;
        text.push('\n');
        emit(&text)
    } else {
        emit(&report.text)
    }
}

/// Writes to stdout; a closed pipe (`| head`) ends the output quietly
/// instead of panicking like `print!`.
///
/// # Errors
/// Other write failures.
pub(crate) fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

async fn execute(admin: &Admin, namesrv: &str, command: AdminCommand) -> Result<Report> {
    match command {
        AdminCommand::UpdateTopic(a) => topic::update_topic(admin, &a).await,
        AdminCommand::TopicList => topic::topic_list(admin).await,
        AdminCommand::TopicRoute(a) => topic::topic_route(admin, &a).await,
        AdminCommand::TopicStatus(a) => topic::topic_status(admin, &a).await,
        AdminCommand::DeleteTopic(a) => topic::delete_topic(admin, &a).await,
        AdminCommand::ClusterList => cluster::cluster_list(admin).await,
        AdminCommand::UpdateSubGroup(a) => group::update_sub_group(admin, &a).await,
        AdminCommand::DeleteSubGroup(a) => group::delete_sub_group(admin, &a).await,
        AdminCommand::ConsumerProgress(a) => group::consumer_progress(admin, &a).await,
        AdminCommand::QueryMsgById(a) => message::query_by_id(admin, &a).await,
        AdminCommand::QueryMsgByKey(a) => message::query_by_key(admin, &a).await,
        AdminCommand::SendMessage(a) => message::send_message(admin, &a).await,
        AdminCommand::ConsumeMessage(a) => message::consume_message(admin, &a).await,
        AdminCommand::ResetOffsetByTime(a) => offset::reset_offset_by_time(admin, &a).await,
        AdminCommand::SkipAccumulatedMessage(a) => offset::skip_accumulated(admin, &a).await,
        AdminCommand::BrokerStatus(a) => cluster::broker_status(admin, &a).await,
        AdminCommand::HaStatus(a) => cluster::ha_status(admin, &a).await,
        AdminCommand::GetControllerMetaData(a) => controller::get_metadata(&a).await,
        AdminCommand::GetControllerConfig(a) => controller::get_config(&a).await,
        AdminCommand::UpdateControllerConfig(a) => controller::update_config(&a).await,
        AdminCommand::GetSyncStateSet(a) => controller::get_sync_state_set(&a).await,
        AdminCommand::ElectMaster(a) => controller::elect_master(&a).await,
        AdminCommand::GetBrokerEpoch(a) => broker_epoch::get_broker_epoch(admin, &a).await,
        AdminCommand::Ops(c) => ops::execute(admin, namesrv, c).await,
    }
}

/// Turns a client error into one that says what was being done and, for
/// the usual causes, what they mean.
pub(crate) fn failed(e: ClientError, what: impl std::fmt::Display) -> anyhow::Error {
    let hint = hint(&e);
    let what = match hint {
        Some(h) => format!("{what} ({h})"),
        None => what.to_string(),
    };
    anyhow::Error::new(e).context(what)
}

fn hint(e: &ClientError) -> Option<&'static str> {
    match e {
        ClientError::Remoting(
            RemotingError::Connect { .. }
            | RemotingError::ConnectTimeout { .. }
            | RemotingError::Timeout { .. }
            | RemotingError::ConnectionClosed { .. },
        ) => Some("unreachable: is it running, and is the address right?"),
        ClientError::SendFailed { last, .. } => hint(last),
        ClientError::NoRoute { .. } => Some("unknown topic"),
        ClientError::Response { code, .. } => {
            let c = ResponseCode::from_code(*code);
            if c == ResponseCode::TOPIC_NOT_EXIST {
                Some("unknown topic")
            } else if c == ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST {
                Some("unknown consumer group")
            } else if c == ResponseCode::NO_PERMISSION {
                Some("permission denied")
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Extension to attach [`failed`] to client results.
pub(crate) trait OrFail<T> {
    /// Maps the error with [`failed`]; `what` is built only on failure.
    fn or_fail<W: std::fmt::Display>(self, what: impl FnOnce() -> W) -> Result<T>;
}

impl<T> OrFail<T> for client::Result<T> {
    fn or_fail<W: std::fmt::Display>(self, what: impl FnOnce() -> W) -> Result<T> {
        self.map_err(|e| failed(e, what()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        admin: AdminArgs,
    }

    fn parse(args: &[&str]) -> AdminArgs {
        let mut v = vec!["admin"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).unwrap().admin
    }

    #[test]
    fn credentials_come_in_pairs() {
        let a = parse(&[
            "topicList",
            "--access-key",
            "operator",
            "--secret-key",
            "s3cret-key",
        ]);
        assert_eq!(a.access_key.as_deref(), Some("operator"));
        assert_eq!(a.secret_key.as_deref(), Some("s3cret-key"));
        let mut v = vec!["admin", "topicList", "--access-key", "operator"];
        assert!(Cli::try_parse_from(&v).is_err(), "a key without its secret");
        v.truncate(2);
        assert!(parse(&v[1..]).access_key.is_none());
    }

    #[test]
    fn update_topic_takes_mqadmin_flags_and_a_trailing_namesrv() {
        let a = parse(&[
            "updateTopic",
            "-t",
            "T1",
            "-c",
            "DefaultCluster",
            "-r",
            "4",
            "-w",
            "2",
            "-p",
            "4",
            "-n",
            "10.0.0.1:9876",
            "--json",
        ]);
        assert_eq!(a.namesrv, "10.0.0.1:9876");
        assert!(a.json);
        let AdminCommand::UpdateTopic(t) = a.command else {
            panic!("wrong command: {:?}", a.command)
        };
        assert_eq!(t.topic, "T1");
        assert_eq!(t.cluster.as_deref(), Some("DefaultCluster"));
        assert_eq!((t.read_queues, t.write_queues, t.perm), (4, 2, 4));
        assert!(t.broker.is_none());
    }

    #[test]
    fn defaults_apply() {
        let a = parse(&["topicList"]);
        assert!(!a.json);
        assert!(matches!(a.command, AdminCommand::TopicList));
        let a = parse(&["updateTopic", "-t", "T"]);
        let AdminCommand::UpdateTopic(t) = a.command else {
            panic!("wrong command")
        };
        assert_eq!((t.read_queues, t.write_queues, t.perm), (8, 8, 6));
    }

    #[test]
    fn reset_offset_parses_timestamps_and_force() {
        let a = parse(&[
            "resetOffsetByTime",
            "-g",
            "G",
            "-t",
            "T",
            "-s",
            "2023-11-14#22:13:20:123",
            "-f",
            "false",
        ]);
        let AdminCommand::ResetOffsetByTime(r) = a.command else {
            panic!("wrong command")
        };
        assert_eq!(r.timestamp, Some(1_700_000_000_123));
        assert!(!r.force);
        let a = parse(&["resetOffsetByTime", "-g", "G", "-t", "T", "-s", "5"]);
        let AdminCommand::ResetOffsetByTime(r) = a.command else {
            panic!("wrong command")
        };
        assert!(r.force, "mqadmin's default is force");
        assert_eq!(r.timestamp, Some(5));
    }

    #[test]
    fn bad_timestamp_is_a_parse_error() {
        let err = Cli::try_parse_from([
            "admin",
            "resetOffsetByTime",
            "-g",
            "G",
            "-t",
            "T",
            "-s",
            "x",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("yyyy-MM-dd#HH:mm:ss:SSS"), "{err}");
    }

    #[test]
    fn missing_required_flags_are_rejected() {
        assert!(Cli::try_parse_from(["admin", "topicRoute"]).is_err());
        assert!(Cli::try_parse_from(["admin", "consumerProgress"]).is_err());
        assert!(Cli::try_parse_from(["admin", "update_topic", "-t", "T"]).is_err());
    }

    #[test]
    fn send_and_consume_flags() {
        let a = parse(&[
            "sendMessage",
            "-t",
            "T",
            "-p",
            "hello",
            "-k",
            "k1",
            "--tags",
            "A",
        ]);
        let AdminCommand::SendMessage(s) = a.command else {
            panic!("wrong command")
        };
        assert_eq!(
            (s.body.as_str(), s.keys.as_deref(), s.tags.as_deref()),
            ("hello", Some("k1"), Some("A"))
        );
        let a = parse(&["consumeMessage", "-t", "T", "-q", "1", "-o", "5", "-c", "3"]);
        let AdminCommand::ConsumeMessage(c) = a.command else {
            panic!("wrong command")
        };
        assert_eq!((c.queue, c.offset, c.count), (Some(1), Some(5), 3));
        assert!(c.group.is_none());
    }

    #[test]
    fn hints_name_the_usual_causes() {
        let e = ClientError::Response {
            addr: "a".into(),
            code: ResponseCode::TOPIC_NOT_EXIST.code(),
            code_name: "TOPIC_NOT_EXIST".into(),
            remark: "no route".into(),
        };
        let msg = format!("{:#}", failed(e, "cannot get the route of topic X"));
        assert!(
            msg.starts_with("cannot get the route of topic X (unknown topic): "),
            "{msg}"
        );
        let e = ClientError::Remoting(RemotingError::ConnectTimeout {
            addr: "10.1.1.1:9876".into(),
            millis: 3000,
        });
        let msg = format!("{:#}", failed(e, "cannot list topics"));
        assert!(
            msg.contains("unreachable") && msg.contains("10.1.1.1:9876"),
            "{msg}"
        );
    }
}
