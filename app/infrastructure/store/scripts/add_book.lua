-- Store a new book if the user has none, with its lease entry (a book being opened holds one),
-- in one atomic step.
-- KEYS: 1 the book, 2 the lease index
-- ARGV: 1 the document, 2 expiry (ms since the epoch), 3 when its lease passes (ms; '' for
--       none), 4 user id
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PXAT', ARGV[2]) then return 0 end
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
end
return 1
