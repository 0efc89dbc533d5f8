-- wrk script for bench/ingest: POST /v1/events with one event per request.
--
--   wrk -s bench/ingest_single.lua URL -- TOKEN RUNTAG [CUSTOMERS [profile]]
--
-- Every event id is unique (run tag, thread, random start, counter), so nurtured stores each
-- one instead of answering it as a duplicate; customers are spread over CUSTOMERS ids
-- (default 10000). With "profile", each purchase carries the customer's profile with an
-- e-mail address and an order with an id and items, as shop integrations send it, so that
-- the example campaign post-purchase starts a journey and mails a thank-you for each. Statuses other than 202 are counted and printed by done(), which also
-- prints one machine-readable "BENCH ..." line for bench/ingest.

local threads = {}

function setup(thread)
	thread:set("tid", #threads + 1)
	table.insert(threads, thread)
end

local token, runtag, ncustomers, profile, headers, counter, statuses
-- globals, read by done() through thread:get()
sent, ok, bad, statuses_text = 0, 0, 0, ""

function init(args)
	token = args[1] or "0123456789abcdef0123"
	runtag = args[2] or tostring(os.time())
	ncustomers = tonumber(args[3] or "10000")
	profile = args[4] == "profile"
	math.randomseed(os.time() * 1000 + tid * 7919 + math.floor(os.clock() * 1e6))
	-- a random start makes ids from reruns against the same data dir unlikely to collide
	counter = math.random(0, 2 ^ 30)
	statuses = {}
	headers = {
		["Authorization"] = "Bearer " .. token,
		["Content-Type"] = "application/json",
	}
end

function request()
	counter = counter + 1
	sent = sent + 1
	local c, body = math.random(0, ncustomers - 1)
	if profile then
		body = string.format(
			'{"id":"%s-%d-%d","customer":"c%d","type":"purchase","properties":{"order_id":"%s-%d-%d",' ..
			'"total":%d.5,"currency":"GBP","items":["Oak shelf, 80 cm","Linen cushion cover (sage)",' ..
			'"Stoneware mug"]},"profile":{"email":"c%d@bench.example","name":"Kundin %d",' ..
			'"locale":"en"}}',
			runtag, tid, counter, c, runtag, tid, counter, counter % 500, c, c)
	else
		body = string.format(
			'{"id":"%s-%d-%d","customer":"c%d","type":"purchase","properties":{"total":%d.5,"sku":"sku-%d"}}',
			runtag, tid, counter, c, counter % 500, counter % 97)
	end
	return wrk.format("POST", "/v1/events", headers, body)
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

-- statuses as "code:count,code:count" (plain values survive thread:get, tables may not)
function status_list()
	local parts = {}
	for code, n in pairs(statuses) do
		table.insert(parts, code .. ":" .. n)
	end
	return table.concat(parts, ",")
end

function done(summary, latency, requests)
	local s, o, b, codes = 0, 0, 0, {}
	for _, t in ipairs(threads) do
		s = s + (t:get("sent") or 0)
		o = o + (t:get("ok") or 0)
		b = b + (t:get("bad") or 0)
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
		"BENCH requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
		"sent=%d ok202=%d non202=%d statuses=%s err_connect=%d err_read=%d err_write=%d " ..
		"err_timeout=%d\n",
		summary.requests, secs, summary.requests / secs,
		latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
		s, o, b, (#list > 0 and table.concat(list, ",") or "-"),
		e.connect, e.read, e.write, e.timeout))
end
