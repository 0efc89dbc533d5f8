-- wrk script for bench/ingest: POST /v1/events with a batch of events per request.
--
--   wrk -s bench/ingest_batch.lua URL -- TOKEN RUNTAG [BATCH] [CUSTOMERS]
--
-- Each request carries {"events": [...]} with BATCH events (default 100). Every event id is
-- unique (run tag, thread, random start, counter); customers are spread over CUSTOMERS ids
-- (default 10000). Statuses other than 202 are counted and printed by done(), which also
-- prints one machine-readable "BENCH ..." line for bench/ingest (rates are per request;
-- events = requests x BATCH).

local threads = {}

function setup(thread)
	thread:set("tid", #threads + 1)
	table.insert(threads, thread)
end

local token, runtag, ncustomers, headers, counter, statuses
-- globals, read by done() through thread:get()
sent, ok, bad, statuses_text, batch = 0, 0, 0, "", 100

function init(args)
	token = args[1] or "0123456789abcdef0123"
	runtag = args[2] or tostring(os.time())
	batch = tonumber(args[3] or "100")
	ncustomers = tonumber(args[4] or "10000")
	math.randomseed(os.time() * 1000 + tid * 7919 + math.floor(os.clock() * 1e6))
	-- a random start makes ids from reruns against the same data dir unlikely to collide
	counter = math.random(0, 2 ^ 30)
	statuses = {}
	headers = {
		["Authorization"] = "Bearer " .. token,
		["Content-Type"] = "application/json",
	}
end

local parts = {}

function request()
	sent = sent + 1
	for i = 1, batch do
		counter = counter + 1
		parts[i] = string.format(
			'{"id":"%s-%d-%d","customer":"c%d","type":"purchase","properties":{"total":%d.5,"sku":"sku-%d"}}',
			runtag, tid, counter, math.random(0, ncustomers - 1), counter % 500, counter % 97)
	end
	for i = batch + 1, #parts do
		parts[i] = nil
	end
	local body = '{"events":[' .. table.concat(parts, ",") .. ']}'
	return wrk.format("POST", "/v1/events", headers, body)
end

-- statuses as "code:count,code:count" (plain values survive thread:get, tables may not)
function status_list()
	local l = {}
	for code, n in pairs(statuses) do
		table.insert(l, code .. ":" .. n)
	end
	return table.concat(l, ",")
end

function response(status, hdrs, body)
	if status == 202 then
		ok = ok + 1
	else
		bad = bad + 1
		statuses[status] = (statuses[status] or 0) + 1
		statuses_text = status_list()
		if bad <= 3 then
			io.stderr:write(string.format("non-202 response %d: %s\n", status,
				tostring(body):sub(1, 300)))
		end
	end
end

function done(summary, latency, requests)
	local s, o, b, codes, bs = 0, 0, 0, {}, batch
	for _, t in ipairs(threads) do
		s = s + (t:get("sent") or 0)
		o = o + (t:get("ok") or 0)
		b = b + (t:get("bad") or 0)
		bs = t:get("batch") or bs
		for code, n in string.gmatch(t:get("statuses_text") or "", "(%d+):(%d+)") do
			codes[code] = (codes[code] or 0) + tonumber(n)
		end
	end
	local list = {}
	for code, n in pairs(codes) do
		table.insert(list, code .. ":" .. n)
	end
	local e = summary.errors
	local secs = summary.duration / 1e6
	io.write(string.format(
		"BENCH requests=%d duration_s=%.3f rps=%.1f batch=%d events_per_s=%.1f p50_ms=%.3f " ..
		"p99_ms=%.3f max_ms=%.3f sent=%d ok202=%d non202=%d statuses=%s err_connect=%d " ..
		"err_read=%d err_write=%d err_timeout=%d\n",
		summary.requests, secs, summary.requests / secs, bs, summary.requests * bs / secs,
		latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
		s, o, b, (#list > 0 and table.concat(list, ",") or "-"),
		e.connect, e.read, e.write, e.timeout))
end
