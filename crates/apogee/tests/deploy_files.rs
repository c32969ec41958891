//! The deployment files in `deploy/` stay usable: the compose file parses
//! and wires each broker to its config file and fixed address, the systemd
//! units pass `systemd-analyze verify` (where it exists), and the image
//! definition keeps its promises (two stages, a non-root user, the ports).
//! Building the image itself is a step of scripts/test that runs only where
//! a container engine answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

fn deploy(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(deploy(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `key=value` of a properties file.
fn property(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_owned())
}

#[test]
fn compose_file_wires_namesrv_master_and_slave() {
    let docs = YamlLoader::load_from_str(&read("compose/compose.yaml")).expect("valid YAML");
    let doc = &docs[0];
    let services = &doc["services"];
    let ip = |svc: &str| {
        services[svc]["networks"]["apogee"]["ipv4_address"]
            .as_str()
            .unwrap_or_else(|| panic!("{svc} has no fixed address"))
            .to_owned()
    };
    let namesrv_ip = ip("namesrv");
    assert!(services["namesrv"]["ports"]
        .as_vec()
        .unwrap()
        .contains(&Yaml::String("9876:9876".into())));
    for (svc, id, role) in [
        ("broker-a-master", "0", "ASYNC_MASTER"),
        ("broker-a-slave", "1", "SLAVE"),
    ] {
        let volumes = services[svc]["volumes"].as_vec().unwrap();
        let conf_mount = volumes
            .iter()
            .filter_map(Yaml::as_str)
            .find(|v| v.ends_with(":/etc/apogee/broker.conf"))
            .unwrap_or_else(|| panic!("{svc} mounts no broker.conf"));
        let conf_file = conf_mount
            .trim_start_matches("./")
            .split(':')
            .next()
            .unwrap();
        let conf = read(&format!("compose/{conf_file}"));
        assert_eq!(property(&conf, "brokerId").as_deref(), Some(id), "{svc}");
        assert_eq!(
            property(&conf, "brokerRole").as_deref(),
            Some(role),
            "{svc}"
        );
        assert_eq!(property(&conf, "brokerIP1"), Some(ip(svc)), "{svc}");
        assert_eq!(
            property(&conf, "namesrvAddr"),
            Some(format!("{namesrv_ip}:9876")),
            "{svc}"
        );
        let port = property(&conf, "listenPort").unwrap();
        let command: Vec<&str> = services[svc]["command"]
            .as_vec()
            .unwrap()
            .iter()
            .filter_map(Yaml::as_str)
            .collect();
        assert!(
            command.contains(&format!("0.0.0.0:{port}").as_str()),
            "{svc} listens where its conf says: {command:?}"
        );
        let ports: Vec<&str> = services[svc]["ports"]
            .as_vec()
            .unwrap()
            .iter()
            .filter_map(Yaml::as_str)
            .collect();
        assert!(ports.contains(&format!("{port}:{port}").as_str()), "{svc}");
        assert!(services[svc]["ulimits"]["nofile"]["soft"].as_i64().unwrap() >= 65536);
    }
    let subnet = doc["networks"]["apogee"]["ipam"]["config"][0]["subnet"]
        .as_str()
        .unwrap();
    assert!(subnet.starts_with("172.28."), "{subnet}");
}

#[test]
fn dockerfile_is_multi_stage_non_root_and_exposes_the_ports() {
    let text = read("Dockerfile");
    let froms = text.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(froms >= 2, "multi-stage: {froms} FROM lines");
    let user = text
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    assert_ne!(user.trim(), "root");
    let expose: Vec<&str> = text
        .lines()
        .find_map(|l| l.strip_prefix("EXPOSE "))
        .expect("an EXPOSE line")
        .split_whitespace()
        .collect();
    assert_eq!(expose, ["9876", "10911", "10909"]);
    let ignore = std::fs::read_to_string(deploy("../.dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "target/"));
}

#[test]
fn systemd_units_verify() {
    for unit in ["apogee-namesrv.service", "apogee-broker.service"] {
        let text = read(&format!("systemd/{unit}"));
        for needed in ["LimitNOFILE=", "Restart=", "StateDirectory=", "ExecStart="] {
            assert!(text.contains(needed), "{unit} lacks {needed}");
        }
        let has_tool = std::process::Command::new("systemd-analyze")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !has_tool {
            eprintln!("systemd-analyze not found: skipping `verify` of {unit}");
            continue;
        }
        // Point ExecStart at the binary just built: verify checks it exists.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(unit);
        let bin = env!("CARGO_BIN_EXE_apogee");
        std::fs::write(&path, text.replace("/usr/local/bin/apogee", bin)).unwrap();
        let out = std::process::Command::new("systemd-analyze")
            .arg("verify")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // verify exits 0 on unknown keys and bad values; it only warns.
        let complaints: Vec<&str> = stderr.lines().filter(|l| l.contains(unit)).collect();
        assert!(
            out.status.success() && complaints.is_empty(),
            "{unit}: {stderr}"
        );
    }
}
