-- Store a book only if the stored one is the same book at the expected version, with its lease
-- entry, its entries in the index of books in progress and its events, in one atomic step.
-- KEYS: 1 the book, 2 the lease index, 3 the user's event stream, 4 the index of books in
--       progress, 5-8 that index by state (bookInit, bookInProgress, generating, done)
-- ARGV: 1 book id, 2 expected version, 3 the new document, 4 expiry (ms since the epoch),
--       5 when the earliest lease passes (ms; '' for none), 6 user id, 7 events kept,
--       8 the doorbell channel, 9 its state's place in KEYS 5-8 (1-4), 10 when it changed
--       (ms), then a name and a JSON data for each event
-- The doorbell carries the user id, a newline, and a JSON array: the id of the stream's last
-- entry before these events ('0-0' for none), then each event's id, name and data, so that a
-- reader whose cursor is that id has the events without reading the stream.
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local stored = cjson.decode(raw)
if stored.id ~= ARGV[1] or tostring(stored.version) ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'PXAT', ARGV[4])
if ARGV[5] == '' then
  redis.call('ZREM', KEYS[2], ARGV[6])
else
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6])
end
redis.call('ZADD', KEYS[4], ARGV[10], ARGV[6])
local place = tonumber(ARGV[9])
for i = 1, 4 do
  if i == place then
    redis.call('ZADD', KEYS[4 + i], ARGV[10], ARGV[6])
  else
    redis.call('ZREM', KEYS[4 + i], ARGV[6])
  end
end
if #ARGV > 10 then
  local before = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)[1]
  local message = {before and before[1] or '0-0'}
  for i = 11, #ARGV, 2 do
    local id = redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[7], '*', 'name', ARGV[i], 'data', ARGV[i + 1])
    message[#message + 1] = id
    message[#message + 1] = ARGV[i]
    message[#message + 1] = ARGV[i + 1]
  end
  redis.call('PEXPIREAT', KEYS[3], ARGV[4])
  redis.call('PUBLISH', ARGV[8], ARGV[6] .. '\n' .. cjson.encode(message))
end
return 1
