-- Unique KV v2 path per request so every write creates a new secret.
local token = os.getenv("BENCH_TOKEN")
local counter = 0
local prefix = tostring(math.random(1, 1000000000))
request = function()
  counter = counter + 1
  local path = "/v1/secret/data/benchw/" .. prefix .. "-" .. counter
  return wrk.format("POST", path,
    { ["X-Vault-Token"] = token, ["Content-Type"] = "application/json" },
    '{"data":{"password":"bench-value-' .. counter .. '"}}')
end
