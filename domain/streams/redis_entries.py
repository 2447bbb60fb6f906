"""The entries of an answer's Redis Stream: how they are written and how a reader takes them.

Entry ids carry the sequence numbers, so "after seq A" is "after id A-0" for XRANGE and
XREAD alike:

    0-1          opened (by `open`: a reader arriving before the first delta waits)
    S-0          delta number S (field `x` holds its text)
    S-1 or 0-2   done, after delta S (or after none)

Every entry names its kind in field `k`. The Lua scripts below assign seqs atomically (one
round trip per delta), trim the stream and refresh its expiry. `Follower` is one local
reader's view: what it has accepted, and what waits for its next batch.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

EntryId = tuple[int, int]

# Returns the last seq written (0 for a new stream), or -1 when the stream has finished.
OPEN = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if not last then
  redis.call('XADD', KEYS[1], '0-1', 'k', 'open')
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  return 0
end
if last[2][2] == 'done' then return -1 end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return tonumber(string.match(last[1], '^(%d+)'))
"""

# ARGV: text, max_len, ttl, expected seq (0: not known). Returns the seq, or -1 finished,
# -2 no stream (never opened, expired or lost), -3 out of step with `expected`.
APPEND = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if not last then return -2 end
if last[2][2] == 'done' then return -1 end
local seq = tonumber(string.match(last[1], '^(%d+)')) + 1
local expected = tonumber(ARGV[4])
if expected > 0 and seq ~= expected then
  if seq == expected + 1 and last[2][2] == 'delta' then return expected end
  return -3
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], string.format('%d-0', seq),
  'k', 'delta', 'x', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return seq
"""

# ARGV: max_len, retention. Returns 0 when there is no stream.
FINISH = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if not last then return 0 end
if last[2][2] ~= 'done' then
  local ms, sq = string.match(last[1], '^(%d+)-(%d+)$')
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], ms .. '-' .. (tonumber(sq) + 1),
    'k', 'done')
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


@dataclass(eq=False)
class Follower:
    """One local reader: what it has been handed, and what waits for its next batch."""

    position: int  # seq of the last delta accepted
    cursor: EntryId  # id of the last entry looked at
    parts: list[str] = field(default_factory=list)
    done_seq: int | None = None
    lost: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def finished(self) -> bool:
        return self.done_seq is not None or self.lost

    def accept(self, entry: EntryId, fields: dict[str, str]) -> None:
        self.cursor = entry
        kind = fields.get("k")
        if kind == "delta":
            seq = entry[0]
            if seq <= self.position:
                return
            if seq != self.position + 1:
                self.lost = True  # deltas in between were trimmed away
                return
            self.parts.append(fields.get("x", ""))
            self.position = seq
        elif kind == "done":
            if entry[0] > self.position:
                self.lost = True
            else:
                self.done_seq = entry[0]


def parse_entry_id(raw: str) -> EntryId:
    ms, _, sq = raw.partition("-")
    return int(ms), int(sq)
