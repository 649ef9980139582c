#!/usr/bin/env bash
# Replicated KV against etcd: `cairn bench kv` (puts and linearizable gets, 16-byte keys,
# 100-byte values) at 1, 16 and 64 clients against a 3-node Cairn cluster and then a
# 3-member etcd 3.4 cluster, both on loopback on this machine, one after the other; then the
# unavailability window after a SIGKILL of a leader under put load, on each system.
#
# Usage: bench/kv.sh [extra `cairn bench kv` flags...]
#   KV_DURATION  seconds per (workload, clients)      default 10
#   KV_CLIENTS   client counts                         default 1,16,64
#   KV_KEYS      key space (gets load it first)        default 10000
#   KV_FAILOVER  seconds of the put load a leader is killed in (0 = skip)   default 8
#   KV_CAIRN_USER_RANGES  Cairn's --user-ranges (Raft groups the keys spread over)  default 4
#   KV_CAIRN_FLAGS  extra `cairn start` flags for the Cairn nodes (e.g. --no-quiesce)  default none
#   CARGO_TARGET_DIR is honoured for the release build.
#
# Equal durability: Cairn's Raft loop syncs its log once per turn before acknowledging;
# etcd fsyncs its WAL before acknowledging (both defaults). Both clusters keep their data
# under one temporary directory on the same disk, removed at exit.
#
# Everything started here stops with the script: on exit the trap kills the saved PIDs; if the
# script itself is killed, the Cairn nodes see their standard input (a FIFO held by the
# script) close and exit, and a watchdog kills the etcd members.
# Output is also saved under bench/results/.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

duration="${KV_DURATION:-10}"
clients="${KV_CLIENTS:-1,16,64}"
keys="${KV_KEYS:-10000}"
failover_secs="${KV_FAILOVER:-8}"
user_ranges="${KV_CAIRN_USER_RANGES:-4}"
read -r -a cairn_flags <<<"${KV_CAIRN_FLAGS:-}"

log() { echo "kv.sh: $*" >&2; }

# --- etcd ------------------------------------------------------------------------------------
if ! [ -x /usr/bin/etcd ]; then
    log "installing etcd-server (etcd 3.4)"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq etcd-server >&2
fi
etcd_bin=/usr/bin/etcd

# --- cairn -----------------------------------------------------------------------------------
target_dir="${CARGO_TARGET_DIR:-$repo_root/target}"
log "building cairn (release)"
cargo build --release -p cairn >&2
cairn="$target_dir/release/cairn"

