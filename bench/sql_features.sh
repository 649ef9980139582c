#!/usr/bin/env bash
# Spot timings of SQL features that `cairn bench queries` does not exercise (window
# functions, a sliding-frame aggregate, WITH RECURSIVE, ROLLUP), each query run the same
# number of times on Cairn and on PostgreSQL, one after the other, printing the median
# wall time (psql round trip included) and the ratio. The queries generate their own rows
# (generate_series), so the servers need no data; both answers are printed to compare.
#
# Usage: bench/sql_features.sh CAIRN_PORT POSTGRES_PORT
#   RUNS   runs per query and server (median reported)   default 5
#   Both servers on 127.0.0.1 as user postgres; start Cairn with
#   `cargo run --release -- start --sql-addr 127.0.0.1:PORT` and PostgreSQL 15 as you like.
set -euo pipefail

cairn_port=${1:?usage: bench/sql_features.sh CAIRN_PORT POSTGRES_PORT}
pg_port=${2:?usage: bench/sql_features.sh CAIRN_PORT POSTGRES_PORT}
runs=${RUNS:-5}

queries=(
  "windows|SELECT max(s), max(r) FROM (SELECT sum(x) OVER (ORDER BY x) s, rank() OVER (PARTITION BY x % 100 ORDER BY x) r FROM generate_series(1, 200000) x) t"
  "sliding avg|SELECT max(s) FROM (SELECT avg(x) OVER (ORDER BY x ROWS BETWEEN 50 PRECEDING AND 50 FOLLOWING) s FROM generate_series(1, 100000) x) t"
  "recursive|WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 100000) SELECT sum(n) FROM t"
  "rollup|SELECT count(*), sum(c) FROM (SELECT x % 100 a, x % 7 b, count(*) c FROM generate_series(1, 200000) x GROUP BY ROLLUP (x % 100, x % 7)) s"
)

# Median wall seconds of `runs` runs of query $2 on port $1; the answer goes to stderr.
median() {
  local port=$1 sql=$2 times=() answer
  for _ in $(seq "$runs"); do
    local start end
    start=$(date +%s.%N)
    answer=$(psql -X -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atc "$sql")
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc)")
  done
  echo "    port $port answered: $answer" >&2
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

printf '%-12s %10s %10s %7s\n' query cairn_s postgres_s ratio
for entry in "${queries[@]}"; do
  name=${entry%%|*}
  sql=${entry#*|}
  c=$(median "$cairn_port" "$sql")
  p=$(median "$pg_port" "$sql")
  printf '%-12s %10.3f %10.3f %7.2f\n' "$name" "$c" "$p" "$(echo "$c / $p" | bc -l)"
done
