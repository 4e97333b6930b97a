-- Store a new book if the user has none, with its lease entry (a book being opened holds one)
-- and its entries in the index of books in progress, in one atomic step.
-- KEYS: 1 the book, 2 the lease index, 3 the index of books in progress, 4-7 that index by
--       state (bookInit, bookInProgress, generating, done)
-- ARGV: 1 the document, 2 expiry (ms since the epoch), 3 when its lease passes (ms; '' for
--       none), 4 user id, 5 its state's place in KEYS 4-7 (1-4), 6 when it changed (ms)
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PXAT', ARGV[2]) then return 0 end
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
end
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[4])
-- An entry that a book gone by expiry left under another state goes.
local place = tonumber(ARGV[5])
for i = 1, 4 do
  if i == place then
    redis.call('ZADD', KEYS[3 + i], ARGV[6], ARGV[4])
  else
    redis.call('ZREM', KEYS[3 + i], ARGV[4])
  end
end
return 1
