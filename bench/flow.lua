-- The full async flow per connection: submit → poll status until COMPLETED → result.
-- Run with as many threads as connections (-t64 -c64) so each Lua state drives exactly one
-- connection. Counts finished jobs and collects the server's submit→complete times.
-- Env: NB_KEY, NB_BODY.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  key = os.getenv("NB_KEY")
  body = os.getenv("NB_BODY")
  state = "submit"
  id = nil
  jobs = 0
  failed = 0
  polls = 0
  totals = {}
end

function request()
  if state == "submit" then
    return wrk.format("POST", "/v2/nano-banana-2", { ["x-api-key"] = key, ["content-type"] = "application/json" }, body)
  elseif state == "poll" then
    polls = polls + 1
    return wrk.format("GET", "/v2/requests/" .. id .. "/status", { ["x-api-key"] = key })
  else
    return wrk.format("GET", "/v2/requests/" .. id, { ["x-api-key"] = key })
  end
end

function response(status, headers, resp)
  if state == "submit" then
    id = string.match(resp, '"request_id":"([^"]+)"')
    state = id and "poll" or "submit"
  elseif state == "poll" then
    if string.find(resp, '"status":"COMPLETED"', 1, true) then
      state = "result"
    elseif string.find(resp, '"status":"FAILED"', 1, true) then
      failed = failed + 1
      state = "submit"
    end
  else
    if status == 200 then
      jobs = jobs + 1
      local total = tonumber(string.match(resp, '"total_time":([0-9.e-]+)'))
      if total then table.insert(totals, total) end
    else
      failed = failed + 1
    end
    state = "submit"
  end
end

function done(summary, latency, requests)
  local all, count, fails, polled = {}, 0, 0, 0
  for _, thread in ipairs(threads) do
    count = count + thread:get("jobs")
    fails = fails + thread:get("failed")
    polled = polled + thread:get("polls")
    local totals = thread:get("totals")
    for i = 1, #totals do table.insert(all, totals[i]) end
  end
  table.sort(all)
  local seconds = summary.duration / 1e6
  local function pct(p)
    if #all == 0 then return 0 end
    return all[math.max(1, math.ceil(#all * p))] * 1000
  end
  io.write(string.format("flow: %d jobs in %.1fs = %.0f jobs/s, %d failed, %.2f polls/job\n",
    count, seconds, count / seconds, fails, count > 0 and polled / count or 0))
  io.write(string.format("flow: server submit->complete p50 %.1f ms, p99 %.1f ms\n", pct(0.5), pct(0.99)))
end
