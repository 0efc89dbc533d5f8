#!/usr/bin/env bash
# The main job on embedded defaults: start nurtured with SQLite under ./var/demo/, feed it the
# sample customers and events in conf/demo/, show what it holds, and stop.
#   ./demo.sh          run the demo and exit
#   ./demo.sh --serve  leave the daemon running and print how to talk to it
set -euo pipefail
cd "$(dirname "$0")"
serve=0
case "${1:-}" in
--serve) serve=1 ;;
"") ;;
*) echo "usage: $0 [--serve]" >&2; exit 2 ;;
esac

. deps/ensure.sh
deps_ensure
build_ensure

dir=$PWD/var/demo
if [ -f "$dir/nurtured.pid" ] && kill -0 "$(cat "$dir/nurtured.pid")" 2>/dev/null; then
	echo "stopping the demo daemon left running by ./demo.sh --serve"
	kill "$(cat "$dir/nurtured.pid")"
	while kill -0 "$(cat "$dir/nurtured.pid")" 2>/dev/null; do sleep 0.1; done
fi
rm -rf "$dir"
mkdir -p "$dir"

port=7800
while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
token=demo-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
cat >"$dir/nurtured.json" <<JSON
{
  "listen": "127.0.0.1:$port",
  "data_dir": "$dir/data",
  "api_tokens": ["$token"],
  "campaigns_dir": "$PWD/campaigns",
  "templates_dir": "$PWD/campaigns/templates",
  "plugin_dir": "$PWD/plugins/.libs",
  "mail_from": {"name": "Fernhill Home", "address": "hello@fernhill.example"},
  "log_level": "info"
}
JSON
url="http://127.0.0.1:$port"
./nurtured -f -c "$dir/nurtured.json" >"$dir/nurtured.log" 2>&1 &
pid=$!
echo "$pid" >"$dir/nurtured.pid"
stop() { kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -f "$dir/nurtured.pid"; }
[ "$serve" -eq 1 ] || trap stop EXIT

for _ in $(seq 100); do
	curl -fs "$url/healthz" >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || { cat "$dir/nurtured.log"; exit 1; }
	sleep 0.1
done

api() { curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }

echo "== nurtured $(./nurtured --version | cut -d' ' -f2) on $url, data in ${dir#$PWD/}/data"
echo
echo "== customers (conf/demo/customers.jsonl)"
while read -r line; do
	api -X POST "$url/v1/customers" -d "$line" >/dev/null
	echo "   upserted $(echo "$line" | sed 's/.*"name": "\([^"]*\)".*/\1/')"
done <conf/demo/customers.jsonl
echo
echo "== events (conf/demo/events.jsonl, dated relative to today), posted as one batch"
# "@8d@" in the file means eight days ago, so that the story is the same whenever it runs.
batch=$(conf/demo/workload.py batch)
api -X POST "$url/v1/events" -d "$batch" | conf/demo/show.py batch
echo "   posting the same batch again (a client retry):"
api -X POST "$url/v1/events" -d "$batch" | conf/demo/show.py batch "(nothing stored twice)"
# The engine consumes events in the same transaction that stores them; steps that were due
# in the past run on its next pass, a moment later.
for _ in $(seq 50); do
	api "$url/v1/customers/anna" | grep -q '"satisfaction-check"' && break
	sleep 0.1
done
echo
echo "== what nurtured knows and did, customer by customer (campaigns in campaigns/)"
for id in $(sed 's/^{"id": "\([^"]*\)".*/\1/' conf/demo/customers.jsonl); do
	api "$url/v1/customers/$id"
	echo
done | conf/demo/show.py customers
echo
echo "== messages: rendered, queued in the outbox in the step's transaction, delivered"
echo "   (channels 'mail' and 'helpdesk' are Maildirs under ${dir#$PWD/}/data/, no mail server needed)"
for _ in $(seq 50); do
	api "$url/v1/messages?state=queued" | grep -q '"id"' || break
	sleep 0.1
done
api "$url/v1/messages" | conf/demo/show.py messages
echo
mail=$(grep -l 'anna.schmidt@example.com' "$dir"/data/maildir/new/* 2>/dev/null | head -n 1)
if [ -n "$mail" ]; then
	echo "== the mail Anna received (${mail#$PWD/}), decoded"
	conf/demo/show.py mail "$mail"
	echo
	link=$(conf/demo/show.py link "$mail")
	if [ -n "$link" ]; then
		echo "== Anna clicks its unsubscribe link (RFC 8058 one-click POST, no login)"
		curl -fsS -o /dev/null -w "   POST /u/... -> %{http_code}\n" -d 'List-Unsubscribe=One-Click' "$link"
		echo "   consent now: $(api "$url/v1/customers/anna" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["consent"])')"
		echo "   Anna answers the satisfaction check for order 1001 with a 5; the review ask that follows is"
		echo "   not sent, and the outbox says why:"
		api -X POST "$url/v1/events" -d "$(conf/demo/workload.py feedback)" >/dev/null
		for _ in $(seq 50); do
			api "$url/v1/messages?customer=anna&state=skipped" | grep -q review && break
			sleep 0.1
		done
		api "$url/v1/messages?customer=anna" | conf/demo/show.py messages
	fi
	echo
fi
curl -fs "$url/metrics" | grep -E '^nurtured_(events_accepted|events_duplicate|store_commits)_total'
echo
if [ "$serve" -eq 1 ]; then
	echo "nurtured keeps running (pid $pid, log ${dir#$PWD/}/nurtured.log)."
	echo "The dashboard: $url/ui/ (log in with the token $token)"
	echo "Try:"
	echo "  curl -H 'Authorization: Bearer $token' -H 'Content-Type: application/json' -d '{\"customer\": \"anna\", \"type\": \"purchase\"}' $url/v1/events"
	echo "  curl -H 'Authorization: Bearer $token' $url/v1/customers/anna"
	echo "Stop it with: kill \$(cat ${dir#$PWD/}/nurtured.pid)"
else
	stop
	trap - EXIT
	echo "== stopped; the demo's data stays in ${dir#$PWD/}/ (./demo.sh --serve keeps it running)"
fi
