-- P-256 leaf per request from pki/sign/:role with a CSR made once by the bench.
local token = os.getenv("BENCH_TOKEN")
local body = '{"csr":' .. os.getenv("BENCH_CSR_JSON") .. ',"common_name":"sign.bench.example","ttl":"1h"}'
request = function()
  return wrk.format("POST", "/v1/pki/sign/bench",
    { ["X-Vault-Token"] = token, ["Content-Type"] = "application/json" }, body)
end
