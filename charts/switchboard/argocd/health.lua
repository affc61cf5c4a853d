-- Argo CD health check for every Switchboard kind (switchboard.dev/*).
--
-- Reads the kstatus conditions every Switchboard resource has (Ready, Reconciling, Stalled) and
-- status.observedGeneration, in this order:
--   Suspended    spec.suspend is true
--   Progressing  no status yet, status.observedGeneration behind metadata.generation,
--                Reconciling=True, Ready missing or Unknown, or Ready=False for a passing reason
--   Degraded     Stalled=True (needs a fix: no retry until the resource or its Secret changes),
--                or Ready=False for any other reason
--   Healthy      Ready=True for the current generation
-- Install: docs/gitops.md (resource.customizations.health.switchboard.dev_<Kind>).
-- Written for Argo CD's Lua 5.1; tested against objects the controller wrote
-- (test/integration/health.test.ts).

local hs = {}

-- Ready=False reasons that pass on their own: the controller retries, nobody needs to act.
local passing = {
  ProgressingWithRetry = true,
  RateLimited = true,
  ProviderUnavailable = true,
  DestinationUnavailable = true,
  Timeout = true,
  DependencyNotReady = true,
  Progressing = true,
}

local function condition(conditions, type)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c == nil then
    return fallback
  end
  local text = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    if text ~= "" then
      text = text .. ": "
    end
    text = text .. c.message
  end
  if text == "" then
    return fallback
  end
  return text
end

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "Reconciliation is suspended (spec.suspend is true)"
  return hs
end

local status = obj.status
if status == nil or status.conditions == nil or #status.conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to report status"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe generation " .. tostring(generation)
  return hs
end

local stalled = condition(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "Stalled")
  return hs
end

local reconciling = condition(status.conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling, "Reconciling")
  return hs
end

local ready = condition(status.conditions, "Ready")
if ready == nil or ready.status == "Unknown" then
  hs.status = "Progressing"
  hs.message = describe(ready, "Waiting for the Ready condition")
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end
if passing[ready.reason] then
  hs.status = "Progressing"
else
  hs.status = "Degraded"
end
hs.message = describe(ready, "Not ready")
return hs
