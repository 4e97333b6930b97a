-- Repair: write a stored book's entries in the lease index and the index of books in progress,
-- only if the book is still the document read (a change since has written its own entries).
-- KEYS: 1 the book, 2 the lease index, 3 the index of books in progress, 4-7 that index by
--       state (bookInit, bookInProgress, generating, done)
-- ARGV: 1 the document as read, 2 when its earliest lease passes (ms; '' for none), 3 user id,
--       4 its state's place in KEYS 4-7 (1-4), 5 when it changed (ms)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('ZREM', KEYS[2], ARGV[3])
else
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
end
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[3])
local place = tonumber(ARGV[4])
for i = 1, 4 do
  if i == place then
    redis.call('ZADD', KEYS[3 + i], ARGV[5], ARGV[3])
  else
    redis.call('ZREM', KEYS[3 + i], ARGV[3])
  end
end
return 1
