"""The two Lua scripts behind ``RedisRateLimiter``: GCRA on Redis's own clock, in one atomic step each.

Two keys per budget, both with a TTL so that nothing lingers once the fleet goes quiet:

* ``<key>:tat`` - the *theoretical arrival time* of the next start, in Redis microseconds. A start at
  ``now`` is allowed when it is at most ``burst - 1`` intervals early, and then pushes it one interval on.
* ``<key>:pause_until`` - the end of a fleet-wide pause (a relay's ``Retry-After``), in Redis microseconds.
"""

from __future__ import annotations

__all__ = ["ACQUIRE_SCRIPT", "PAUSE_SCRIPT"]

# Shared by both scripts: Redis TIME in microseconds, and SET with a TTL that ends when the value stops
# mattering (integers are formatted with %d: tostring() would print 1.7e+15 and lose the microseconds).
_LUA_PRELUDE = """
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function set_until(key, value_us, now_us_)
  local ttl_ms = math.ceil((value_us - now_us_) / 1000) + 1
  redis.call('SET', key, string.format('%d', value_us), 'PX', string.format('%d', ttl_ms))
end
"""

ACQUIRE_SCRIPT = (
    _LUA_PRELUDE
    + """
-- KEYS[1] = <key>:tat, KEYS[2] = <key>:pause_until
-- ARGV[1] = interval between starts (us), ARGV[2] = burst
-- Returns 0 when the start is allowed (and recorded), else the microseconds to wait.
local now = now_us()
local pause_until = tonumber(redis.call('GET', KEYS[2]) or '0')
if pause_until > now then
  return pause_until - now
end
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local wait = tat - tolerance - now
if wait > 0 then
  return wait
end
set_until(KEYS[1], tat + interval, now)
return 0
"""
)
"""GCRA in one atomic step; a refusal changes nothing, so asking again costs no budget."""

PAUSE_SCRIPT = (
    _LUA_PRELUDE
    + """
-- KEYS[1] = <key>:tat, KEYS[2] = <key>:pause_until
-- ARGV[1] = pause length (us), ARGV[2] = interval between starts (us), ARGV[3] = burst
-- Returns the microseconds until the (possibly longer, existing) pause ends.
local now = now_us()
local pause_until = math.max(now + tonumber(ARGV[1]), tonumber(redis.call('GET', KEYS[2]) or '0'))
set_until(KEYS[2], pause_until, now)
-- Resume at the steady rate, not with a burst: the relay just said we were too fast, so its bucket
-- may be emptier than ours. A TAT of pause_until + tolerance lets one start in at pause_until, the
-- next one interval later.
local restart = pause_until + tonumber(ARGV[2]) * (tonumber(ARGV[3]) - 1)
if restart > tonumber(redis.call('GET', KEYS[1]) or '0') then
  set_until(KEYS[1], restart, now)
end
return pause_until - now
"""
)
"""Extend the fleet-wide pause to max(existing, now + seconds), atomically, on Redis's clock."""
