-- GET /v2/requests/{id}/status of one finished request. Env: NB_KEY, NB_ID.
wrk.method = "GET"
wrk.path = "/v2/requests/" .. os.getenv("NB_ID") .. "/status"
wrk.headers["x-api-key"] = os.getenv("NB_KEY")