work="$(mktemp -d "${TMPDIR:-/tmp}/cairn-kv-bench.XXXXXX")"
# PIDs of the processes started here that have not been reaped yet: only these are ever
# signalled (a reaped PID may belong to someone else by now).
declare -A live=()
watchdog=""
cleanup() {
    set +e
    [ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null
    for pid in "${!live[@]}"; do
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    exec 3>&- 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The Cairn nodes read this FIFO as standard input (--exit-on-stdin-eof); fd 3 is its only
# writer, so it closes when this script ends, however it ends.
mkfifo "$work/stdin"
exec 3<>"$work/stdin"

free_port() {
    local p
    while :; do
        p="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
        [ "$p" != 5432 ] && { echo "$p"; return; }
    done
}

# Kills the PIDs in "$@" once this script is gone (for the etcd members, which do not watch
# their standard input).
start_watchdog() {
    local parent=$$
    (
        while kill -0 "$parent" 2>/dev/null; do sleep 1; done
        local pid
        for pid in "$@"; do
            # Only if that PID is still an etcd (it may have been reaped and reused).
            [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$etcd_bin" ] && kill -9 "$pid"
        done
    ) &
    watchdog=$!
}

# Whether our unreaped child $1 is still running (not yet a zombie). Until it is reaped its
# PID cannot be reused, so this is safe to poll.
running() {
    local state
    state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || echo Z)"
    [ "$state" != Z ]
}

# SIGTERM every PID in "$@" that is still live, give them 10 s, SIGKILL what is left, reap.
stop_pids() {
    local pid
    for pid in "$@"; do
        if [ -n "${live[$pid]:-}" ]; then kill "$pid" 2>/dev/null || true; fi
    done
    for pid in "$@"; do
        [ -n "${live[$pid]:-}" ] || continue
        for _ in $(seq 100); do running "$pid" || break; sleep 0.1; done
        if running "$pid"; then
            log "PID $pid did not stop within 10 s of SIGTERM; SIGKILL"
            kill -9 "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
        unset "live[$pid]"
    done
    return 0
}

mkdir -p bench/results
results="bench/results/kv-$(date -u +%Y%m%dT%H%M%SZ)-$(git rev-parse --short HEAD 2>/dev/null || echo nogit).jsonl"
{
    echo "# commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "# host: $(uname -srm), $(nproc) cores; etcd: $($etcd_bin --version | head -1)"
    echo "# duration=$duration s clients=$clients keys=$keys cairn user ranges=$user_ranges extra flags: $*"
} >"$results"

bench() { "$cairn" bench kv --keys "$keys" "$@"; }

# Runs put and get at every client count against target $1 on hosts $2; appends JSON lines.
run_suite() {
    local target=$1 hosts=$2
    log "$target: warm-up"
    bench --target "$target" --hosts "$hosts" --clients 4 --num 500 --workload put >/dev/null
    log "$target: put and get at $clients clients, $duration s each"
    bench --target "$target" --hosts "$hosts" --clients "$clients" --workload put,get \
        --duration "$duration" --json "${@:3}" | tee -a "$results"
}

# Runs a 16-client put load for $failover_secs on target $1, hosts $2, and 2 s into it SIGKILLs
# the PID that the function named $3 prints (the leader). Appends the JSON line, tagged
# "failover"; its max_gap_ms is the unavailability window.
run_failover() {
    local target=$1 hosts=$2 find_victim=$3
    local out="$work/failover-$target.json"
    bench --target "$target" --hosts "$hosts" --clients 16 --workload put \
        --duration "$failover_secs" --json >"$out" &
    local bench_pid=$!
    sleep 2
    local victim
    victim="$($find_victim)"
    log "$target: SIGKILL of leader PID $victim under put load"
    [ -n "${live[$victim]:-}" ] || { log "PID $victim is not ours"; return 1; }
    kill -9 "$victim"
    wait "$victim" 2>/dev/null || true
    unset "live[$victim]"
    if wait "$bench_pid"; then
        sed 's/^{/{"failover":true,/' "$out" | tee -a "$results"
    else
        log "$target: the put load failed after the kill"
    fi
}

# --- Cairn cluster ---------------------------------------------------------------------------
cairn_addrs=()
for i in 0 1 2; do cairn_addrs+=("127.0.0.1:$(free_port)"); done
cairn_hosts="$(IFS=,; echo "${cairn_addrs[*]}")"
cairn_pids=()
for i in 0 1 2; do
    "$cairn" start --store "$work/cairn-$i" --sql-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 \
        --grpc-addr "${cairn_addrs[$i]}" --join "$cairn_hosts" --user-ranges "$user_ranges" \
        --grpc-port-file "$work/cairn-$i.port" --exit-on-stdin-eof ${cairn_flags[@]+"${cairn_flags[@]}"} \
        <"$work/stdin" >/dev/null 2>"$work/cairn-$i.log" &
    live[$!]=1
    cairn_pids+=($!)
done
for i in 0 1 2; do
    for _ in $(seq 600); do [ -s "$work/cairn-$i.port" ] && break; sleep 0.1; done
    [ -s "$work/cairn-$i.port" ] || { log "cairn node $i did not start"; cat "$work/cairn-$i.log" >&2; exit 1; }
done
"$cairn" init --host "${cairn_addrs[0]}" >&2

# The node leading range 2 (the first user range), as a PID.
cairn_leader_pid() {
    local i
    for i in 0 1 2; do
        if "$cairn" node status --host "${cairn_addrs[$i]}" 2>/dev/null |
            awk '$1 == 2 && $3 == "leader" { found = 1 } END { exit !found }'; then
            echo "${cairn_pids[$i]}"
            return
        fi
    done
    log "no Cairn node leads range 2"
    return 1
}

run_suite cairn "$cairn_hosts" "$@"
if [ "$failover_secs" != 0 ]; then run_failover cairn "$cairn_hosts" cairn_leader_pid; fi
stop_pids "${cairn_pids[@]}"

# --- etcd cluster ----------------------------------------------------------------------------
etcd_client=() etcd_peer=() initial=""
for i in 0 1 2; do
    etcd_client+=("127.0.0.1:$(free_port)")
    etcd_peer+=("127.0.0.1:$(free_port)")
    initial+="${initial:+,}m$i=http://${etcd_peer[$i]}"
done
etcd_hosts="$(IFS=,; echo "${etcd_client[*]}")"
etcd_pids=()
for i in 0 1 2; do
    "$etcd_bin" --name "m$i" --data-dir "$work/etcd-$i" \
        --listen-client-urls "http://${etcd_client[$i]}" \
        --advertise-client-urls "http://${etcd_client[$i]}" \
        --listen-peer-urls "http://${etcd_peer[$i]}" \
        --initial-advertise-peer-urls "http://${etcd_peer[$i]}" \
        --initial-cluster "$initial" --initial-cluster-state new \
        --initial-cluster-token cairn-kv-bench \
        </dev/null >/dev/null 2>"$work/etcd-$i.log" &
    live[$!]=1
    etcd_pids+=($!)
done
start_watchdog "${etcd_pids[@]}"

# Member status through etcd's JSON gateway: prints "member_id leader_id".
etcd_status() {
    python3 - "$1" <<'EOF'
import json, sys, urllib.request
req = urllib.request.Request(f"http://{sys.argv[1]}/v3/maintenance/status", data=b"{}")
s = json.load(urllib.request.urlopen(req, timeout=2))
print(s["header"]["member_id"], s.get("leader", "0"))
EOF
}
for _ in $(seq 300); do
    etcd_status "${etcd_client[0]}" 2>/dev/null | awk '$2 != "0" { ok = 1 } END { exit !ok }' && break
    sleep 0.2
done

etcd_leader_pid() {
    local i member leader
    for i in 0 1 2; do
        read -r member leader < <(etcd_status "${etcd_client[$i]}" 2>/dev/null || echo "x y")
        if [ "$member" = "$leader" ]; then
            echo "${etcd_pids[$i]}"
            return
        fi
    done
    log "no etcd member leads"
    return 1
}

run_suite etcd "$etcd_hosts" "$@"
if [ "$failover_secs" != 0 ]; then run_failover etcd "$etcd_hosts" etcd_leader_pid; fi
stop_pids "${etcd_pids[@]}"
kill "$watchdog" 2>/dev/null || true
watchdog=""

# --- summary ---------------------------------------------------------------------------------
python3 - "$results" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
runs = {(r["target"], r["workload"], r["clients"]): r for r in rows if not r.get("failover")}
print()
print(f"{'workload':<8} {'cli':>4} {'cairn ops/s':>12} {'etcd ops/s':>11} {'ratio':>6}   "
      f"{'cairn p50/p99/p99.9 ms':>24}   {'etcd p50/p99/p99.9 ms':>24}")
for (target, workload, clients), c in sorted(runs.items(), key=lambda kv: (kv[0][1] != "put", kv[0][2])):
    if target != "cairn":
        continue
    e = runs.get(("etcd", workload, clients))
    lat = lambda r: "/".join(f"{r[k] / 1000:.2f}" for k in ("p50_us", "p99_us", "p999_us"))
    ratio = f"{c['ops_per_sec'] / e['ops_per_sec']:.2f}" if e else "-"
    print(f"{workload:<8} {clients:>4} {c['ops_per_sec']:>12.0f} "
          f"{e['ops_per_sec'] if e else float('nan'):>11.0f} {ratio:>6}   "
          f"{lat(c):>24}   {lat(e) if e else '-':>24}")
for r in rows:
    if r.get("failover"):
        print(f"{r['target']}: leader SIGKILLed under 16-client put load: longest gap between "
              f"acknowledged puts {r['max_gap_ms']} ms ({r['ops']} puts, {r['retries']} retries)")
EOF
log "results saved to $results"
