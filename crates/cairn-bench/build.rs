//! Compiles `proto/etcd_kv.proto` (the client side of etcd's KV service used by
//! `cairn bench kv --target etcd`) with protox, a pure-Rust protobuf compiler, so no `protoc`
//! is needed, and generates a tonic client from the descriptors (as `cairn-proto` does). The
//! server side is generated too: the unit tests serve a fake etcd with it.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/etcd_kv.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
