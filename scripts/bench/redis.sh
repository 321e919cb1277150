#!/usr/bin/env bash
# redis-server (under whatever allocator LD_PRELOAD names) driven by
# redis-benchmark (with the system allocator) on 127.0.0.1, bounded in
# requests and time. Prints one fixed line, so outputs compare equal.
#   redis.sh REQUESTS
set -euo pipefail
requests=${1:-100000}
port=$((20000 + RANDOM % 20000))
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
  --daemonize no --logfile "$dir/log" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  env -u LD_PRELOAD redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.05
done
env -u LD_PRELOAD timeout 120 redis-benchmark -h 127.0.0.1 -p "$port" -q -n "$requests" \
  -c 20 -P 8 -d 256 -r 100000 -t set,get,lpush,lpop,sadd,hset,mset >/dev/null
env -u LD_PRELOAD redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
wait $server 2>/dev/null || true
echo "redis done"
