-- Remove the entries of users whose book is gone (expired: nothing removed them) from the lease
-- index and the index of books in progress; a user whose book is there keeps them.
-- KEYS: 1 the lease index, 2-6 the index of books in progress and that index by state, then the
--       book of each user in ARGV
-- ARGV: the users' ids
-- Returns how many users' entries were removed.
local removed = 0
for i, user in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[6 + i]) == 0 then
    for k = 1, 6 do
      redis.call('ZREM', KEYS[k], user)
    end
    removed = removed + 1
  end
end
return removed
