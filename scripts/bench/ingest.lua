-- wrk script: POSTs a real GitLab pipeline hook per request, each with its own Idempotency-Key and
-- pipeline id (so each is a new delivery), and counts the answers by status.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  body_template = args[1] and io.open(args[1]):read("*a") or nil
  -- Each wrk run passes its own number: pipeline ids and idempotency keys never repeat across runs.
  run = tonumber(args[2] or "0")
end

request = function()
  counter = counter + 1
  local pipeline = run * 1000000000 + id * 100000000 + counter
  local body = string.gsub(body_template, "__PIPELINE__", tostring(pipeline))
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-Gitlab-Event"] = "Pipeline Hook",
    ["X-Gitlab-Token"] = "bench-token",
    ["Idempotency-Key"] = "bench-" .. run .. "-" .. id .. "-" .. counter,
  }
  return wrk.format("POST", "/webhooks/gitlab", headers, body)
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, n in pairs(s) do total[code] = (total[code] or 0) + n end
  end
  for code, n in pairs(total) do io.write(string.format("status %d %d\n", code, n)) end
  io.write(string.format("p99_ms %.2f\n", latency:percentile(99) / 1000))
  io.write(string.format("rps %.0f\n", summary.requests / (summary.duration / 1e6)))
end
