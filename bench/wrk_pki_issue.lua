-- P-256 leaf per request from pki/issue/:role (server-side key).
local token = os.getenv("BENCH_TOKEN")
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", "/v1/pki/issue/bench",
    { ["X-Vault-Token"] = token, ["Content-Type"] = "application/json" },
    '{"common_name":"h' .. counter .. '.bench.example","ttl":"1h"}')
end
