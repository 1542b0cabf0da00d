-- POST /v1/nano-banana-2 (sync: waits for the image). Env: NB_KEY, NB_BODY.
wrk.method = "POST"
wrk.path = "/v1/nano-banana-2"
wrk.headers["x-api-key"] = os.getenv("NB_KEY")
wrk.headers["content-type"] = "application/json"
wrk.body = os.getenv("NB_BODY")
