//! Compiles our .proto files to Rust with pure-Rust tools (protox parses
//! them, tonic-build generates), so a build needs no `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/apache/rocketmq/v2/definition.proto",
        "proto/apache/rocketmq/v2/service.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    tonic_build::configure()
        // A message body is `Bytes`: decoded as a slice of the request's
        // buffer, and sent from the stored message without a copy.
        .bytes([".apache.rocketmq.v2.Message.body"])
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
