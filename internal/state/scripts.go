package state

import "github.com/redis/go-redis/v9"

// The write scripts share one KEYS layout (siteKeys.list):
//
//	KEYS[1] users HASH, KEYS[2..5] userName/email/externalId/webflowId HASHes,
//	KEYS[6] the previous displayName ZSET (only records written before
//	KEYS[10] have entries there), KEYS[7] order ZSET, KEYS[8] seq STRING,
//	KEYS[9] names HASH (user id → userName, what a group member displays),
//	KEYS[10] displayName ZSET (member SCIM id, score dnScore)
//
// and reply with a table whose first element is a status word:
//
//	{"OK"} | {"EXISTS"} | {"NOTFOUND"} | {"MISMATCH", storedVersion}
//	| {"CONFLICT", indexNumber(1-4), holderID}
//
// They never lower-case anything themselves (Lua's string.lower is ASCII-only
// and would disagree with Go's strings.ToLower); the normalised index values
// of the new record come in ARGV and those of the stored record are read with
// cjson (storedValues): from its "_ix" object where the normalised value
// differs from the stored original, from the original otherwise. Go decides
// which is which (compactIx), so the scripts never compare or convert case.

// luaStored reads stored records; it is prepended to every user script.
const luaStored = `
local function str(v)
  if type(v) == 'string' and v ~= '' then return v end
  return nil
end

-- storedValues returns the normalised unique index values (1-4) and, for a
-- record written before the dnScore index, its displayName hash (the
-- prefix of its member of KEYS[6]; see encoding.go). A document without
-- "v" is of the previous format, whose _ix holds every value. In the compact
-- format _ix holds only the values that differ from the originals; an absent
-- "e" means the email is the userName, an absent "w" that the Webflow user id
-- is the SCIM id.
local function storedValues(id, doc)
  local ix = doc._ix
  if type(ix) ~= 'table' then ix = {} end
  if doc.v == nil then
    return {str(ix.userName), str(ix.email), str(ix.externalId), str(ix.webflowId)}, str(ix.displayName)
  end
  local email, wf = doc.e, doc.w
  if email == nil then email = doc.u end
  if wf == nil then wf = id end
  return {str(ix.userName) or str(doc.u), str(ix.email) or str(email), str(doc.x), str(wf)}, str(ix.displayName)
end

-- storedActive reports whether a stored record is active: "a" in the
-- compact format, "active" in the previous one.
local function storedActive(doc)
  if doc.v == nil then return doc.active == true end
  return doc.a == true
end

-- implicitHolder returns wf if the record whose SCIM id is wf holds the
-- Webflow user id wf without an index entry (see index), else nil. users is
-- the users HASH.
local function implicitHolder(users, wf)
  local cur = redis.call('HGET', users, wf)
  if not cur then return nil end
  local vals = storedValues(wf, cjson.decode(cur))
  if vals[4] == wf then return wf end
  return nil
end

-- implicitEmailHolder returns the SCIM id of the record that holds the
-- normalised email v without an index entry (see index): the record whose
-- userName is v, if its email is v too; else nil. users and userNames are
-- the users and userName index HASHes.
local function implicitEmailHolder(users, userNames, v)
  local id = redis.call('HGET', userNames, v)
  if not id then return nil end
  local cur = redis.call('HGET', users, id)
  if not cur then return nil end
  local vals = storedValues(id, cjson.decode(cur))
  if vals[2] == v then return id end
  return nil
end
`

// luaHelpers is prepended to the write scripts.
const luaHelpers = luaStored + `
-- conflicts returns a CONFLICT reply if a unique value in new (index 1-4)
-- belongs to a record other than id, also an email or a Webflow user id
-- held without an index entry.
local function conflicts(id, new)
  for i = 1, 4 do
    if new[i] then
      local holder = redis.call('HGET', KEYS[1 + i], new[i])
      if not holder and i == 2 then
        holder = implicitEmailHolder(KEYS[1], KEYS[2], new[i])
      end
      if not holder and i == 4 and new[i] ~= id then
        holder = implicitHolder(KEYS[1], new[i])
      end
      if holder and holder ~= id then
        return {'CONFLICT', tostring(i), holder}
      end
    end
  end
  return nil
end

-- unindex removes the stored record's entries that still point at id.
-- Entries owned by someone else are left alone.
local function unindex(id, doc)
  local old, dn = storedValues(id, doc)
  for i = 1, 4 do
    if old[i] and redis.call('HGET', KEYS[1 + i], old[i]) == id then
      redis.call('HDEL', KEYS[1 + i], old[i])
    end
  end
  if dn then redis.call('ZREM', KEYS[6], dn .. id) end
  redis.call('ZREM', KEYS[10], id)
end

-- index adds the entries of the new values. A Webflow user id equal to the
-- SCIM id (every user the bridge invites) gets no entry: the record under
-- that id says it holds it (implicitHolder), which saves an entry per user.
-- Nor does an email equal to the userName (normalised; most users): the
-- record the userName entry names says it holds it (implicitEmailHolder).
-- dn is the displayName's score (dnScore), nil without a displayName.
local function index(id, new, dn)
  for i = 1, 4 do
    if new[i] and not (i == 4 and new[i] == id) and not (i == 2 and new[i] == new[1]) then
      redis.call('HSET', KEYS[1 + i], new[i], id)
    end
  end
  if dn then redis.call('ZADD', KEYS[10], dn, id) end
end

-- replace stores the record ARGV[2] over cur, the stored document of id,
-- if cur is at version ARGV[9] (ARGV as replaceScript's). It returns nil
-- when stored (or already stored: cur is ARGV[2]), else the reply to give.
local function replace(id, cur)
  if cur == ARGV[2] then return nil end
  local doc = cjson.decode(cur)
  local version = doc.v or doc.version
  if tonumber(version) ~= tonumber(ARGV[9]) then
    return {'MISMATCH', tostring(version)}
  end
  local new = {str(ARGV[3]), str(ARGV[4]), str(ARGV[5]), str(ARGV[6])}
  local c = conflicts(id, new)
  if c then return c end
  unindex(id, doc)
  index(id, new, str(ARGV[7]))
  redis.call('HSET', KEYS[1], id, ARGV[2])
  redis.call('HSET', KEYS[9], id, ARGV[8])
  return nil
end
`

