#!/usr/bin/env bash
# A swarm with Spaces' task commands: an orchestrator posts a task with N subtasks to a
# channel, N workers claim one each (a claim is atomic: never two on one), post progress, and
# complete it with a result; the orchestrator waits until every subtask is done and prints
# the results. See README.md.
#
#   examples/swarm/swarm.sh                       # one machine: a private embedded daemon
#   SPACETIMEDB_HOST=http://host:3000 SPACETIMEDB_DATABASE=spaces examples/swarm/swarm.sh
#                                                 # each participant its own daemon and
#                                                 # identity on one SpacetimeDB database
#
# WORKERS (default 3), CHANNEL (default general), WORK_CMD (what a worker runs for its
# subtask; $SUBTASK holds the title; default: a short sleep and an echo), SPACESD (the
# spacesd command, default spacesd).
set -euo pipefail
WORKERS=${WORKERS:-3}
CHANNEL=${CHANNEL:-general}
SPACESD=${SPACESD:-spacesd}
WORK_CMD=${WORK_CMD:-'sleep 0.2; echo "notes on $SUBTASK: 3 findings"'}
root=$(mktemp -d "${TMPDIR:-/tmp}/spaces-swarm.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT

# A private Spaces for participant $1 (its own daemon; on SpacetimeDB its own identity).
start_daemon() {
  local name=$1 dir=$root/$1
  mkdir -p "$dir"
  (
    export SPACES_DATA_DIR=$dir/data SPACES_STATE_DIR=$dir/state SPACES_RUNTIME_DIR=$dir/run
    export SPACES_CONFIG_DIR=$dir/config SPACES_IDENTITY_NAME=swarm-$name
    if [ -n "${SPACETIMEDB_HOST:-}" ]; then export SPACES_BACKEND=spacetimedb;
    else export SPACES_BACKEND=embedded; fi
    exec $SPACESD run >"$dir/spacesd.log" 2>&1
  ) &
  pids+=($!)
  for _ in $(seq 100); do
    $SPACESD --socket "$dir/run/spacesd.sock" channels >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "swarm: the daemon of $name did not start; its log:" >&2
  cat "$dir/spacesd.log" >&2
  return 1
}

sock_of() {  # the socket a participant talks to: its own on SpacetimeDB, the one daemon else
  if [ -n "${SPACETIMEDB_HOST:-}" ]; then echo "$root/$1/run/spacesd.sock";
  else echo "$root/orchestrator/run/spacesd.sock"; fi
}

start_daemon orchestrator
if [ -n "${SPACETIMEDB_HOST:-}" ]; then
  for i in $(seq "$WORKERS"); do start_daemon "worker$i"; done
fi
orch=(${SPACESD} --socket "$(sock_of orchestrator)")

subtasks=()
for i in $(seq "$WORKERS"); do subtasks+=(--subtask "part $i of the survey"); done
parent=$("${orch[@]}" task create "$CHANNEL" "survey the API" --body "one part each" \
  "${subtasks[@]}" --json | python3 -c 'import json,sys; print(json.loads(next(sys.stdin))["id"])')
echo "orchestrator: task #$parent with $WORKERS subtasks in #$CHANNEL"

worker() {  # claim the first open subtask nobody holds; work; complete it
  local name=$1 cli=(${SPACESD} --socket "$(sock_of "$1")") as=()
  # one daemon: each worker acts as an agent session of its own (its own identity, as an agent
  # in its shell does); on SpacetimeDB each already has its own daemon and identity
  [ -n "${SPACETIMEDB_HOST:-}" ] || as=(--session "swarm-$name" --agent other)
  local ids id title out
  ids=$("${cli[@]}" task list --parent "$parent" --state Open --json \
        | python3 -c 'import json,sys; [print(json.loads(l)["id"]) for l in sys.stdin]')
  for id in $ids; do
    if out=$("${cli[@]}" task claim "$id" --ttl 300 --json "${as[@]}" 2>&1); then
      title=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["title"])')
      state=$(printf '%s' "$out" | python3 -c 'import json,sys; t=json.load(sys.stdin); print(t["state"], t["assignee_name"])')
      echo "$name: claimed #$id ($title) [$state]"
      "${cli[@]}" task progress "$id" "$name: working on #$id ($title)" "${as[@]}" >/dev/null
      result=$(SUBTASK=$title bash -c "$WORK_CMD")
      "${cli[@]}" task complete "$id" "$name: $result" "${as[@]}" >/dev/null
      echo "$name: completed #$id"
      return 0
    else
      echo "$name: #$id refused: ${out#spacesd: reducer_error: }"
    fi
  done
  echo "$name: nothing left to claim"
}

for i in $(seq "$WORKERS"); do worker "worker$i" & pids+=($!); done

for _ in $(seq 600); do
  done_count=$("${orch[@]}" task list --parent "$parent" --state Done --json | wc -l | tr -d ' ')
  [ "$done_count" -ge "$WORKERS" ] && break
  sleep 0.1
done
echo "orchestrator: $done_count/$WORKERS subtasks done:"
"${orch[@]}" task list --parent "$parent" --json | python3 -c '
import json, sys
for line in sys.stdin:
    t = json.loads(line)
    print("  #{id} {title}: {state} by {assignee_name}: {result}".format(**t))'
[ "$done_count" -ge "$WORKERS" ]
