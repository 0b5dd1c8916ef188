-- wrk script of bench/orders_mix.py:  wrk -s bench/orders_mix.lua URL -- MODE WORLD NONCE
--
-- MODE  trivial  GET /api/v1/products/{sku}/ over the whole catalogue
--       mix      POST /api/v1/orders/: 1, 3 or 10 lines (50/35/15 %) of distinct products; an existing
--                customer by id (75 %: its saved site 60 %, a new inline site 20 %, pickup 20 %) or a
--                new inline customer with a unique email (25 %: inline site 70 %, pickup 30 %);
--                sometimes a requested date, a window, on call, an external ref, notes
--       hot1     as mix, but every order is one line of the hot product
--       hot3     as mix, but every order is three lines, the hot product first
-- WORLD a Lua file returning the seeded data: key, skus, hot, customers = {{id, sites}}, dates
-- NONCE makes Idempotency-Keys, emails and external refs unique across runs on one database
--
-- Every response's status is counted; done() prints one `RESULT {json}` line (latencies in µs) and
-- up to three `SAMPLE status body` lines of non-2xx answers per thread.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  mode, nonce = args[1], args[3]
  world = dofile(args[2])
  statuses, samples, seq = {}, {}, 0
  math.randomseed(os.time() * 1000 + tid * 7919 + #nonce)
  get_headers = { ["Authorization"] = "Token " .. world.key }
  if mode ~= "trivial" and mode ~= "mix" and mode ~= "hot1" and mode ~= "hot3" then
    error("unknown mode " .. tostring(mode))
  end
  others = {}  -- the catalogue without the hot product, for lines 2 and 3 of hot3
  for _, sku in ipairs(world.skus) do
    if sku ~= world.hot then table.insert(others, sku) end
  end
end

local function pick(list)
  return list[math.random(#list)]
end

-- n distinct SKUs of `pool` (a partial Fisher-Yates on a copy)
local function distinct(pool, n)
  local copy = {}
  for i, sku in ipairs(pool) do copy[i] = sku end
  local chosen = {}
  for i = 1, n do
    local j = math.random(i, #copy)
    copy[i], copy[j] = copy[j], copy[i]
    chosen[i] = copy[i]
  end
  return chosen
end

local function line(sku)
  return string.format('{"sku":"%s","quantity":"%d.%03d"}', sku, math.random(1, 24), math.random(0, 999))
end

local function inline_site()
  return string.format(
    '{"name":"Site %d-%d","address":"%d Vitosha Blvd","city":"Sofia","postcode":"1%03d",'
      .. '"country":"BG","lat":%.5f,"lon":%.5f}',
    tid, seq, math.random(1, 400), math.random(0, 999),
    42.60 + math.random() * 0.2, 23.20 + math.random() * 0.25)
end

local WINDOWS = { { "07:00", "09:00" }, { "08:00", "10:00" }, { "10:00", "12:00" }, { "13:00", "16:00" } }

local function order_body(skus)
  local parts = {}
  local customer, fulfilment, site
  if math.random() < 0.75 then
    local known = pick(world.customers)
    customer = '{"id":"' .. known.id .. '"}'
    local r = math.random()
    if r < 0.6 then
      fulfilment, site = "delivery", '{"id":"' .. pick(known.sites) .. '"}'
    elseif r < 0.8 then
      fulfilment, site = "delivery", inline_site()
    else
      fulfilment = "pickup"
    end
  else
    customer = string.format('{"name":"Mix Buyer %d-%d","email":"mix-%s-%d-%d@example.com"}', tid, seq, nonce, tid, seq)
    if math.random() < 0.7 then
      fulfilment, site = "delivery", inline_site()
    else
      fulfilment = "pickup"
    end
  end
  parts[#parts + 1] = '"customer":' .. customer
  parts[#parts + 1] = '"fulfilment":"' .. fulfilment .. '"'
  if site then parts[#parts + 1] = '"site":' .. site end
  local lines = {}
  for i, sku in ipairs(skus) do lines[i] = line(sku) end
  parts[#parts + 1] = '"lines":[' .. table.concat(lines, ",") .. "]"
  if math.random() < 0.5 then parts[#parts + 1] = '"requested_date":"' .. pick(world.dates) .. '"' end
  if math.random() < 0.4 then
    local w = pick(WINDOWS)
    parts[#parts + 1] = string.format('"window":{"from":"%s","to":"%s"}', w[1], w[2])
  end
  if math.random() < 0.05 then parts[#parts + 1] = '"on_call":true' end
  if math.random() < 0.2 then
    parts[#parts + 1] = string.format('"external_ref":"MIX-%s-%d-%d"', nonce, tid, seq)
  end
  if math.random() < 0.3 then parts[#parts + 1] = '"notes":"Call the site manager 30 minutes before arrival."' end
  return "{" .. table.concat(parts, ",") .. "}"
end

function request()
  seq = seq + 1
  if mode == "trivial" then
    return wrk.format("GET", "/api/v1/products/" .. pick(world.skus) .. "/", get_headers)
  end
  local skus
  if mode == "hot1" then
    skus = { world.hot }
  elseif mode == "hot3" then
    local two = distinct(others, 2)
    skus = { world.hot, two[1], two[2] }
  else
    local r = math.random()
    skus = distinct(world.skus, r < 0.5 and 1 or (r < 0.85 and 3 or 10))
  end
  local headers = {
    ["Authorization"] = get_headers["Authorization"],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("mix-%s-%d-%d", nonce, tid, seq),
  }
  return wrk.format("POST", "/api/v1/orders/", headers, order_body(skus))
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if (status < 200 or status > 299) and #samples < 3 then
    samples[#samples + 1] = status .. " " .. string.sub((body or ""):gsub("%s+", " "), 1, 400)
  end
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses") or {}) do
      total[status] = (total[status] or 0) + count
    end
    for _, sample in ipairs(thread:get("samples") or {}) do
      io.write("SAMPLE ", sample, "\n")
    end
  end
  local counts = {}
  for status, count in pairs(total) do counts[#counts + 1] = string.format('"%d":%d', status, count) end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout,
    table.concat(counts, ",")))
end
