-- Remove a book only if the stored one is the same book at the expected version, with its lease
-- entry and its entries in the index of books in progress, leaving behind (for a finish) which
-- request kept it, in one atomic step.
-- KEYS: 1 the book, 2 the lease index, 3 the user's last-finished record, 4-8 the index of
--       books in progress and that index by state
-- ARGV: 1 book id, 2 expected version, 3 user id, 4 the record ('' for none), 5 its life (ms)
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local stored = cjson.decode(raw)
if stored.id ~= ARGV[1] or tostring(stored.version) ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[3])
for i = 4, 8 do
  redis.call('ZREM', KEYS[i], ARGV[3])
end
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5])
end
return 1
