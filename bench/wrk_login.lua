-- AppRole login with one unlimited-use secret-id; every request mints a new token.
local body = '{"role_id":"' .. os.getenv("BENCH_ROLE_ID") .. '","secret_id":"' .. os.getenv("BENCH_SECRET_ID") .. '"}'
request = function()
  return wrk.format("POST", "/v1/auth/approle/login", { ["Content-Type"] = "application/json" }, body)
end
