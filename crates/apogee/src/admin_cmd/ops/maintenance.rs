//! Store maintenance commands: cleanExpiredCQ, deleteExpiredCommitLog,
//! cleanUnusedTopic, and cloneGroupOffset.

use anyhow::{bail, Result};
use clap::{ArgAction, Args};
use client::Admin;
use protocol::header::ops::CloneGroupOffsetRequestHeader;
use protocol::RequestCode;
use serde_json::json;

use super::super::cluster::{selected, BrokerSelect};
use super::super::table::Table;
use super::super::{OrFail, Report};

/// What to clean.
#[derive(Debug, Clone, Copy)]
pub enum Clean {
    ExpiredCq,
    ExpiredCommitLog,
    UnusedTopic,
}

impl Clean {
    fn code(self) -> RequestCode {
        match self {
            Clean::ExpiredCq => RequestCode::CLEAN_EXPIRED_CONSUMEQUEUE,
            Clean::ExpiredCommitLog => RequestCode::DELETE_EXPIRED_COMMITLOG,
            Clean::UnusedTopic => RequestCode::CLEAN_UNUSED_TOPIC,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Clean::ExpiredCq => "clean expired consume queues",
            Clean::ExpiredCommitLog => "delete expired commit log",
            Clean::UnusedTopic => "clean unused topics",
        }
    }
}

pub async fn clean(admin: &Admin, sel: &BrokerSelect, kind: Clean) -> Result<Report> {
    let mut t = Table::new(["#Broker", "#Addr", "#Result"]);
    let mut rows = Vec::new();
    for (name, addr) in selected(admin, sel).await? {
        let remark = admin
            .clean(&addr, kind.code())
            .await
            .or_fail(|| format!("cannot {} on broker {addr}", kind.what()))?;
        t.row([name.clone(), addr.clone(), remark.clone()]);
        rows.push(json!({ "brokerName": name, "addr": addr, "result": remark }));
    }
    Ok(Report {
        text: format!("{}: done.\n{}", kind.what(), t.render()),
        json: json!({ "brokers": rows }),
    })
}

/// Flags of `cloneGroupOffset`.
#[derive(Args, Debug)]
pub struct CloneGroupOffsetArgs {
    /// Source group.
    #[arg(short = 's', long = "srcGroup")]
    pub src: String,
    /// Destination group.
    #[arg(short = 'd', long = "destGroup")]
    pub dest: String,
    /// Topic.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Clone even when the source group is online without this topic.
    #[arg(short = 'o', long = "offline", action = ArgAction::Set, default_value_t = false)]
    pub offline: bool,
}

pub async fn clone_group_offset(admin: &Admin, a: &CloneGroupOffsetArgs) -> Result<Report> {
    if a.src == a.dest {
        bail!("srcGroup and destGroup are both {}", a.src);
    }
    let route = admin
        .topic_route(&a.topic)
        .await
        .or_fail(|| format!("cannot clone offsets on topic {}", a.topic))?;
    let header = CloneGroupOffsetRequestHeader {
        src_group: a.src.clone(),
        dest_group: a.dest.clone(),
        topic: Some(a.topic.clone()),
        offline: Some(a.offline),
    };
    let mut rows = Vec::new();
    for b in &route.broker_datas {
        let Some(addr) = b.master_addr() else {
            continue;
        };
        let remark = admin
            .clone_group_offset(addr, &header)
            .await
            .or_fail(|| format!("cannot clone offsets on broker {addr}"))?;
        rows.push(json!({ "brokerName": b.broker_name, "addr": addr, "result": remark }));
    }
    Ok(Report {
        text: format!(
            "clone group offset success. srcGroup[{}], destGroup={}, topic[{}]\n",
            a.src, a.dest, a.topic
        ),
        json: json!({ "srcGroup": a.src, "destGroup": a.dest, "topic": a.topic, "brokers": rows }),
    })
}
