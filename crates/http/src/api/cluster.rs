//! GET /api/cluster: NameServers and brokers with role, version, address,
//! message totals (the page charts TPS from their differences), disk use
//! and HA lag.

use crate::gate::Console;
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiResult;

pub async fn overview(Console(s): Console) -> ApiResult<Json<Value>> {
    let admin = s.admin()?;
    let info = admin.cluster_info().await?;
    let mut brokers = Vec::new();
    for (name, data) in &info.broker_addr_table {
        for (id, addr) in &data.broker_addrs {
            // A broker that does not answer is shown with its error rather
            // than failing the whole page.
            let row = match admin.broker_runtime_info(addr).await {
                Ok(rt) => {
                    let get = |k: &str| rt.get(k).cloned().unwrap_or_default();
                    json!({
                        "cluster": data.cluster, "name": name, "id": id, "addr": addr,
                        "role": get("brokerRole"), "version": get("brokerVersionDesc"),
                        "putTotal": get("msgPutTotalTodayNow").parse::<u64>().unwrap_or(0),
                        "getTotal": get("msgGetTotalTodayNow").parse::<u64>().unwrap_or(0),
                        "diskRatio": get("commitLogDiskRatio").parse::<f64>().unwrap_or(0.0),
                        "commitLogMaxOffset": get("commitLogMaxOffset"),
                        // A master without slaves has no replication lag.
                        "haLagBytes": if get("brokerRole") != "SLAVE" && get("slaves").is_empty() {
                            String::new()
                        } else {
                            get("haLagBytes")
                        },
                        "bootTimestamp": get("bootTimestamp"),
                    })
                }
                Err(e) => json!({
                    "cluster": data.cluster, "name": name, "id": id, "addr": addr,
                    "error": e.to_string(),
                }),
            };
            brokers.push(row);
        }
    }
    let namesrvs = admin.client().options().namesrv.clone();
    Ok(Json(json!({
        "namesrvs": namesrvs,
        "brokers": brokers,
        "time": protocol::clock::now_ms(),
    })))
}
