-- Give back what a generation that produced nothing had taken from its limits.
-- KEYS and ARGV as in take_limits.lua. A moving window drops its newest entries (the entries
-- are alike but for their time: the window frees as much, at most a little earlier); a fixed
-- window counts down, never below zero, and one that has expired since is left as it is.
for i, key in ipairs(KEYS) do
  local at = 2 + (i - 1) * 4
  local kind, cost = ARGV[at], tonumber(ARGV[at + 3])
  if kind == 'moving' then
    redis.call('LPOP', key, cost)
  elseif redis.call('EXISTS', key) == 1 and redis.call('DECRBY', key, cost) < 0 then
    redis.call('SET', key, 0, 'KEEPTTL')
  end
end
return 1
