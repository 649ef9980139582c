//! Compiles `proto/*.proto` with protox (a pure-Rust protobuf compiler, so no `protoc` is
//! needed) and generates tonic clients and servers from the descriptors.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/raft.proto",
        "proto/kv.proto",
        "proto/node.proto",
        "proto/sqltxn.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
