-- One request, again and again, for run_load.py --wrk. Set by the environment:
--   WRK_SESSION   the session cookie (empty: signed out)
--   WRK_CSRF      the CSRF cookie and header, for POSTs
--   WRK_HTMX      "1": an HTMX request (HX-Request, HX-Current-URL = WRK_CURRENT)
--   WRK_ETAG      sent as If-None-Match (the panel's conditional GET)
--   WRK_POSTS     a file of paths to POST to, one a line, taken in turn (HTMX Unlink)
--   WRK_FRESH     "1": each GET at an address of its own (fresh=1, 2, ... added), so
--                 that nothing the server keeps for an address serves it
-- Every request asks for gzip, as browsers do. At the end one line:
--   WRK requests duration_us p50_us p95_us p99_us errors bytes
-- (errors: statuses of 400 and over, and socket errors)
local cookies = {}
if (os.getenv("WRK_SESSION") or "") ~= "" then table.insert(cookies, "sessionid=" .. os.getenv("WRK_SESSION")) end
if (os.getenv("WRK_CSRF") or "") ~= "" then
  table.insert(cookies, "csrftoken=" .. os.getenv("WRK_CSRF"))
  wrk.headers["X-CSRFToken"] = os.getenv("WRK_CSRF")
end
if #cookies > 0 then wrk.headers["Cookie"] = table.concat(cookies, "; ") end
wrk.headers["Accept-Encoding"] = "gzip"
if os.getenv("WRK_HTMX") == "1" then
  wrk.headers["HX-Request"] = "true"
  wrk.headers["HX-Current-URL"] = os.getenv("WRK_CURRENT") or ""
end
if (os.getenv("WRK_ETAG") or "") ~= "" then wrk.headers["If-None-Match"] = os.getenv("WRK_ETAG") end

local posts = {}
local posts_file = os.getenv("WRK_POSTS") or ""
if posts_file ~= "" then
  for line in io.lines(posts_file) do table.insert(posts, line) end
end
local turn = 0

-- One thread (run_load.py passes -t1): the paths in order, the unlinks before the refusals.
local offset = -1

local fresh = os.getenv("WRK_FRESH") == "1"
local count = 0

function request()
  if #posts == 0 then
    if not fresh then return wrk.format() end
    count = count + 1
    local separator = string.find(wrk.path, "?", 1, true) and "&" or "?"
    return wrk.format(nil, wrk.path .. separator .. "fresh=" .. count)
  end
  turn = turn + 1
  local path = posts[((offset + turn) % #posts) + 1]
  -- wrk.format takes these headers instead of wrk.headers: pass them all.
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  return wrk.format("POST", path, headers, "")
end

function done(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("WRK %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), bad, summary.bytes))
end
