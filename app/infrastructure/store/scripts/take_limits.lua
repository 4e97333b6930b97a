-- Take a generation from every limit it concerns in one atomic step: count it against all of
-- them if every one allows it, else count nothing.
-- KEYS: one counter per limit.
-- ARGV: 1 now (seconds since the epoch), then for each key: its kind ('moving' or 'fixed'),
--       its amount, its window (seconds) and this generation's cost.
-- Returns one string per key: '' when the limit allows the cost, else what is left in the window
-- and how long until it frees up (milliseconds), as 'remaining wait'. Nothing is counted unless
-- every answer is ''.
-- The layouts are those of the `limits` library: a moving window is a list of timestamps,
-- newest first and trimmed to the amount; a fixed window is a counter that expires.
local now = tonumber(ARGV[1])
local answers, refused = {}, false
for i, key in ipairs(KEYS) do
  local at = 2 + (i - 1) * 4
  local kind = ARGV[at]
  local amount, window, cost = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3])
  if kind == 'moving' then
    local count, oldest = 0, now
    for _, entry in ipairs(redis.call('LRANGE', key, 0, amount - 1)) do
      local stamp = tonumber(entry)
      if stamp < now - window then break end
      count, oldest = count + 1, stamp
    end
    if count + cost <= amount then
      answers[i] = ''
    else
      answers[i] = (amount - count) .. ' ' .. math.ceil((oldest + window - now) * 1000)
      refused = true
    end
  else
    local used = tonumber(redis.call('GET', key) or '0')
    if used + cost <= amount then
      answers[i] = ''
    else
      local left = redis.call('PTTL', key)
      if left < 0 then left = window * 1000 end
      answers[i] = math.max(amount - used, 0) .. ' ' .. left
      refused = true
    end
  end
end
if refused then return answers end
for i, key in ipairs(KEYS) do
  local at = 2 + (i - 1) * 4
  local kind = ARGV[at]
  local amount, window, cost = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3])
  if kind == 'moving' then
    for _ = 1, cost do redis.call('LPUSH', key, ARGV[1]) end
    redis.call('LTRIM', key, 0, amount - 1)
    redis.call('EXPIRE', key, window)
  else
    redis.call('INCRBY', key, cost)
    -- A new window starts its day; one given back to zero keeps the day it had.
    if redis.call('PTTL', key) < 0 then redis.call('EXPIRE', key, window) end
  end
end
return answers
