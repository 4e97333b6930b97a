-- Count a generation against every limit it concerns, in one atomic step.
-- KEYS and ARGV as in check_limits.lua. A fixed window always counts; a full moving window drops
-- the entry, which can only happen to generations that passed their check together.
local now = ARGV[1]
for i, key in ipairs(KEYS) do
  local at = 2 + (i - 1) * 4
  local kind = ARGV[at]
  local amount, window, cost = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3])
  if kind == 'moving' then
    local entry = cost <= amount and redis.call('LINDEX', key, amount - cost)
    if cost <= amount and not (entry and tonumber(entry) >= tonumber(now) - window) then
      for _ = 1, cost do redis.call('LPUSH', key, now) end
      redis.call('LTRIM', key, 0, amount - 1)
      redis.call('EXPIRE', key, window)
    end
  else
    if redis.call('INCRBY', key, cost) == cost then redis.call('EXPIRE', key, window) end
  end
end
return 1
