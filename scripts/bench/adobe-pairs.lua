-- wrk script: what one delivery costs Adobe Target, back to back: a profile lookup, then an
-- update of the same random user, with a new attribute value each time. Aimed at the
-- simulator (`simulate-adobe --create-profiles-after 0`) to measure its own capacity.
--   BENCH_CLIENT_CODE  client code in the URLs (default "bench")
--   BENCH_USERS        users to pick from (default 100000)

local client = os.getenv("BENCH_CLIENT_CODE") or "bench"
local users = tonumber(os.getenv("BENCH_USERS") or "100000")
local thread_number = 0

function setup(thread)
  thread_number = thread_number + 1
  thread:set("thread_number", thread_number)
end

local counter = 0
local user

function init(args)
  math.randomseed(os.time() + (thread_number or 0))
end

function request()
  counter = counter + 1
  if counter % 2 == 1 then
    user = "cap-" .. math.random(1, users)
    return wrk.format("GET", "/rest/v1/profiles/thirdPartyId/" .. user .. "?client=" .. client)
  end
  return wrk.format("POST", "/m2/" .. client .. "/profile/update?mbox3rdPartyId=" .. user
    .. "&profile.plan=p" .. counter .. "&profile.city=New%20York%20City")
end
