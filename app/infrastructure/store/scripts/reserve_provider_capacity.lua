-- Reserve a job's turn under the model provider's limits, atomically for every process.
-- Each limited resource (requests, tokens, pictures) keeps the moment it is next free; its
-- units are spread evenly (no burst), so no window of the provider's sees more than its rate.
-- The job starts when every resource it uses is free, and holds each for its units' time.
-- KEYS: one per resource the job uses. ARGV[1]: now (ms); ARGV[2]: the longest wait (ms);
-- then for each key: milliseconds per unit, units.
-- Returns {1, wait_ms} reserved, or {0, wait_ms} refused with nothing reserved.
local now = tonumber(ARGV[1])
local longest = tonumber(ARGV[2])
local start = now
for _, key in ipairs(KEYS) do
  local free_at = tonumber(redis.call('GET', key) or '0')
  if free_at > start then start = free_at end
end
local wait = start - now
if wait > longest then
  return {0, math.ceil(wait)}
end
for i, key in ipairs(KEYS) do
  local free_at = start + tonumber(ARGV[1 + 2 * i]) * tonumber(ARGV[2 + 2 * i])
  redis.call('SET', key, string.format('%.3f', free_at), 'PX', math.ceil(free_at - now) + 1000)
end
return {1, math.ceil(wait)}
