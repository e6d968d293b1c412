-- wrk script: POSTs 20-event identify batches (about 16 KB) to /webhook, every event with a
-- fresh messageId and one of 10,000 userIds, so the store does real work (no dedup hits).
-- The event template comes from $BENCH_EVENT_TEMPLATE: compact JSON with __MSGID__ and
-- __USERID__ placeholders (scripts/bench.sh writes it from ../shared/samples/identify.json).

local template
local counter = 0
local prefix
local events_per_batch = tonumber(os.getenv("BENCH_BATCH_EVENTS") or "20")
local path = os.getenv("BENCH_PATH") or "/webhook"
local thread_number = 0

function setup(thread)
  thread_number = thread_number + 1
  thread:set("thread_number", thread_number)
end

local head, middle, tail, user_first

function init(args)
  local file = assert(io.open(os.getenv("BENCH_EVENT_TEMPLATE"), "r"))
  template = file:read("*a")
  file:close()
  -- Split once around the placeholders so each event is three concatenations.
  local m1, m2 = template:find("__MSGID__", 1, true)
  local u1, u2 = template:find("__USERID__", 1, true)
  user_first = u1 < m1
  if user_first then
    head, middle, tail = template:sub(1, u1 - 1), template:sub(u2 + 1, m1 - 1), template:sub(m2 + 1)
  else
    head, middle, tail = template:sub(1, m1 - 1), template:sub(m2 + 1, u1 - 1), template:sub(u2 + 1)
  end
  prefix = string.format("bench-%d-%d-%d", os.time(), thread_number or 0, math.random(1, 1000000000))
end

function request()
  local events = {}
  for i = 1, events_per_batch do
    counter = counter + 1
    local message_id = prefix .. "-" .. counter
    local user_id = "user-" .. (counter % 10000)
    if user_first then
      events[i] = head .. user_id .. middle .. message_id .. tail
    else
      events[i] = head .. message_id .. middle .. user_id .. tail
    end
  end
  return wrk.format("POST", path, { ["Content-Type"] = "application/json" }, "[" .. table.concat(events, ",") .. "]")
end