// createScript: ARGV = id, json, userName, email, externalId, webflowId,
// dnScore, the userName as given (the member display), and optionally a
// reservation token whose keys follow KEYS[10].
// A record byte-identical to ARGV[2] means this is go-redis re-sending our own
// successful create after a lost reply, so it reports OK instead of EXISTS.
const createScript = luaHelpers + `
-- release frees the create reservation KEYS[11..] still held with the
-- token suffix ARGV[9], once the record is stored (ReserveCreate).
local function release()
  local tok = ARGV[9]
  if not tok or tok == '' then return end
  for j = 11, #KEYS do
    local v = redis.call('GET', KEYS[j])
    if v and string.sub(v, -string.len(tok)) == tok then redis.call('DEL', KEYS[j]) end
  end
end
local id = ARGV[1]
local cur = redis.call('HGET', KEYS[1], id)
if cur then
  if cur == ARGV[2] then
    redis.call('HSET', KEYS[9], id, ARGV[8])
    release()
    return {'OK'}
  end
  return {'EXISTS'}
end
local new = {str(ARGV[3]), str(ARGV[4]), str(ARGV[5]), str(ARGV[6])}
local c = conflicts(id, new)
if c then return c end
index(id, new, str(ARGV[7]))
if not redis.call('ZSCORE', KEYS[7], id) then
  local seq = redis.call('INCR', KEYS[8])
  redis.call('ZADD', KEYS[7], seq, id)
end
redis.call('HSET', KEYS[1], id, ARGV[2])
redis.call('HSET', KEYS[9], id, ARGV[8])
release()
return {'OK'}
`

// replaceScript: ARGV = id, json, userName, email, externalId, webflowId,
// dnScore, the userName as given, expectedVersion. The old index values come from the stored
// document, never from the caller, so a stale caller cannot leave orphans.
const replaceScript = luaHelpers + `
local id = ARGV[1]
local cur = redis.call('HGET', KEYS[1], id)
if not cur then return {'NOTFOUND'} end
return replace(id, cur) or {'OK'}
`

// deleteScript: ARGV = id.
const deleteScript = luaHelpers + `
local id = ARGV[1]
local cur = redis.call('HGET', KEYS[1], id)
if not cur then return {'NOTFOUND'} end
unindex(id, cjson.decode(cur))
redis.call('ZREM', KEYS[7], id)
redis.call('HDEL', KEYS[1], id)
redis.call('HDEL', KEYS[9], id)
return {'OK'}
`

// findScript resolves a unique index value to {SCIM id, record JSON} in one
// round trip (the record does not repeat its id). KEYS[1] = index HASH,
// KEYS[2] = users HASH, KEYS[3] = userName index HASH (email only),
// ARGV[1] = normalised value, ARGV[2] = "1" for the webflowId index, "2"
// for the email index, whose values may be held without an entry (index).
// Replies nil (redis.Nil) when nothing matches.
const findScript = luaStored + `
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id and ARGV[2] == '1' then id = implicitHolder(KEYS[2], ARGV[1]) end
if not id and ARGV[2] == '2' then id = implicitEmailHolder(KEYS[2], KEYS[3], ARGV[1]) end
if not id then return false end
local doc = redis.call('HGET', KEYS[2], id)
if not doc then return false end
return {id, doc}
`

// scripts holds the compiled scripts per store; redis.Script only caches the
// SHA1 of its source, so sharing them across stores would be safe too, but
// keeping them per store avoids package-level state.
type scripts struct {
	create, replace, delete, find *redis.Script
}

func newScripts() scripts {
	return scripts{
		create:  redis.NewScript(createScript),
		replace: redis.NewScript(replaceScript),
		delete:  redis.NewScript(deleteScript),
		find:    redis.NewScript(findScript),
	}
}
