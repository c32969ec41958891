//! Console login over a broker with `aclEnable`: the API refuses callers
//! without a session, a wrong secret or a non-admin account gets a clear
//! error, an admin's session works (its calls reach the broker signed),
//! logout ends it, and `/metrics` is open or protected as configured.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use client::Admin;
use http::auth::Auth;
use http::{HttpServer, Sources};
use testkit::acl::PLAIN_ACL as ACL;
use testkit::TestCluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Answer {
    status: u16,
    head: String,
    body: String,
}

async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    extra: &str,
    body: &str,
) -> Answer {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{extra}content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    Answer {
        status: out[9..12].parse().expect("status"),
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

fn cookie_of(a: &Answer) -> String {
    let line = a
        .head
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .expect("a session cookie");
    let value = line["set-cookie:".len()..].trim();
    assert!(value.contains("httponly"), "{value}");
    assert!(value.contains("samesite=strict"), "{value}");
    let pair = value.split(';').next().unwrap();
    format!("cookie: {pair}\r\n")
}

async fn serve(cluster: &TestCluster, protect: bool) -> (HttpServer, Sources) {
    let ns = cluster.namesrv_addr();
    let acl = cluster.broker.state().acl.clone().expect("aclEnable is on");
    let sources = Sources {
        broker: Some(cluster.broker.state().clone()),
        admin: Some(Arc::new(Admin::connect(&ns).unwrap())),
        auth: Some(Arc::new(Auth::from_acl(acl, &ns, protect))),
        ..Sources::default()
    };
    let server = HttpServer::start("127.0.0.1:0".parse().unwrap(), sources.clone())
        .await
        .unwrap();
    (server, sources)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_needs_an_admin_login_and_metrics_can_be_protected() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain_acl.yml");
    std::fs::write(&file, ACL).unwrap();
    let cluster = TestCluster::start_with(|b, _| {
        b.acl_enable = true;
        b.acl_file_path = file.display().to_string();
    })
    .await;
    let (server, sources) = serve(&cluster, false).await;
    let addr = server.local_addr();

    let a = request(addr, "GET", "/api/session", "", "").await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains(r#""loginRequired":true"#), "{}", a.body);
    let a = request(addr, "GET", "/api/topics", "", "").await;
    assert_eq!(a.status, 401, "{}", a.body);
    assert!(a.body.contains("login required"), "{}", a.body);
    // The page itself loads (it shows the login form).
    assert_eq!(request(addr, "GET", "/", "", "").await.status, 200);
    // /metrics is public unless httpMetricsRequireAuth.
    assert_eq!(request(addr, "GET", "/metrics", "", "").await.status, 200);

    let a = request(
        addr,
        "POST",
        "/api/login",
        "",
        r#"{"accessKey":"operator","secretKey":"wrong-secret"}"#,
    )
    .await;
    assert_eq!(a.status, 401);
    assert!(
        a.body.contains("wrong access key or secret key"),
        "{}",
        a.body
    );
    assert!(!a.head.contains("set-cookie"));
    let a = request(
        addr,
        "POST",
        "/api/login",
        "",
        r#"{"accessKey":"publisher","secretKey":"pub-secret"}"#,
    )
    .await;
    assert_eq!(a.status, 403);
    assert!(a.body.contains("not an admin account"), "{}", a.body);
    let a = request(
        addr,
        "POST",
        "/api/login",
        "",
        r#"{"accessKey":"operator"}"#,
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("'secretKey'"), "{}", a.body);

    let a = request(
        addr,
        "POST",
        "/api/login",
        "",
        r#"{"accessKey":"operator","secretKey":"operator-secret"}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let cookie = cookie_of(&a);
    let a = request(addr, "GET", "/api/session", &cookie, "").await;
    assert!(a.body.contains(r#""user":"operator""#), "{}", a.body);
    // Creating a topic is an admin request: it reaches the ACL-checking
    // broker signed with the operator's keys.
    let a = request(
        addr,
        "POST",
        "/api/topics",
        &cookie,
        r#"{"name":"LoginT","queues":1}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(cluster.broker.state().topics.get("LoginT").is_some());

    let a = request(addr, "POST", "/api/logout", &cookie, "").await;
    assert_eq!(a.status, 200);
    assert!(a.head.contains("max-age=0"), "{}", a.head);
    let a = request(addr, "GET", "/api/topics", &cookie, "").await;
    assert_eq!(a.status, 401, "the closed session no longer works");
    server.shutdown().await;
    sources.shutdown().await;

    // httpMetricsRequireAuth: basic auth with an admin account, or a session.
    let (server, sources) = serve(&cluster, true).await;
    let addr = server.local_addr();
    let a = request(addr, "GET", "/metrics", "", "").await;
    assert_eq!(a.status, 401);
    assert!(a.head.contains("www-authenticate: basic"), "{}", a.head);
    let basic = |user: &str, pass: &str| {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        format!("authorization: Basic {token}\r\n")
    };
    let a = request(addr, "GET", "/metrics", &basic("operator", "nope"), "").await;
    assert_eq!(a.status, 401);
    let a = request(
        addr,
        "GET",
        "/metrics",
        &basic("publisher", "pub-secret"),
        "",
    )
    .await;
    assert_eq!(a.status, 401, "a non-admin account may not scrape");
    let a = request(
        addr,
        "GET",
        "/metrics",
        &basic("operator", "operator-secret"),
        "",
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("rocketmq_topic_number"), "{}", a.body);
    let login = request(
        addr,
        "POST",
        "/api/login",
        "",
        r#"{"accessKey":"operator","secretKey":"operator-secret"}"#,
    )
    .await;
    let a = request(addr, "GET", "/metrics", &cookie_of(&login), "").await;
    assert_eq!(a.status, 200);
    server.shutdown().await;
    sources.shutdown().await;
    cluster.shutdown().await;
}
