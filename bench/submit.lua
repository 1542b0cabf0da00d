-- POST /v2/nano-banana-2 (async submit). Env: NB_KEY, NB_BODY.
wrk.method = "POST"
wrk.path = "/v2/nano-banana-2"
wrk.headers["x-api-key"] = os.getenv("NB_KEY")
wrk.headers["content-type"] = "application/json"
wrk.body = os.getenv("NB_BODY")

local errors = 0
function response(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
end
